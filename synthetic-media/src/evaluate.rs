//! Measuring the reference verifier on freshly generated presentations (ISO/IEC 30107-3
//! vocabulary): BPCER, APCER per attack species, and face-match FNMR and FMR.

use crate::attack::{Species, attack_frames};
use crate::card::id_card_image;
use crate::face::{capture_image, face_image};
use crate::identity::identity;
use crate::liveness::{liveness_frames, new_challenge};
use crate::rng;
use crate::verify::{
    FaceTemplate, MATCH_THRESHOLD, check_liveness, face_template, face_template_from_id_card,
    match_score,
};
use std::fmt::Write as _;

/// Bound on BPCER and on every species' APCER.
pub const MAX_ERROR_RATE: f64 = 0.01;
/// Bound on face-match FNMR.
pub const MAX_FNMR: f64 = 0.01;
/// Bound on face-match FMR.
pub const MAX_FMR: f64 = 0.001;

pub use crate::rates::Count;

/// The results of one evaluation run.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// People per class.
    pub per_class: usize,
    /// The run's seed.
    pub seed: u64,
    /// Genuine liveness answers rejected.
    pub bpcer: Count,
    /// Attacks accepted, per species (in [`Species::ALL`] order).
    pub apcer: [Count; 4],
    /// Genuine captures not matching their registration photo.
    pub fnmr: Count,
    /// Captures matching somebody else's registration photo (all pairs).
    pub fmr: Count,
    /// ID-card portraits not matching the registration photo (information only).
    pub card_fnmr: Count,
    /// Lowest genuine capture match score and highest impostor score.
    pub genuine_min: f32,
    /// Highest impostor match score.
    pub impostor_max: f32,
    /// Highest moiré score of a genuine answer.
    pub genuine_moire_max: f32,
    /// Lowest moiré score of a screen attack.
    pub screen_moire_min: f32,
    /// Some reasons for errors, for the record.
    pub notes: Vec<String>,
}

struct Part {
    bpcer: Count,
    apcer: [Count; 4],
    fnmr: Count,
    card_fnmr: Count,
    genuine_min: f32,
    genuine_moire_max: f32,
    screen_moire_min: f32,
    regs: Vec<Option<FaceTemplate>>,
    caps: Vec<Option<FaceTemplate>>,
    notes: Vec<String>,
}

/// The seed of person `i` of a run (public for debugging tools).
pub fn person_seed(seed: u64, i: usize) -> u64 {
    rng::mix(seed ^ 0xE7A1_0000_0000_0000, i as u64)
}

/// The generator of the challenge issued to a person during an evaluation.
pub fn challenge_rng(person: u64) -> rand_chacha::ChaCha8Rng {
    rng::rng(person, "evaluation-challenge")
}

fn run_part(seed: u64, range: std::ops::Range<usize>) -> Part {
    let mut p = Part {
        bpcer: Count::default(),
        apcer: [Count::default(); 4],
        fnmr: Count::default(),
        card_fnmr: Count::default(),
        genuine_min: f32::MAX,
        genuine_moire_max: 0.0,
        screen_moire_min: f32::MAX,
        regs: Vec::new(),
        caps: Vec::new(),
        notes: Vec::new(),
    };
    for i in range {
        let who = identity(person_seed(seed, i));
        let reg = face_template(&face_image(&who, 1)).ok();
        let cap = face_template(&capture_image(&who, 2)).ok();
        let score = match (&reg, &cap) {
            (Some(r), Some(c)) => match_score(r, c),
            _ => 0.0,
        };
        p.genuine_min = p.genuine_min.min(score);
        p.fnmr.add(score < MATCH_THRESHOLD);
        if score < MATCH_THRESHOLD {
            p.notes
                .push(format!("person {i}: capture score {score:.3}"));
        }
        let card = face_template_from_id_card(&id_card_image(&who, 3)).ok();
        let card_score = match (&reg, &card) {
            (Some(r), Some(c)) => match_score(r, c),
            _ => 0.0,
        };
        p.card_fnmr.add(card_score < MATCH_THRESHOLD);
        let Some(r) = reg.clone() else {
            p.notes.push(format!(
                "person {i}: no template from the registration photo"
            ));
            p.bpcer.add(true);
            for c in p.apcer.iter_mut() {
                c.add(false);
            }
            p.regs.push(reg);
            p.caps.push(cap);
            continue;
        };
        let ch = new_challenge(&mut challenge_rng(who.seed));
        let genuine = check_liveness(&liveness_frames(&who, &ch, 5), &ch, &r);
        let ok = genuine.as_ref().is_ok_and(|d| d.accepted);
        if let Ok(d) = &genuine {
            p.genuine_moire_max = p.genuine_moire_max.max(d.moire);
        }
        p.bpcer.add(!ok);
        if !ok {
            p.notes.push(format!(
                "person {i}: genuine rejected: {:?}",
                genuine.map(|d| d.reason)
            ));
        }
        for (k, sp) in Species::ALL.iter().enumerate() {
            let d = check_liveness(&attack_frames(*sp, &who, &ch, 5), &ch, &r);
            let accepted = d.as_ref().is_ok_and(|d| d.accepted);
            if let (Species::Screen, Ok(d)) = (sp, &d) {
                p.screen_moire_min = p.screen_moire_min.min(d.moire);
            }
            p.apcer[k].add(accepted);
            if accepted {
                p.notes.push(format!(
                    "person {i}: {} accepted: {:?}",
                    sp.as_str(),
                    d.ok()
                ));
            }
        }
        p.regs.push(reg);
        p.caps.push(cap);
    }
    p
}

