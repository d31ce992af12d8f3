//! The JSON Schema (draft 2020-12) of `report.json`, shipped as `reports/report.schema.json`,
//! and a validator for it. The schema is strict (no unknown fields), so a field added to the
//! model without the schema is caught by the tests.

use serde_json::Value;

/// `reports/report.schema.json`.
pub const REPORT_JSON_SCHEMA: &str = include_str!("../report.schema.json");

/// The schema itself is broken (a bug of this crate, caught by its tests).
#[derive(Debug, thiserror::Error)]
#[error("report.schema.json: {0}")]
pub struct SchemaError(String);

/// Validates a parsed `report.json` against the schema; `Ok(problems)` lists every violation
/// as "`/json/pointer`: message" (empty when valid).
pub fn validate_report_json(report: &Value) -> Result<Vec<String>, SchemaError> {
    let schema: Value =
        serde_json::from_str(REPORT_JSON_SCHEMA).map_err(|e| SchemaError(e.to_string()))?;
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| SchemaError(e.to_string()))?;
    Ok(validator
        .iter_errors(report)
        .map(|e| format!("`{}`: {e}", e.instance_path()))
        .collect())
}
