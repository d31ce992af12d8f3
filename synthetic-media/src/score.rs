//! Scoring a vendor's own face and liveness engine ("bring your own checker") on a labelled set
//! written by `duxue media generate`, from one accept/refuse decision per presentation, in the
//! vocabulary of ISO/IEC 30107-3 (presentation attack detection: BPCER, APCER per attack
//! species) and ISO/IEC 19795-1 (verification: FNMR, FMR). Every rate comes with its count and
//! a 95% bound (see `rates`).
//!
//! What a decision means, by the presentation's kind (`manifest.json`):
//! - `liveness`: the login is accepted (a live person answered this challenge and is the
//!   registered one, the genuine `face` of the same `identity_seed`);
//! - `capture`: the capture passes (the face is the registered one);
//! - `face`: the registration is accepted (the face matches the portrait of the `id_card` of
//!   the same `identity_seed`);
//! - `id_card` presentations are references only and take no decision.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::attack::Species;
use crate::dataset::{Manifest, ManifestEntry};
use crate::rates::Count;

/// A vendor's decision on one presentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Refuse,
}

/// Why a decision file cannot be scored.
#[derive(thiserror::Error, Debug, PartialEq)]
pub enum ScoreError {
    /// A line that is not `presentation,decision`.
    #[error("line {line}: {message}")]
    BadLine { line: usize, message: String },
    /// A decision for a presentation the set does not have.
    #[error(
        "line {line}: `{key}` is not a presentation of this set (an `id` of manifest.json or one of its files)"
    )]
    Unknown { line: usize, key: String },
    /// Two decisions for one presentation.
    #[error("line {line}: a second decision for presentation `{id}`")]
    Twice { line: usize, id: String },
    /// A decision for an ID card, which is a reference, not a presentation.
    #[error(
        "line {line}: `{id}` is an ID card, a reference for registrations; it takes no decision"
    )]
    Reference { line: usize, id: String },
    /// Presentations left without a decision.
    #[error("{missing} presentations have no decision (the first: `{first}`)")]
    Missing { missing: usize, first: String },
}

/// Reads a decision file: one `presentation,decision` line per presentation, where the
/// presentation is an `id` of the manifest (or any one of its files) and the decision is
/// `accept` or `refuse`. A first line `presentation,decision` (or any header whose second field
/// is not a decision), blank lines and lines starting with `#` are skipped.
pub fn read_decisions(
    manifest: &Manifest,
    text: &str,
) -> Result<BTreeMap<String, Decision>, ScoreError> {
    let mut by_key: BTreeMap<&str, &ManifestEntry> = BTreeMap::new();
    for e in &manifest.entries {
        by_key.insert(&e.id, e);
        for f in &e.files {
            by_key.insert(f, e);
        }
    }
    let mut out = BTreeMap::new();
    let mut first = true;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let trimmed = raw.trim().trim_start_matches('\u{feff}');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split(',').map(str::trim).collect();
        if fields.len() != 2 {
            return Err(ScoreError::BadLine {
                line,
                message: format!(
                    "expected `presentation,decision`, found {} fields",
                    fields.len()
                ),
            });
        }
        let header = std::mem::take(&mut first);
        let decision = match fields[1].to_ascii_lowercase().as_str() {
            "accept" => Decision::Accept,
            "refuse" => Decision::Refuse,
            _ if header => continue,
            other => {
                return Err(ScoreError::BadLine {
                    line,
                    message: format!("decision `{other}` is neither `accept` nor `refuse`"),
                });
            }
        };
        let key = fields[0].trim_start_matches("./");
        let entry = by_key.get(key).ok_or_else(|| ScoreError::Unknown {
            line,
            key: key.to_owned(),
        })?;
        if entry.kind == "id_card" {
            return Err(ScoreError::Reference {
                line,
                id: entry.id.clone(),
            });
        }
        if out.insert(entry.id.clone(), decision).is_some() {
            return Err(ScoreError::Twice {
                line,
                id: entry.id.clone(),
            });
        }
    }
    let missing: Vec<&str> = manifest
        .entries
        .iter()
        .filter(|e| e.kind != "id_card" && !out.contains_key(&e.id))
        .map(|e| e.id.as_str())
        .collect();
    if let Some(first) = missing.first() {
        return Err(ScoreError::Missing {
            missing: missing.len(),
            first: (*first).to_owned(),
        });
    }
    Ok(out)
}

/// The error rates of one engine on one set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    /// Bona fide liveness presentations refused (ISO/IEC 30107-3 BPCER).
    pub bpcer: Count,
    /// Attack presentations of each species accepted, in [`Species::ALL`] order (APCER; the
    /// other-person species is a live impostor, a zero-effort attack).
    pub apcer: [Count; 4],
    /// Genuine captures refused (FNMR of the capture face match).
    pub capture_fnmr: Count,
    /// Other persons' captures accepted (FMR of the capture face match).
    pub capture_fmr: Count,
    /// Genuine registrations refused (FNMR of the face against the ID-card portrait).
    pub registration_fnmr: Count,
    /// Other persons' faces accepted with an ID card (FMR of the registration match).
    pub registration_fmr: Count,
}

