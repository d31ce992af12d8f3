//! Judging a spot check: what real time let the accounts try, set against what the platform
//! did. Each requirement is judged from the sittings, login trials, token trials and
//! supervisor views the run collected; one with no sample is INCONCLUSIVE, never PASS, and one
//! real time cannot reach is SKIPPED with the reason.

use std::collections::BTreeMap;
use std::time::Duration;

use duxue_profile::{CaptureState, LiveStatus, Verdict};
use duxue_scenarios::learner::{StudyLog, TwoWindows};
use duxue_scenarios::probes::{check_honest_credited, check_not_overcredited, round};
use duxue_scenarios::{Judge, Outcome, ProbeContext};
use tokio::time::Instant;

use super::road::{LoginTrial, Sitting, SittingRecord, TrialResult};

/// One thing the platform had to do (mostly: refuse a request), and whether it did.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// The check as the report names it, e.g. "a forged token on GET /me is refused".
    pub check: String,
    /// `Some(true)` held, `Some(false)` broken, `None` the target did not answer.
    pub held: Option<bool>,
    pub detail: String,
}

/// An image a supervisor fetched, compared with what the account sent.
#[derive(Clone, Debug)]
pub struct ImageCheck {
    pub what: String,
    pub same: Option<bool>,
    pub detail: String,
}

impl ImageCheck {
    /// A supervisor's image list that could not be read: a refusal is a failed check.
    pub fn unlisted(what: String, e: &duxue_profile::ClientError) -> ImageCheck {
        ImageCheck {
            what,
            same: e.is_refusal().then_some(false),
            detail: e.to_string(),
        }
    }
}

/// A completion-export line of one account, with what the account's ledger allows.
#[derive(Clone, Debug)]
pub struct ExportLine {
    pub account: usize,
    pub exported: Option<f64>,
    pub exported_hours: Option<u32>,
    pub progress: f64,
    /// Credited seconds when the spot check began.
    pub baseline: f64,
    pub creditable: f64,
    pub slack: f64,
}

/// Everything a spot check saw.
#[derive(Debug, Default)]
pub struct Observations {
    pub sittings: Vec<SittingRecord>,
    pub trials: Vec<(usize, TrialResult)>,
    /// SC-2: revoked, missing and forged tokens.
    pub tokens: Vec<Expectation>,
    /// SC-3: another learner's data with a learner token.
    pub isolation: Vec<Expectation>,
    /// SV-3: what scoped supervisors and learner tokens saw of the supervision views.
    pub scope: Vec<Expectation>,
    /// Whether a scoped (enterprise or institution) supervisor account was given.
    pub scoped_accounts: usize,
    /// SV-2: live status polls, `(when, learner id → status)`.
    pub polls: Vec<(Instant, BTreeMap<String, LiveStatus>)>,
    /// BC-3: the state supervisors see of each capture an account cheated at.
    pub capture_states: BTreeMap<String, CaptureState>,
    /// SV-5.
    pub images: Vec<ImageCheck>,
    /// SV-7.
    pub exports: Vec<ExportLine>,
    /// Steps that failed on the target's side (transport, malformed answers).
    pub errors: Vec<String>,
}

/// The requirements a spot check can judge in real time, and why the others are skipped.
pub const JUDGED: &[&str] = &[
    "ID-3", "ID-4", "ID-5", "PB-1", "PB-2", "PB-3", "PB-4", "PB-5", "BC-1", "BC-3", "SV-2", "SV-3",
    "SV-5", "SV-7", "SC-1", "SC-2", "SC-3",
];

/// Why a requirement is not judged on the road.
pub fn skipped_reason(id: &str) -> &'static str {
    match id {
        "ID-1" | "ID-2" => {
            "needs registrations a bureau would not make on production (invalid ID numbers, \
             another person's face): covered by certify"
        }
        "PB-6" | "BC-2" => {
            "needs many class hours or lessons completed in order, longer than a spot check: \
             covered by certify"
        }
        "EN-1" | "EN-2" | "EN-3" | "EN-4" | "CD-1" | "CD-2" | "SV-8" => {
            "needs courses, classes or assessments made through a conformance tenant: covered by \
             certify"
        }
        "SV-1" | "SV-4" => {
            "needs supervisor accounts of every kind, made through a conformance tenant: covered \
             by certify"
        }
        "SV-6" => {
            "needs a cast of cheats large enough for a self-check to judge: covered by certify"
        }
        "RT-1" => "needs a clock jump of three years: covered by certify",
        "LD-1" | "LD-2" => "needs a peak load, which a spot check must not put on production",
        "SC-4" => "a spot check touches no conformance endpoint: covered by certify",
        _ => "not judged by a spot check: covered by certify",
    }
}

