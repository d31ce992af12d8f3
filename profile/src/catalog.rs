//! The requirement catalog (`profile/catalog.toml`): every requirement duxue judges, with its
//! clause, its text in Chinese and English, whether it is mandatory, and how it is judged.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::datafile::{DataFileError, Source};

/// The catalog shipped with duxue.
pub const BUILTIN_CATALOG: &str = include_str!("../catalog.toml");

/// Areas a requirement can belong to, in report order.
pub const AREAS: &[&str] = &[
    "identity",
    "playback",
    "capture",
    "enrolment",
    "composition",
    "supervision",
    "retention",
    "load",
    "security",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub area: String,
    /// The clause of the notice (`§三`, `附件1`…), or `mission` / `security`.
    pub source: String,
    /// The notice's own words, where the requirement is a clause.
    pub quote_zh: String,
    pub text_zh: String,
    pub text_en: String,
    pub mandatory: bool,
    pub judged_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub catalog_version: String,
    pub notice: String,
    #[serde(rename = "requirement")]
    pub requirements: Vec<Requirement>,
    /// SHA-256 of the file's bytes, hex; filled in by the loader.
    #[serde(skip)]
    pub sha256: String,
}

impl Catalog {
    /// The catalog shipped inside the binary.
    pub fn builtin() -> Result<Catalog, DataFileError> {
        Catalog::parse(Path::new("<builtin>/catalog.toml"), BUILTIN_CATALOG)
    }

    pub fn load(path: &Path) -> Result<Catalog, DataFileError> {
        let text = Source::read(path)?;
        Catalog::parse(path, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Catalog, DataFileError> {
        let source = Source { file, text };
        let mut catalog: Catalog = source.parse()?;
        catalog.validate(&source)?;
        catalog.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        Ok(catalog)
    }

    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().map(|r| r.id.as_str())
    }

    fn validate(&self, src: &Source<'_>) -> Result<(), DataFileError> {
        let mut seen = HashSet::new();
        for (index, req) in self.requirements.iter().enumerate() {
            let at = |key: &str, message: String| {
                let line = nth_requirement_line(src.text, index);
                src.error(line, format!("requirement[{index}].{key}"), message)
            };
            if !is_requirement_id(&req.id) {
                return Err(at("id", format!("`{}` is not of the form AB-1", req.id)));
            }
            if !seen.insert(req.id.as_str()) {
                return Err(at("id", format!("`{}` appears twice", req.id)));
            }
            if !AREAS.contains(&req.area.as_str()) {
                return Err(at(
                    "area",
                    format!("`{}` is not one of {}", req.area, AREAS.join(", ")),
                ));
            }
            for (key, value) in [
                ("source", &req.source),
                ("text_zh", &req.text_zh),
                ("text_en", &req.text_en),
                ("judged_by", &req.judged_by),
            ] {
                if value.trim().is_empty() {
                    return Err(at(key, format!("{} has an empty {key}", req.id)));
                }
            }
            let is_clause = req.source.starts_with('§') || req.source.starts_with("附件");
            if is_clause && req.quote_zh.trim().is_empty() {
                return Err(at(
                    "quote_zh",
                    format!("{} comes from a clause and must quote it", req.id),
                ));
            }
        }
        Ok(())
    }
}

fn is_requirement_id(id: &str) -> bool {
    let Some((prefix, number)) = id.split_once('-') else {
        return false;
    };
    (2..=3).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_uppercase())
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn nth_requirement_line(text: &str, index: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[requirement]]")
        .nth(index)
        .map_or(1, |(n, _)| n + 1)
}

/// The verdict on one requirement (PRODUCT.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Pass,
    Fail,
    /// Passed with a reservation; does not block certification.
    Warning,
    /// Not applicable to this target, with the reason.
    Skipped,
    /// No samples, or the target erred so the check could not decide. Never a pass.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warning => "WARNING",
            Verdict::Skipped => "SKIPPED",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }

    /// Whether this verdict lets a mandatory requirement count as met.
    pub fn allows_certification(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Warning | Verdict::Skipped)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