/// Scores decisions (from [`read_decisions`]) against the set's labels.
pub fn score(manifest: &Manifest, decisions: &BTreeMap<String, Decision>) -> Score {
    let mut s = Score::default();
    for e in &manifest.entries {
        let Some(&d) = decisions.get(&e.id) else {
            continue;
        };
        let accepted = d == Decision::Accept;
        match (e.kind.as_str(), e.species) {
            ("liveness", None) => s.bpcer.add(!accepted),
            ("liveness", Some(sp)) => {
                if let Some(k) = Species::ALL.iter().position(|x| *x == sp) {
                    s.apcer[k].add(accepted);
                }
            }
            ("capture", None) => s.capture_fnmr.add(!accepted),
            ("capture", Some(_)) => s.capture_fmr.add(accepted),
            ("face", None) => s.registration_fnmr.add(!accepted),
            ("face", Some(_)) => s.registration_fmr.add(accepted),
            _ => {}
        }
    }
    s
}

impl Score {
    /// Every measure with its name, in the order of the table.
    pub fn rows(&self) -> Vec<(String, Count)> {
        let mut rows = vec![("BPCER  bona fide liveness refused".to_owned(), self.bpcer)];
        for (k, sp) in Species::ALL.iter().enumerate() {
            let what = match sp {
                Species::OtherPerson => "other-person (live impostor)".to_owned(),
                sp => format!("{} attack", sp.as_str()),
            };
            rows.push((format!("APCER  {what} accepted"), self.apcer[k]));
        }
        rows.push((
            "FNMR   genuine capture refused".to_owned(),
            self.capture_fnmr,
        ));
        rows.push((
            "FMR    other person's capture accepted".to_owned(),
            self.capture_fmr,
        ));
        rows.push((
            "FNMR   genuine registration refused".to_owned(),
            self.registration_fnmr,
        ));
        rows.push((
            "FMR    other face with the ID card accepted".to_owned(),
            self.registration_fmr,
        ));
        rows
    }

    /// The scores as a text table: each measure's errors and presentations, the rate, and its
    /// 95% bound (two-sided Clopper–Pearson; the rule of three, 3/n, when there is no error).
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{:<44} {:>6} {:>7} {:>8}  95% bound",
            "measure (ISO/IEC 30107-3, 19795-1)", "errors", "of", "rate"
        );
        for (name, c) in self.rows() {
            let rate = if c.total == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}%", c.rate() * 100.0)
            };
            let bound = match (c.total, c.errors, c.clopper_pearson_95()) {
                (0, _, _) | (_, _, None) => "no presentations".to_owned(),
                (n, 0, _) => format!(
                    "≤ {:.2}% (rule of three, 3/{n})",
                    c.upper_95().unwrap_or(1.0) * 100.0
                ),
                (_, _, Some((lo, hi))) => {
                    format!("[{:.2}%, {:.2}%] (Clopper–Pearson)", lo * 100.0, hi * 100.0)
                }
            };
            let _ = writeln!(
                t,
                "{name:<44} {:>6} {:>7} {rate:>8}  {bound}",
                c.errors, c.total
            );
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, kind: &str, species: Option<Species>) -> ManifestEntry {
        ManifestEntry {
            id: id.into(),
            kind: kind.into(),
            label: if species.is_some() {
                "attack"
            } else {
                "genuine"
            }
            .into(),
            species,
            identity_seed: 1,
            shown_seed: 1,
            name: "n".into(),
            id_number: "x".into(),
            challenge: None,
            files: if kind == "liveness" {
                vec![format!("media/{id}-00.jpg"), format!("media/{id}-01.jpg")]
            } else {
                vec![format!("media/{id}.jpg")]
            },
        }
    }

    fn set() -> Manifest {
        Manifest {
            seed: 1,
            per_class: 1,
            entries: vec![
                entry("f", "face", None),
                entry("c", "id_card", None),
                entry("g", "liveness", None),
                entry("p", "liveness", Some(Species::Print)),
                entry("k", "capture", None),
            ],
        }
    }

    #[test]
    fn decisions_by_id_or_file_with_a_header() {
        let text = "presentation,decision\nf,accept\nmedia/g-01.jpg,refuse\n# comment\n\np,accept\nk , Accept\n";
        let d = read_decisions(&set(), text).expect("decisions");
        assert_eq!(d.len(), 4);
        assert_eq!(d["g"], Decision::Refuse);
        let s = score(&set(), &d);
        assert_eq!((s.bpcer.errors, s.bpcer.total), (1, 1));
        assert_eq!((s.apcer[0].errors, s.apcer[0].total), (1, 1));
        assert_eq!((s.capture_fnmr.errors, s.capture_fnmr.total), (0, 1));
        assert!(s.table().contains("rule of three"), "{}", s.table());
    }

    #[test]
    fn bad_decision_files_say_what_is_wrong() {
        let m = set();
        assert!(matches!(
            read_decisions(&m, "f,accept\nzz,accept\n"),
            Err(ScoreError::Unknown { line: 2, .. })
        ));
        assert!(matches!(
            read_decisions(&m, "f,accept\nf,refuse\n"),
            Err(ScoreError::Twice { line: 2, .. })
        ));
        assert!(matches!(
            read_decisions(&m, "f,accept\ng,maybe\n"),
            Err(ScoreError::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            read_decisions(&m, "c,accept\n"),
            Err(ScoreError::Reference { line: 1, .. })
        ));
        assert!(matches!(
            read_decisions(&m, "f,accept\n"),
            Err(ScoreError::Missing { missing: 3, .. })
        ));
    }
}