fn of<'a>(
    o: &'a Observations,
    wanted: impl Fn(&Sitting) -> bool + 'a,
) -> impl Iterator<Item = &'a SittingRecord> + 'a {
    o.sittings.iter().filter(move |s| wanted(&s.sitting))
}

/// A sitting's log with the credit the platform gave the sitting itself and its ledger, for
/// the probes' credit checks (which read a log's `credited` and `creditable`).
fn as_sitting(s: &SittingRecord) -> StudyLog {
    let mut log = s.log.clone();
    log.credited = s.credited;
    log.creditable = s.creditable;
    log
}

fn who(s: &SittingRecord) -> String {
    format!(
        "account {} ({} sitting, lesson {})",
        s.account + 1,
        s.sitting.name(),
        s.lesson_id
    )
}

/// Honest sittings: the platform must credit what they studied (a false FAIL guard).
fn honest_controls(j: &mut Judge, ctx: &ProbeContext, o: &Observations) {
    let mut n = 0;
    for s in of(o, |s| *s == Sitting::Honest).filter(|s| s.log.acks > 0) {
        check_honest_credited(j, ctx, &who(s), &as_sitting(s));
        n += 1;
    }
    j.figure("honest_sittings", n);
}

/// Cheating sittings of one kind: none may be credited beyond its ledger.
fn not_overcredited(
    j: &mut Judge,
    o: &Observations,
    kind: &str,
    wanted: impl Fn(&Sitting) -> bool,
    attempted: impl Fn(&SittingRecord) -> bool,
) -> usize {
    let mut tried = 0;
    for s in of(o, wanted) {
        if !attempted(s) {
            continue;
        }
        tried += 1;
        check_not_overcredited(j, &who(s), &as_sitting(s));
    }
    j.figure(&format!("{kind}.sittings"), tried);
    if tried == 0 {
        j.undecided(
            format!("{kind} sittings"),
            "no such sitting got far enough within the duration to cheat",
        );
    }
    tried
}

/// PB-1: every drag forward earns nothing; honest sittings are credited.
pub fn pb1(ctx: &ProbeContext, o: &Observations) -> Outcome {
    let mut j = Judge::new("PB-1");
    honest_controls(&mut j, ctx, o);
    not_overcredited(
        &mut j,
        o,
        "seek",
        |s| matches!(s, Sitting::Seek { .. }),
        |s| match s.sitting {
            Sitting::Seek { after, .. } => s.log.elapsed > after + s.log.credit_slack(),
            _ => false,
        },
    );
    j.figure(
        "seek.refused",
        of(o, |s| matches!(s, Sitting::Seek { .. }))
            .filter(|s| s.log.refused_with(&duxue_profile::ErrorCode::SeekForbidden))
            .count(),
    );
    j.finish()
}

/// PB-2: no sped-up sitting is credited beyond its ledger or the time it took.
pub fn pb2(o: &Observations) -> Outcome {
    let mut j = Judge::new("PB-2");
    let speed = |s: &Sitting| matches!(s, Sitting::SpeedUp { .. });
    not_overcredited(&mut j, o, "speed-up", speed, |s| s.log.heartbeats_sent > 1);
    for s in of(o, speed).filter(|s| s.log.heartbeats_sent > 1) {
        let Sitting::SpeedUp { rate, speed } = s.sitting else {
            continue;
        };
        j.check(
            format!(
                "{} declaring rate {rate} while its position runs ×{speed} is credited no more \
                 than the time it took",
                who(s)
            ),
            s.credited <= s.elapsed + s.slack,
            format!("credited {:.1} s in {:.1} s", s.credited, s.elapsed),
        );
    }
    j.finish()
}

