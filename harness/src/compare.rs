//! `duxue report compare` and `certify --compare`: a certification set against a spot check
//! of the same platform (lab against road). The spot check's folder must be intact; its
//! `report.json` is copied beside the compared report, whose comparison names its SHA-256.

use std::path::{Path, PathBuf};

use duxue_reports::RunReport;
use duxue_reports::compare::{SPOT_CHECK_COPY, compare, report_sha256};
use duxue_reports::model::RunMode;

use crate::error::CannotRun;

/// A finished run read for comparison: its report and the bytes of its `report.json`.
pub struct SealedRun {
    pub report: RunReport,
    pub bytes: Vec<u8>,
}

/// Reads a sealed run folder of the given mode; refuses one that is not intact.
pub fn read_sealed(dir: &Path, mode: RunMode) -> Result<SealedRun, CannotRun> {
    let what = match mode {
        RunMode::Certify => "a certification (`duxue certify`)",
        RunMode::SpotCheck => "a spot check (`duxue spot-check`)",
    };
    let outcome = duxue_reports::verify_run(dir, None).map_err(|e| {
        CannotRun::new(
            format!("{}: {e}", dir.display()),
            format!("give the run folder of {what}"),
        )
    })?;
    if let Some(problem) = outcome.first_problem() {
        return Err(CannotRun::new(
            format!("{} is not intact: {problem}", dir.display()),
            format!(
                "give the sealed run folder of {what} as it was written (`duxue report verify` \
                 shows why)"
            ),
        ));
    }
    let report = duxue_reports::read_report(dir)
        .map_err(|e| CannotRun::new(e.to_string(), format!("give the run folder of {what}")))?;
    if report.mode != mode {
        return Err(CannotRun::new(
            format!(
                "{} is a {} run, not {what}",
                dir.display(),
                report.mode.as_str()
            ),
            "give the certification first and the spot check second",
        ));
    }
    let bytes = std::fs::read(dir.join("report.json")).map_err(|e| {
        CannotRun::new(
            format!("{}: {e}", dir.display()),
            format!("give the run folder of {what}"),
        )
    })?;
    Ok(SealedRun { report, bytes })
}

/// `report` compared with `spot`, and the spot check's report copied into `out`.
pub fn attach(report: &RunReport, spot: &SealedRun, out: &Path) -> Result<RunReport, CannotRun> {
    let compared = compare(report, &spot.report, report_sha256(&spot.bytes)).map_err(|e| {
        CannotRun::new(
            e.to_string(),
            "compare a certification and a spot check of one platform",
        )
    })?;
    let copy = out.join(SPOT_CHECK_COPY);
    if let Some(parent) = copy.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            CannotRun::new(
                format!("cannot create {}: {e}", parent.display()),
                "choose a writable --out",
            )
        })?;
    }
    std::fs::write(&copy, &spot.bytes).map_err(|e| {
        CannotRun::new(
            format!("cannot write {}: {e}", copy.display()),
            "check free disk space",
        )
    })?;
    Ok(compared)
}

/// `duxue report compare CERTIFY_RUN SPOTCHECK_RUN --out DIR`: copies the certification's
/// folder (but its seal) to `out`, adds the comparison, renders and seals it.
pub fn compare_runs(
    certify: &Path,
    spot_check: &Path,
    out: &Path,
    signing_key: Option<&Path>,
) -> Result<RunReport, CannotRun> {
    let lab = read_sealed(certify, RunMode::Certify)?;
    let road = read_sealed(spot_check, RunMode::SpotCheck)?;
    if out.exists() && std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(CannotRun::new(
            format!("{} is not empty", out.display()),
            "choose a new --out (runs are never overwritten)",
        ));
    }
    let files = duxue_reports::bundle::list_files(certify)
        .map_err(|e| CannotRun::new(e.to_string(), "give the run folder of a certification"))?;
    for file in files.iter().filter(|f| {
        !matches!(
            f.as_str(),
            duxue_reports::MANIFEST_FILE | duxue_reports::SIGNATURE_FILE
        )
    }) {
        let (from, to): (PathBuf, PathBuf) = (certify.join(file), out.join(file));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CannotRun::new(
                    format!("cannot create {}: {e}", parent.display()),
                    "choose a writable --out",
                )
            })?;
        }
        std::fs::copy(&from, &to).map_err(|e| {
            CannotRun::new(
                format!("cannot copy {}: {e}", from.display()),
                "check free disk space",
            )
        })?;
    }
    let compared = attach(&lab.report, &road, out)?;
    crate::certify::write_report(out, &compared, signing_key)?;
    Ok(compared)
}
