//! duxue-reports: renders a finished run folder from its files alone (and the built-in
//! catalog), so any old run can be rendered again; seals the folder into a signed evidence
//! bundle and verifies one. The harness decides; this crate only renders and seals.
//!
//! - [`render_run`]: `report.html`, `summary.md`, `junit.xml` from `report.json`;
//! - [`seal_run`]: render, then `manifest.json` (SHA-256 of every file) and `manifest.sig`;
//! - [`verify_run`]: check a sealed folder's hashes and signature.

pub mod bundle;
pub mod compare;
pub mod evidence;
pub mod hlog;
pub mod html;
pub mod junit;
pub mod model;
pub mod schema;
pub mod summary;
pub mod svg;

use std::path::Path;

pub use bundle::{
    KeyError, MANIFEST_FILE, Manifest, Problem, SIGNATURE_FILE, SealError, Sealed,
    SigningKeySource, VerifyError, VerifyOutcome, find_secrets, generate_key_file, read_public_key,
    read_signing_key, seal_run, verify_run,
};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use model::{Interruption, REPORT_SCHEMA, RunReport, RunVerdict};
pub use schema::{REPORT_JSON_SCHEMA, validate_report_json};

/// A run folder could not be read or rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: not a duxue report: {message}")]
    Format { path: String, message: String },
    #[error("junit: {0}")]
    Junit(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> RenderError {
    RenderError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Decodes a JSON document of a run folder; an error names the field it broke (a dotted
/// path, `.` for the whole document) in one line.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        format!(
            "field `{}`: {}",
            e.path(),
            e.inner().to_string().replace('\n', " ")
        )
    })?;
    deserializer
        .end()
        .map_err(|e| format!("after the document: {e}"))?;
    Ok(value)
}

/// Reads `report.json` of a run folder.
pub fn read_report(dir: &Path) -> Result<RunReport, RenderError> {
    let path = dir.join("report.json");
    let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
    let report: RunReport = parse_json(&bytes).map_err(|message| RenderError::Format {
        path: path.display().to_string(),
        message,
    })?;
    if report.schema != REPORT_SCHEMA {
        return Err(RenderError::Format {
            path: path.display().to_string(),
            message: format!(
                "schema {} (this duxue renders {REPORT_SCHEMA})",
                report.schema
            ),
        });
    }
    if (report.verdict == RunVerdict::Interrupted) != report.interrupted.is_some() {
        return Err(RenderError::Format {
            path: path.display().to_string(),
            message: "field `interrupted`: present exactly when the verdict is INTERRUPTED"
                .to_owned(),
        });
    }
    Ok(report)
}

/// The report file's name in the run folder.
pub const REPORT_FILE: &str = "report.json";
/// Where [`write_report_json`] writes before it renames.
const REPORT_TMP: &str = "report.json.partial";

/// Writes `report.json` whole or not at all (a new file renamed over the old one), so that a
/// run killed while writing it keeps the previous version.
pub fn write_report_json(dir: &Path, report: &RunReport) -> Result<(), RenderError> {
    let json = serde_json::to_vec_pretty(report).map_err(|e| RenderError::Format {
        path: dir.join(REPORT_FILE).display().to_string(),
        message: e.to_string(),
    })?;
    let tmp = dir.join(REPORT_TMP);
    std::fs::write(&tmp, json).map_err(|e| io(&tmp, e))?;
    let path = dir.join(REPORT_FILE);
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
}

/// Brings the report of an interrupted run up to date with its evidence journal: the requests
/// it holds, the evidence of each requirement, and a last line cut short by the death of the
/// process (dropped from the journal and counted). Other reports are left as they are.
fn complete_interrupted(dir: &Path, report: &mut RunReport) -> Result<(), RenderError> {
    let Some(interruption) = report.interrupted.as_mut() else {
        return Ok(());
    };
    let Some(journal) = bundle::safe_join(dir, &report.run.evidence_journal) else {
        return Err(RenderError::Format {
            path: dir.join(REPORT_FILE).display().to_string(),
            message: format!(
                "field `run.evidence_journal`: {} is not a path inside the run folder",
                report.run.evidence_journal
            ),
        });
    };
    if !journal.exists() {
        return Ok(());
    }
    let count = evidence::count_journal(&journal, true)?;
    interruption.torn_journal_lines += count.torn_lines;
    report.run.requests = count.lines;
    for requirement in &mut report.requirements {
        if let Some(tag) = count.tags.get(&requirement.id) {
            requirement.evidence = vec![model::EvidenceRef {
                journal: report.run.evidence_journal.clone(),
                tag: requirement.id.clone(),
                first_seq: Some(tag.first_seq),
                last_seq: Some(tag.last_seq),
                exchanges: tag.exchanges,
            }];
        }
    }
    write_report_json(dir, report)
}