/// PB-3: two windows never play at once and never earn twice.
pub fn pb3(o: &Observations) -> Outcome {
    let mut j = Judge::new("PB-3");
    let mut overlapped = 0;
    for s in of(o, |s| *s == Sitting::SecondWindow) {
        let Some(windows) = &s.windows else {
            continue;
        };
        if *windows == TwoWindows::NotOverlapped {
            continue;
        }
        overlapped += 1;
        let second = s.second.as_ref();
        j.check(
            format!(
                "{}: two windows never play at once (the second is refused or the first stopped)",
                who(s)
            ),
            *windows != TwoWindows::BothPlayed,
            format!(
                "{windows:?}; first window {} answers, second {} answers, second's start {:?}",
                s.log.acks,
                second.map_or(0, |b| b.acks),
                second.and_then(|b| b.start_refused.as_ref())
            ),
        );
        j.check(
            format!(
                "{}: credit over both windows never exceeds the time",
                who(s)
            ),
            s.credited <= s.elapsed + s.slack,
            format!(
                "credited {:.1} s over two windows in {:.1} s",
                s.credited, s.elapsed
            ),
        );
    }
    j.figure("second_window.sittings", overlapped);
    if overlapped == 0 {
        j.undecided(
            "second-window sittings",
            "no second window opened while the first still played",
        );
    }
    j.finish()
}

/// PB-4: no stretch of an attentive sitting longer than the bound goes without a popup.
pub fn pb4(ctx: &ProbeContext, o: &Observations) -> Outcome {
    let mut j = Judge::new("PB-4");
    let bound = f64::from(ctx.policy.rules.popup_max_gap_seconds.value);
    let mut gaps = Vec::new();
    let mut popups = 0;
    let mut played = 0.0;
    let attentive = |s: &Sitting| matches!(s, Sitting::Honest | Sitting::AutoClick { .. });
    for s in of(o, attentive) {
        let start = s.log.playback.as_ref().map_or(0.0, |p| p.start_position);
        let mut last = start;
        for popup in s.log.popups() {
            gaps.push((popup.position - last, who(s)));
            last = popup.position;
            popups += 1;
        }
        if s.log.final_position - last > bound {
            gaps.push((s.log.final_position - last, who(s)));
        }
        played += (s.log.final_position - start).max(0.0);
    }
    let largest = gaps
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .cloned()
        .unwrap_or((0.0, String::new()));
    j.figure("popups_seen", popups);
    j.figure("playback_seconds", round(played));
    j.figure("largest_gap_seconds", round(largest.0));
    j.figure("gap_bound_seconds", bound);
    if popups < 2 && largest.0 <= bound {
        j.undecided(
            "popup gaps",
            format!("only {popups} popups in {played:.0} s of playback"),
        );
    } else {
        j.check(
            "no stretch of playback longer than the bound goes without a popup",
            largest.0 <= bound + 1.0,
            format!(
                "largest gap {:.1} s of playback (bound {bound:.0} s, {}), {popups} popups",
                largest.0, largest.1
            ),
        );
    }
    j.finish()
}

/// PB-5: an idler who ignores popups and a silent player earn nothing for it.
pub fn pb5(ctx: &ProbeContext, o: &Observations) -> Outcome {
    let mut j = Judge::new("PB-5");
    let window = f64::from(ctx.policy.rules.popup_answer_window_seconds.value);
    not_overcredited(
        &mut j,
        o,
        "idle",
        |s| *s == Sitting::Idle,
        |s| {
            s.log
                .popups()
                .any(|p| !p.answered && s.log.elapsed - p.seen_at > window)
        },
    );
    not_overcredited(
        &mut j,
        o,
        "silent",
        |s| matches!(s, Sitting::Silent { .. }),
        |s| match s.sitting {
            Sitting::Silent { after, length } => s.log.elapsed > after + length,
            _ => false,
        },
    );
    j.finish()
}

