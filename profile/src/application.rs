//! The application form (附件2 补贴性线上培训申请表) as a TOML file: the platform, the
//! institution (blended only), and each planned training line with its category, occupation,
//! level and headcount. The harness reads it to know what the platform claims.

use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::datafile::{DataFileError, Source};
use crate::types::Delivery;

/// The application form of the bundled reference platform.
pub const REFERENCE_APPLICATION: &str = include_str!("../applications/reference.toml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformEntry {
    /// 平台名称
    pub name: String,
    /// 网址
    pub url: String,
    /// 联系人及联系方式
    pub contact: String,
    /// The number of the platform in Annex 1 of the policy, whose approvals it claims.
    pub annex1_entry: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionEntry {
    /// 培训机构名称
    pub name: String,
    pub contact: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingLine {
    /// 计划培训时间
    #[serde(with = "toml_date")]
    pub period_start: NaiveDate,
    #[serde(with = "toml_date")]
    pub period_end: NaiveDate,
    /// 培训类别
    pub delivery: Delivery,
    /// 工种
    pub occupation: String,
    /// 等级
    pub level: String,
    /// 人次
    pub headcount: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    pub platform: PlatformEntry,
    /// 纯线上不填
    #[serde(default)]
    pub institution: Option<InstitutionEntry>,
    #[serde(rename = "training")]
    pub lines: Vec<TrainingLine>,
}

impl ApplicationForm {
    pub fn load(path: &Path) -> Result<ApplicationForm, DataFileError> {
        let text = Source::read(path)?;
        ApplicationForm::parse(path, &text)
    }

    /// The form of the bundled reference platform.
    pub fn reference() -> Result<ApplicationForm, DataFileError> {
        ApplicationForm::parse(Path::new("<builtin>/reference.toml"), REFERENCE_APPLICATION)
    }

    pub fn parse(file: &Path, text: &str) -> Result<ApplicationForm, DataFileError> {
        let source = Source { file, text };
        let form: ApplicationForm = source.parse()?;
        form.validate(&source)?;
        Ok(form)
    }

    /// 培训总人次
    pub fn total_headcount(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.headcount)).sum()
    }

    fn validate(&self, src: &Source<'_>) -> Result<(), DataFileError> {
        if self.platform.name.trim().is_empty() {
            return Err(src.invalid("platform", "name", "must not be empty"));
        }
        if self.lines.is_empty() {
            return Err(src.invalid("training", "", "the form lists no training line"));
        }
        for line in &self.lines {
            if line.headcount == 0 {
                return Err(src.invalid("training", "headcount", "must be at least 1"));
            }
            if line.period_end < line.period_start {
                return Err(src.invalid("training", "period_end", "ends before it starts"));
            }
            if line.occupation.trim().is_empty() {
                return Err(src.invalid("training", "occupation", "must not be empty"));
            }
        }
        let blended = self.lines.iter().any(|l| l.delivery == Delivery::Blended);
        match (&self.institution, blended) {
            (None, true) => Err(src.invalid(
                "institution",
                "name",
                "a blended training line needs the institution (培训机构名称)",
            )),
            (Some(_), false) => Err(src.invalid(
                "institution",
                "name",
                "pure-online training leaves the institution blank (纯线上不填)",
            )),
            _ => Ok(()),
        }
    }
}

/// Dates written as TOML local dates (`2022-06-01`) or as strings.
mod toml_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Date(toml::value::Datetime),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        let text = match Written::deserialize(deserializer)? {
            Written::Date(date) => date.to_string(),
            Written::Text(text) => text,
        };
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| {
            serde::de::Error::custom(format!("`{text}` is not a date like 2022-06-01: {e}"))
        })
    }

    pub fn serialize<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&date.format("%Y-%m-%d"))
    }
}