/// Generates `per_class` people and, for each, a genuine answer and one answer of each attack
/// species, plus a registration photo, a capture and an ID card; runs the verifier on all of
/// it on `threads` threads.
pub fn evaluate(per_class: usize, seed: u64, threads: usize) -> Evaluation {
    let threads = threads.clamp(1, 64);
    let chunk = per_class.div_ceil(threads).max(1);
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..per_class)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(per_class);
                s.spawn(move || run_part(seed, start..end))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut e = Evaluation {
        per_class,
        seed,
        genuine_min: f32::MAX,
        screen_moire_min: f32::MAX,
        ..Default::default()
    };
    let mut regs = Vec::new();
    let mut caps = Vec::new();
    for p in parts {
        e.bpcer.merge(p.bpcer);
        for k in 0..4 {
            e.apcer[k].merge(p.apcer[k]);
        }
        e.fnmr.merge(p.fnmr);
        e.card_fnmr.merge(p.card_fnmr);
        e.genuine_min = e.genuine_min.min(p.genuine_min);
        e.genuine_moire_max = e.genuine_moire_max.max(p.genuine_moire_max);
        e.screen_moire_min = e.screen_moire_min.min(p.screen_moire_min);
        regs.extend(p.regs);
        caps.extend(p.caps);
        e.notes.extend(p.notes);
    }
    // every capture against every other person's registration
    let mut max = 0.0f32;
    for (j, c) in caps.iter().enumerate() {
        for (i, r) in regs.iter().enumerate() {
            if i == j {
                continue;
            }
            if let (Some(c), Some(r)) = (c, r) {
                let s = match_score(r, c);
                max = max.max(s);
                e.fmr.add(s >= MATCH_THRESHOLD);
                if s >= MATCH_THRESHOLD && e.notes.len() < 200 {
                    e.notes
                        .push(format!("capture {j} matched registration {i} ({s:.3})"));
                }
            }
        }
    }
    e.impostor_max = max;
    e
}

impl Evaluation {
    /// Whether every bound holds.
    pub fn within_bounds(&self) -> bool {
        self.bpcer.rate() <= MAX_ERROR_RATE
            && self.apcer.iter().all(|c| c.rate() <= MAX_ERROR_RATE)
            && self.fnmr.rate() <= MAX_FNMR
            && self.fmr.rate() <= MAX_FMR
    }

    /// The results as a text table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "duxue-media reference verifier: {} per class, seed {}",
            self.per_class, self.seed
        );
        let _ = writeln!(
            t,
            "{:<34} {:>10} {:>8} {:>9} {:>9}  verdict",
            "measure", "trials", "errors", "rate", "bound"
        );
        let mut row = |name: &str, c: Count, bound: Option<f64>| {
            let verdict = match bound {
                Some(b) if c.rate() <= b => "ok",
                Some(_) => "BROKEN",
                None => "(info)",
            };
            let b = bound.map_or("-".to_string(), |b| format!("{:.2}%", b * 100.0));
            let _ = writeln!(
                t,
                "{name:<34} {:>10} {:>8} {:>8.3}% {:>9}  {verdict}",
                c.total,
                c.errors,
                c.rate() * 100.0,
                b
            );
        };
        row(
            "BPCER (bona fide rejected)",
            self.bpcer,
            Some(MAX_ERROR_RATE),
        );
        for (k, sp) in Species::ALL.iter().enumerate() {
            row(
                &format!("APCER {}", sp.as_str()),
                self.apcer[k],
                Some(MAX_ERROR_RATE),
            );
        }
        row("FNMR capture vs registration", self.fnmr, Some(MAX_FNMR));
        row("FMR all impostor pairs", self.fmr, Some(MAX_FMR));
        row("FNMR ID card vs registration", self.card_fnmr, None);
        let _ = writeln!(
            t,
            "match threshold {MATCH_THRESHOLD}; lowest genuine capture score {:.3}; highest impostor score {:.3}",
            self.genuine_min, self.impostor_max
        );
        let _ = writeln!(
            t,
            "screen-pattern score: highest genuine {:.1}, lowest screen attack {:.1}",
            self.genuine_moire_max, self.screen_moire_min
        );
        let _ = writeln!(
            t,
            "{}",
            if self.within_bounds() {
                "all bounds hold"
            } else {
                "BOUNDS BROKEN"
            }
        );
        t
    }
}