/// BC-1: every class hour the accounts played through had its capture. Every sitting counts,
/// cheating or not: what matters is the content the platform accepted as played (a refused
/// seek is not played; an accepted one is, and its class hour owes a capture all the same).
pub fn bc1(ctx: &ProbeContext, o: &Observations) -> Outcome {
    let mut j = Judge::new("BC-1");
    let hour = ctx.policy.class_hour_seconds();
    let required = ctx.policy.rules.captures_per_class_hour_min.value as usize;
    /// What the sittings of one account played of one lesson, and the captures seen.
    #[derive(Default)]
    struct Played {
        spans: Vec<(f64, f64)>,
        captures: Vec<f64>,
        lesson_seconds: f64,
    }
    let mut played: BTreeMap<(usize, String), Played> = BTreeMap::new();
    for s in &o.sittings {
        let Some(playback) = &s.log.playback else {
            continue;
        };
        let entry = played.entry((s.account, s.lesson_id.clone())).or_default();
        entry.lesson_seconds = playback.lesson_seconds;
        entry
            .spans
            .push((playback.start_position, s.log.final_position));
        entry.captures.extend(
            s.log
                .captures()
                .chain(s.second.iter().flat_map(|b| b.captures()))
                .map(|c| c.position),
        );
    }
    let mut hours_checked = 0;
    for ((account, lesson), played) in played {
        let Played {
            mut spans,
            captures,
            lesson_seconds,
        } = played;
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut index = 0.0;
        while index * hour < lesson_seconds {
            let (start, end) = (index * hour, ((index + 1.0) * hour).min(lesson_seconds));
            index += 1.0;
            if !covered(&spans, start, end - 1.0) {
                continue;
            }
            hours_checked += 1;
            let seen = captures
                .iter()
                .filter(|p| **p >= start - 15.0 && **p < end + 15.0)
                .count();
            j.check(
                format!(
                    "account {} lesson {lesson} class hour {:.0} ({start:.0}–{end:.0} s) had at \
                     least {required} capture(s)",
                    account + 1,
                    index - 1.0
                ),
                seen >= required,
                format!("{seen} capture requests"),
            );
        }
    }
    j.figure("class_hours_played_through", hours_checked);
    if hours_checked == 0 {
        j.undecided(
            "class hours",
            "no class hour was played through within the duration",
        );
    }
    j.finish()
}

/// Whether the spans cover `[from, to]` without a gap.
fn covered(spans: &[(f64, f64)], from: f64, to: f64) -> bool {
    let mut reach = from;
    for (a, b) in spans {
        if *a <= reach + 1.0 && *b > reach {
            reach = *b;
        }
        if reach >= to {
            return true;
        }
    }
    reach >= to
}

/// BC-3: a class hour whose capture showed another person, or was never answered, earns
/// nothing and is flagged to supervisors.
pub fn bc3(ctx: &ProbeContext, o: &Observations) -> Outcome {
    let mut j = Judge::new("BC-3");
    let hour = ctx.policy.class_hour_seconds();
    let capture_window = f64::from(ctx.policy.rules.capture_answer_window_seconds.value);
    let mut tried = 0;
    for s in of(o, |s| {
        matches!(s, Sitting::CaptureSpoof | Sitting::CaptureIgnored)
    }) {
        let spoof = s.sitting == Sitting::CaptureSpoof;
        let cheated = s.log.captures().find(|c| {
            if spoof {
                c.answered && c.image_sha256.is_some()
            } else {
                !c.answered || s.log.elapsed - c.seen_at > capture_window
            }
        });
        let Some(capture) = cheated else {
            continue;
        };
        if !spoof && s.log.elapsed - capture.seen_at <= capture_window {
            continue;
        }
        tried += 1;
        let index = (capture.position / hour).floor() as u32;
        let credited = s
            .hours_after
            .iter()
            .find(|h| h.index == index)
            .map_or(0.0, |h| h.credited_seconds);
        j.check(
            format!("{}: class hour {index} is credited nothing", who(s)),
            credited <= s.slack,
            format!("credited {credited:.1} s (slack {:.1} s)", s.slack),
        );
        match o.capture_states.get(&capture.event_id) {
            Some(state) => {
                j.check(
                    format!("{}: the capture is flagged to supervisors", who(s)),
                    matches!(state, CaptureState::Failed | CaptureState::Missed),
                    format!("listed as {state:?}"),
                );
            }
            None => {
                j.check(
                    format!("{}: the capture is flagged to supervisors", who(s)),
                    false,
                    "not in the supervisor's capture list",
                );
            }
        }
    }
    j.figure("capture_cheats", tried);
    if tried == 0 {
        j.undecided(
            "capture cheats",
            "no capture came during a capture-cheating sitting within the duration",
        );
    }
    j.finish()
}

/// ID-3 and ID-4 from the login trials.
pub fn login_trials(id: &'static str, o: &Observations) -> Outcome {
    let mut j = Judge::new(id);
    let wanted = |t: &LoginTrial| match id {
        "ID-4" => matches!(t, LoginTrial::Spoof(_)),
        _ => !matches!(t, LoginTrial::Spoof(_)),
    };
    let mut n = 0;
    for (account, t) in o.trials.iter().filter(|(_, t)| wanted(&t.trial)) {
        n += 1;
        let name = format!("account {}: {} is refused", account + 1, t.trial.describe());
        match t.refused {
            Some(refused) => {
                j.check(name, refused, t.detail.clone());
            }
            None => j.undecided(name, t.detail.clone()),
        }
    }
    j.figure("trials", n);
    if id == "ID-3" {
        let logins = o.sittings.len();
        j.figure("sittings_after_a_liveness_login", logins);
    }
    if n == 0 {
        j.undecided("login trials", "no trial was made within the duration");
    }
    j.finish()
}

