//! Lab against road: a certification set against a spot check of the same platform. Every
//! requirement that passed in the conformance cohort and failed on production is DIVERGENT —
//! the mark of a platform that enforces its controls where it knows it is tested — and the
//! compared report is NOT_CERTIFIED whatever else passed.

use duxue_profile::Verdict;
use sha2::{Digest, Sha256};

use crate::model::{ComparedRequirement, ComparedRun, Comparison, RunMode, RunReport, RunVerdict};

/// Where the spot check's `report.json` is copied beside a compared report.
pub const SPOT_CHECK_COPY: &str = "spot-check/report.json";

/// Two reports that cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{0} is a {1} run, not a {2}")]
    WrongMode(&'static str, &'static str, &'static str),
    #[error("the runs are of different platforms ({0} and {1})")]
    OtherPlatform(String, String),
    #[error("the certification is already compared with spot check {0}")]
    AlreadyCompared(String),
    #[error("{0} was interrupted before it finished: it proves nothing to compare")]
    Interrupted(&'static str),
}

/// Whether a requirement passed in the lab and failed on the road.
pub fn divergent(lab: Verdict, road: Verdict) -> bool {
    matches!(lab, Verdict::Pass | Verdict::Warning) && road == Verdict::Fail
}

/// SHA-256 (hex) of a report file's bytes.
pub fn report_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The certification `lab` compared with the spot check `road` (whose `report.json` has
/// SHA-256 `road_sha256`): the comparison added and the verdict NOT_CERTIFIED when anything
/// diverged.
pub fn compare(
    lab: &RunReport,
    road: &RunReport,
    road_sha256: String,
) -> Result<RunReport, CompareError> {
    if lab.mode != RunMode::Certify {
        return Err(CompareError::WrongMode(
            "the first run",
            lab.mode.as_str(),
            "certification",
        ));
    }
    if road.mode != RunMode::SpotCheck {
        return Err(CompareError::WrongMode(
            "the second run",
            road.mode.as_str(),
            "spot check",
        ));
    }
    for (which, run) in [("the certification", lab), ("the spot check", road)] {
        if run.verdict == RunVerdict::Interrupted {
            return Err(CompareError::Interrupted(which));
        }
    }
    if let Some(done) = &lab.comparison {
        return Err(CompareError::AlreadyCompared(
            done.spot_check.run_id.clone(),
        ));
    }
    let (a, b) = (
        &lab.run.target.platform_name,
        &road.run.target.platform_name,
    );
    if a != b {
        return Err(CompareError::OtherPlatform(a.clone(), b.clone()));
    }
    let requirements: Vec<ComparedRequirement> = lab
        .requirements
        .iter()
        .map(|r| {
            let on_road = road.requirements.iter().find(|x| x.id == r.id);
            let road_verdict = on_road.map_or(Verdict::Skipped, |x| x.verdict);
            let split = divergent(r.verdict, road_verdict);
            ComparedRequirement {
                id: r.id.clone(),
                lab: r.verdict,
                road: road_verdict,
                divergent: split,
                road_reason: on_road.filter(|_| split).map(|x| x.reason.clone()),
            }
        })
        .collect();
    let divergent: Vec<String> = requirements
        .iter()
        .filter(|r| r.divergent)
        .map(|r| r.id.clone())
        .collect();
    let mut compared = lab.clone();
    if !divergent.is_empty() {
        compared.verdict = RunVerdict::NotCertified;
    }
    compared.comparison = Some(Comparison {
        certify_verdict: lab.verdict,
        spot_check: ComparedRun {
            run_id: road.run.run_id.clone(),
            started_at: road.run.started_at,
            target_url: road.run.target.url.clone(),
            verdict: road.verdict,
            report_sha256: road_sha256,
        },
        divergent,
        requirements,
    });
    Ok(compared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lab_pass_and_road_fail_diverge() {
        assert!(divergent(Verdict::Pass, Verdict::Fail));
        assert!(divergent(Verdict::Warning, Verdict::Fail));
        for (lab, road) in [
            (Verdict::Pass, Verdict::Pass),
            (Verdict::Pass, Verdict::Skipped),
            (Verdict::Pass, Verdict::Inconclusive),
            (Verdict::Fail, Verdict::Fail),
            (Verdict::Skipped, Verdict::Fail),
            (Verdict::Inconclusive, Verdict::Fail),
        ] {
            assert!(!divergent(lab, road), "{lab:?} {road:?}");
        }
    }
}