/// Writes `summary.md`, `junit.xml` and `report.html` of a run folder from its `report.json`
/// (and the population's histogram log, when there is one). Does not seal: see [`seal_run`].
/// An interrupted run's report is first brought up to date with its journal.
pub fn render_run(dir: &Path) -> Result<RunReport, RenderError> {
    let mut report = read_report(dir)?;
    complete_interrupted(dir, &mut report)?;
    let stale = dir.join(REPORT_TMP);
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| io(&stale, e))?;
    }
    let summary = dir.join("summary.md");
    std::fs::write(&summary, summary::render(&report)).map_err(|e| io(&summary, e))?;
    let junit_path = dir.join("junit.xml");
    let xml = junit::render(&report).map_err(|e| RenderError::Junit(e.to_string()))?;
    std::fs::write(&junit_path, xml).map_err(|e| io(&junit_path, e))?;
    let html_path = dir.join(HTML_FILE);
    let context = html_context(dir, &report)?;
    std::fs::write(&html_path, html::render(&report, &context)).map_err(|e| io(&html_path, e))?;
    Ok(report)
}

/// The HTML report's file name in the run folder.
pub const HTML_FILE: &str = "report.html";

/// The folder's files (for the evidence index), the latency log and the catalog.
fn html_context(dir: &Path, report: &RunReport) -> Result<html::HtmlContext, RenderError> {
    let mut files = Vec::new();
    for path in bundle::list_files(dir).map_err(|e| io(dir, e))? {
        if path == HTML_FILE {
            continue;
        }
        let full = dir.join(&path);
        let size = std::fs::metadata(&full).map_err(|e| io(&full, e))?.len();
        files.push((path, size));
    }
    let latency = report
        .population
        .as_ref()
        .and_then(|p| p.histogram_log.as_deref())
        .map(|log| {
            let Some(path) = bundle::safe_join(dir, log) else {
                return Err(format!("{log} is not a path inside the run folder"));
            };
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            hlog::read(&bytes).map_err(|e| e.to_string())
        });
    Ok(html::HtmlContext {
        files,
        latency,
        catalog: duxue_profile::Catalog::builtin().ok(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use duxue_profile::Verdict;

    use super::*;
    use crate::model::{RequirementResult, RunIdentity, TargetInfo};

    fn requirement(id: &str, verdict: Verdict) -> RequirementResult {
        RequirementResult {
            id: id.into(),
            area: "playback".into(),
            source: "§三".into(),
            text_zh: "不得快进".into(),
            text_en: "No seeking".into(),
            mandatory: true,
            verdict,
            reason: format!("{id} reason <&>"),
            figures: BTreeMap::new(),
            checks: Vec::new(),
            evidence: Vec::new(),
            wall_seconds: 1.5,
        }
    }

    fn report(requirements: Vec<RequirementResult>) -> RunReport {
        let now = chrono::Utc::now();
        RunReport {
            schema: REPORT_SCHEMA.into(),
            mode: Default::default(),
            verdict: RunReport::decide(&requirements),
            counts: RunReport::count(&requirements),
            run: RunIdentity {
                run_id: "r".into(),
                started_at: now,
                finished_at: now,
                wall_seconds: 3.0,
                seed: 1,
                run_nonce: 7,
                clock_scale: 60.0,
                learners: 0,
                target: TargetInfo {
                    url: "http://127.0.0.1:1".into(),
                    embedded: true,
                    platform_name: "p".into(),
                    operator: "o".into(),
                    profile_version: "v1".into(),
                    defects: Vec::new(),
                    variants: Vec::new(),
                },
                harness_version: "0".into(),
                profile_version: "v1".into(),
                catalog_version: "1".into(),
                catalog_sha256: "ab".into(),
                policy_id: "xuchang-2022".into(),
                policy_sha256: "cd".into(),
                application: serde_json::Value::Null,
                requests: 0,
                evidence_journal: "evidence/journal.jsonl".into(),
                shard: None,
                merged: None,
            },
            requirements,
            population: None,
            comparison: None,
            interrupted: None,
        }
    }

    #[test]
    fn a_failure_or_an_inconclusive_blocks_certification() {
        let pass = vec![
            requirement("PB-1", Verdict::Pass),
            requirement("SC-1", Verdict::Skipped),
        ];
        assert_eq!(report(pass).verdict, RunVerdict::Certified);
        let inconclusive = vec![
            requirement("PB-1", Verdict::Pass),
            requirement("LD-1", Verdict::Inconclusive),
        ];
        assert_eq!(report(inconclusive).verdict, RunVerdict::NotCertified);
        assert_eq!(RunReport::decide(&[]), RunVerdict::NotCertified);
    }

    #[test]
    fn junit_has_one_case_per_requirement_and_failure_messages() {
        let r = report(vec![
            requirement("PB-1", Verdict::Fail),
            requirement("PB-2", Verdict::Pass),
            requirement("LD-1", Verdict::Inconclusive),
        ]);
        let xml = junit::render(&r).expect("renders");
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert!(
            xml.contains("failures=\"1\"") && xml.contains("errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("PB-1 reason &lt;&amp;&gt;"), "{xml}");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("report.json"),
            serde_json::to_vec(&r).expect("json"),
        )
        .expect("write");
        let again = render_run(dir.path()).expect("renders from the folder alone");
        assert_eq!(again, r);
        let summary = std::fs::read_to_string(dir.path().join("summary.md")).expect("summary");
        assert!(
            summary.contains("NOT CERTIFIED") && summary.contains("1 FAIL"),
            "{summary}"
        );
    }
}