/// ID-5: a second device never leaves two live sessions.
pub fn id5(o: &Observations) -> Outcome {
    let mut j = Judge::new("ID-5");
    let mut n = 0;
    for s in of(o, |s| *s == Sitting::SecondDevice) {
        let Some(device) = &s.device else { continue };
        match (device.first_live, device.second_live) {
            (Some(first), Some(second)) => {
                n += 1;
                j.check(
                    format!("{}: at most one session is live", who(s)),
                    !(first && second),
                    device.detail.clone(),
                );
                j.check(
                    format!("{}: one session still works", who(s)),
                    first || second,
                    device.detail.clone(),
                );
            }
            _ => j.undecided(format!("{}: second device", who(s)), device.detail.clone()),
        }
    }
    j.figure("second_device.sittings", n);
    j.figure(
        "second_device.logins_refused",
        of(o, |s| *s == Sitting::SecondDevice)
            .filter(|s| s.device.as_ref().is_some_and(|d| d.refused.is_some()))
            .count(),
    );
    if n == 0 {
        j.undecided("second-device sittings", "no second login was made");
    }
    j.finish()
}

/// A requirement judged from what the platform had to do (mostly: refuse requests).
pub fn expectations(id: &'static str, samples: &[Expectation], none: &str) -> Outcome {
    let mut j = Judge::new(id);
    for e in samples {
        match e.held {
            Some(held) => {
                j.check(e.check.clone(), held, e.detail.clone());
            }
            None => j.undecided(e.check.clone(), e.detail.clone()),
        }
    }
    j.figure("trials", samples.len());
    j.figure(
        "held",
        samples.iter().filter(|e| e.held == Some(true)).count(),
    );
    if samples.is_empty() {
        j.undecided("trials", none.to_owned());
    }
    j.finish()
}

/// SV-3: scoped accounts see only their own; learner tokens open no supervision view.
pub fn sv3(o: &Observations) -> Outcome {
    let mut outcome = expectations("SV-3", &o.scope, "no scope trial was made");
    if o.scoped_accounts == 0 && outcome.verdict != Verdict::Fail {
        outcome.verdict = Verdict::Inconclusive;
        outcome.reason = "no enterprise or institution supervisor account was given \
            (--supervisor), so what a scoped account sees could not be judged"
            .into();
    }
    outcome.figures.insert(
        "scoped_accounts".into(),
        serde_json::Value::from(o.scoped_accounts),
    );
    outcome
}

