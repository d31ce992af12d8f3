//! duxue-reports: renders a finished run folder from its files alone, so any old run can be
//! rendered again. The harness decides; this crate only renders.

pub mod junit;
pub mod model;
pub mod summary;

use std::path::Path;

pub use model::{REPORT_SCHEMA, RunReport, RunVerdict};

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

/// Reads `report.json` of a run folder.
pub fn read_report(dir: &Path) -> Result<RunReport, RenderError> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let report: RunReport = serde_json::from_str(&text).map_err(|e| RenderError::Format {
        path: path.display().to_string(),
        message: e.to_string(),
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
    Ok(report)
}

/// Writes `summary.md` and `junit.xml` of a run folder from its `report.json`.
pub fn render_run(dir: &Path) -> Result<RunReport, RenderError> {
    let report = read_report(dir)?;
    let summary = dir.join("summary.md");
    std::fs::write(&summary, summary::render(&report)).map_err(|e| io(&summary, e))?;
    let junit_path = dir.join("junit.xml");
    let xml = junit::render(&report).map_err(|e| RenderError::Junit(e.to_string()))?;
    std::fs::write(&junit_path, xml).map_err(|e| io(&junit_path, e))?;
    Ok(report)
}