/// SV-2: a sitting shows as studying, and its end as not studying, within the bound.
pub fn sv2(ctx: &ProbeContext, o: &Observations) -> Outcome {
    let mut j = Judge::new("SV-2");
    let bound = ctx.policy.judging.supervisor_freshness_seconds.value;
    let mut starts = Vec::new();
    let mut stops = Vec::new();
    for s in o.sittings.iter().filter(|s| s.log.acks > 0) {
        let Some(started) = s.log.start_accepted_at else {
            continue;
        };
        // Start: the first poll after the start that shows the learner studying, while the
        // sitting lasted longer than the bound.
        if s.ended.duration_since(started) > Duration::from_secs_f64(bound) {
            let seen = o
                .polls
                .iter()
                .filter(|(at, _)| *at >= started && *at <= s.ended)
                .find(|(_, st)| st.get(&s.learner_id) == Some(&LiveStatus::Studying));
            let latency = seen.map(|(at, _)| at.duration_since(started).as_secs_f64());
            starts.push(latency.unwrap_or(f64::INFINITY));
            j.check(
                format!("{}: shown as studying within the bound", who(s)),
                latency.is_some_and(|l| l <= bound),
                match latency {
                    Some(l) => format!("{l:.1} s (bound {bound:.0} s)"),
                    None => "never shown as studying".into(),
                },
            );
        }
        // Stop: the first poll after the end showing it not studying, unless the account
        // started again within the bound.
        let next_start = o
            .sittings
            .iter()
            .filter(|n| n.account == s.account && n.started > s.ended)
            .map(|n| n.started)
            .min();
        if next_start.is_some_and(|n| n.duration_since(s.ended).as_secs_f64() <= bound * 2.0) {
            continue;
        }
        if o.polls
            .last()
            .is_none_or(|(at, _)| at.saturating_duration_since(s.ended).as_secs_f64() <= bound)
        {
            continue;
        }
        let seen = o
            .polls
            .iter()
            .filter(|(at, _)| *at >= s.ended)
            .find(|(_, st)| st.get(&s.learner_id) != Some(&LiveStatus::Studying));
        let latency = seen.map(|(at, _)| at.duration_since(s.ended).as_secs_f64());
        stops.push(latency.unwrap_or(f64::INFINITY));
        j.check(
            format!("{}: no longer shown as studying within the bound", who(s)),
            latency.is_some_and(|l| l <= bound),
            match latency {
                Some(l) => format!("{l:.1} s (bound {bound:.0} s)"),
                None => "still shown as studying".into(),
            },
        );
    }
    let largest = |v: &[f64]| v.iter().copied().fold(0.0_f64, f64::max);
    j.figure("polls", o.polls.len());
    j.figure("freshness_bound_seconds", bound);
    j.figure("starts_seen", starts.len());
    j.figure("stops_seen", stops.len());
    if !starts.is_empty() {
        j.figure("start_visible_after_seconds_max", round(largest(&starts)));
    }
    if !stops.is_empty() {
        j.figure("stop_visible_after_seconds_max", round(largest(&stops)));
    }
    if starts.is_empty() && stops.is_empty() {
        j.undecided(
            "live status",
            "no sitting lasted past the bound while the supervisor watched",
        );
    }
    j.finish()
}

/// SV-5: images come back byte for byte.
pub fn sv5(o: &Observations) -> Outcome {
    let mut j = Judge::new("SV-5");
    for image in &o.images {
        match image.same {
            Some(same) => {
                j.check(
                    format!("{} is retrievable as sent", image.what),
                    same,
                    image.detail.clone(),
                );
            }
            None => j.undecided(image.what.clone(), image.detail.clone()),
        }
    }
    j.figure("images_compared", o.images.len());
    if o.images.is_empty() {
        j.undecided(
            "images",
            "no capture or liveness image was listed to compare",
        );
    }
    j.finish()
}

/// SV-7: the completion export agrees with progress and never exceeds the ledger.
pub fn sv7(ctx: &ProbeContext, o: &Observations) -> Outcome {
    let mut j = Judge::new("SV-7");
    let hour = ctx.policy.class_hour_seconds();
    for line in &o.exports {
        let name = format!("account {}", line.account + 1);
        let Some(exported) = line.exported else {
            j.check(
                format!("{name} is in its class's completion export"),
                false,
                "missing",
            );
            continue;
        };
        j.check(
            format!("{name}'s exported credit equals its credited time"),
            (exported - line.progress).abs() <= 1.0,
            format!("export {exported:.1} s, progress {:.1} s", line.progress),
        );
        if let Some(hours) = line.exported_hours {
            j.check(
                format!("{name}'s exported class hours follow from its credited time"),
                hours == (line.progress / hour).floor() as u32,
                format!("export {hours} class hours for {:.1} s", line.progress),
            );
        }
        j.check(
            format!("{name}'s exported credit grew no more than it legitimately studied"),
            exported - line.baseline <= line.creditable + line.slack,
            format!(
                "export grew {:.1} s during the spot check, creditable {:.1} s (slack {:.1} s)",
                exported - line.baseline,
                line.creditable,
                line.slack
            ),
        );
    }
    j.figure("accounts_exported", o.exports.len());
    if o.exports.is_empty() {
        j.undecided("completion export", "no account's class could be exported");
    }
    j.finish()
}

/// SC-1: HTTPS for a target off this machine; `reached` is the address the spot check's
/// connection reached (a name that resolves to loopback is loopback, whatever it is called).
pub fn sc1(target: &str, reached: Option<std::net::IpAddr>) -> Outcome {
    let mut j = Judge::new("SC-1");
    if target.to_ascii_lowercase().starts_with("https://") {
        // The spot check reached the target's /meta before it began: the answer came over TLS.
        j.check(
            "the target answers over HTTPS",
            true,
            format!("{target} answered /meta"),
        );
    } else {
        duxue_scenarios::probes::judge_plain_http(&mut j, target, reached, None);
    }
    j.finish()
}
