//! Policies: the numbers of one jurisdiction and year (`profile/policies/*.toml`), each with its
//! source in the notice or marked as a harness default with a reason, plus the pure-online
//! occupation list and Annex 1's platform approvals. Loaded and validated before any run.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::datafile::{DataFileError, Source};

/// The value `source` takes for a number the notice does not give.
pub const HARNESS_DEFAULT: &str = "harness-default";

/// Policies shipped inside the binary, by id.
pub const BUILTIN: &[(&str, &str)] = &[(
    "xuchang-2022",
    include_str!("../policies/xuchang-2022.toml"),
)];

/// One number with where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule<T> {
    pub value: T,
    /// A clause of the notice (`§三`, `附件1`…) or [`HARNESS_DEFAULT`].
    pub source: String,
    /// Why the value is what it is; required for harness defaults.
    #[serde(default)]
    pub reason: Option<String>,
}

impl<T> Rule<T> {
    pub fn is_harness_default(&self) -> bool {
        self.source == HARNESS_DEFAULT
    }
}

/// The notice's controls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub class_hour_minutes: Rule<u32>,
    pub popup_max_gap_seconds: Rule<u32>,
    pub popup_answer_window_seconds: Rule<u32>,
    pub captures_per_class_hour_min: Rule<u32>,
    pub capture_answer_window_seconds: Rule<u32>,
    pub heartbeat_max_gap_seconds: Rule<u32>,
    /// Bounds on the heartbeat interval a platform asks for (cohort seconds).
    pub heartbeat_interval_min_seconds: Rule<f64>,
    pub heartbeat_interval_max_seconds: Rule<f64>,
    /// How far a position may lead the content watched plus the elapsed cohort time without
    /// being a seek: a fixed part, and wall seconds counted at the cohort's clock scale.
    pub seek_tolerance_seconds: Rule<f64>,
    pub seek_tolerance_wall_seconds: Rule<f64>,
    pub liveness_challenge_ttl_seconds: Rule<u32>,
    pub retention_years: Rule<u32>,
    pub cooldown_months: Rule<u32>,
    pub blended_online_share_max: Rule<f64>,
    pub general_share_min: Rule<f64>,
    pub general_share_max: Rule<f64>,
    pub barred_years: Rule<u32>,
    /// Calendar dates (cooldown months) are counted in this offset east of UTC, in minutes.
    pub calendar_utc_offset_minutes: Rule<u32>,
    /// Images narrower or lower than this are unusable (`invalid_image`).
    pub image_min_side_pixels: Rule<u32>,
    /// A platform accepts request bodies up to at least this size (duxue sends no larger one).
    pub upload_limit_min_bytes: Rule<u64>,
}

/// Thresholds the harness judges with where the notice gives no number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judging {
    pub honest_denied_seconds_per_class_hour: Rule<f64>,
    pub supervisor_freshness_seconds: Rule<f64>,
    pub self_check_honest_flag_share_max: Rule<f64>,
    pub capture_offset_stddev_share_min: Rule<f64>,
    pub capture_offset_repeat_chance_min: Rule<f64>,
    pub capture_offset_uniformity_chance_min: Rule<f64>,
    pub capture_class_hours_sampled: Rule<u32>,
    pub biometric_attack_trials: Rule<u32>,
    pub biometric_pass_through_rate_max: Rule<f64>,
    pub self_check_learners_per_behaviour: Rule<u32>,
}

/// Latency and error budgets at peak load (LD-1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    pub heartbeat_p99_ms: Rule<u64>,
    pub login_p99_ms: Rule<u64>,
    pub other_p99_ms: Rule<u64>,
    pub error_rate_max: Rule<f64>,
}

/// §二: occupations that may be trained purely online.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PureOnline {
    pub source: String,
    pub occupations: Vec<String>,
}

/// One platform of Annex 1 with its approved occupations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annex1Entry {
    pub number: u32,
    pub operator: String,
    pub platform: String,
    pub url: String,
    pub occupations: Vec<String>,
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub policy_version: u32,
    pub id: String,
    pub jurisdiction_zh: String,
    pub jurisdiction_en: String,
    pub year: u32,
    pub notice: String,
    pub rules: Rules,
    pub judging: Judging,
    pub budgets: Budgets,
    pub pure_online: PureOnline,
    pub annex1: Vec<Annex1Entry>,
    /// SHA-256 of the file's bytes, hex; filled in by the loader.
    #[serde(skip)]
    pub sha256: String,
}

/// One rule seen generically, for validation and for reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleView<'a> {
    pub table: &'static str,
    pub key: &'static str,
    pub value: f64,
    pub source: &'a str,
    pub reason: Option<&'a str>,
}

macro_rules! views {
    ($out:ident, $table:literal, $owner:expr, [$($key:ident),* $(,)?]) => {
        $($out.push(RuleView {
            table: $table,
            key: stringify!($key),
            value: $owner.$key.value as f64,
            source: &$owner.$key.source,
            reason: $owner.$key.reason.as_deref(),
        });)*
    };
}

impl Policy {
    /// Loads a policy from a file.
    pub fn load(path: &Path) -> Result<Policy, DataFileError> {
        let text = Source::read(path)?;
        Policy::parse(path, &text)
    }

    /// Parses and validates policy text; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Policy, DataFileError> {
        let source = Source { file, text };
        let mut policy: Policy = source.parse()?;
        policy.validate(&source)?;
        policy.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        Ok(policy)
    }

    /// A policy shipped with duxue, by id.
    pub fn builtin(id: &str) -> Option<Result<Policy, DataFileError>> {
        BUILTIN
            .iter()
            .find(|(name, _)| *name == id)
            .map(|(name, text)| Policy::parse(Path::new(&format!("<builtin>/{name}.toml")), text))
    }

    /// A file path if it exists, else a built-in id; the error says which ids exist.
    pub fn resolve(name_or_path: &str) -> Result<Policy, DataFileError> {
        let path = Path::new(name_or_path);
        if path.exists() {
            return Policy::load(path);
        }
        Policy::builtin(name_or_path).unwrap_or_else(|| {
            let known: Vec<_> = BUILTIN.iter().map(|(id, _)| *id).collect();
            Err(DataFileError::Unreadable {
                file: path.to_owned(),
                message: format!(
                    "no such file, and not a built-in policy (built-in: {})",
                    known.join(", ")
                ),
            })
        })
    }

    /// Every number of the policy with its source, in file order.
    pub fn rule_views(&self) -> Vec<RuleView<'_>> {
        let mut out = Vec::new();
        let r = &self.rules;
        views!(
            out,
            "rules",
            r,
            [
                class_hour_minutes,
                popup_max_gap_seconds,
                popup_answer_window_seconds,
                captures_per_class_hour_min,
                capture_answer_window_seconds,
                heartbeat_max_gap_seconds,
                heartbeat_interval_min_seconds,
                heartbeat_interval_max_seconds,
                seek_tolerance_seconds,
                seek_tolerance_wall_seconds,
                liveness_challenge_ttl_seconds,
                retention_years,
                cooldown_months,
                blended_online_share_max,
                general_share_min,
                general_share_max,
                barred_years,
                calendar_utc_offset_minutes,
                image_min_side_pixels,
                upload_limit_min_bytes,
            ]
        );
        let j = &self.judging;
        views!(
            out,
            "judging",
            j,
            [
                honest_denied_seconds_per_class_hour,
                supervisor_freshness_seconds,
                self_check_honest_flag_share_max,
                capture_offset_stddev_share_min,
                capture_offset_repeat_chance_min,
                capture_offset_uniformity_chance_min,
                capture_class_hours_sampled,
                biometric_attack_trials,
                biometric_pass_through_rate_max,
                self_check_learners_per_behaviour,
            ]
        );
        let b = &self.budgets;
        views!(
            out,
            "budgets",
            b,
            [heartbeat_p99_ms, login_p99_ms, other_p99_ms, error_rate_max]
        );
        out
    }

    /// The policy's calendar time zone (a fixed offset east of UTC).
    pub fn calendar_offset(&self) -> chrono::FixedOffset {
        let seconds = i64::from(self.rules.calendar_utc_offset_minutes.value) * 60;
        chrono::FixedOffset::east_opt(seconds.min(i64::from(i32::MAX)) as i32)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC is an offset"))
    }

    /// The class-hour length in seconds.
    pub fn class_hour_seconds(&self) -> f64 {
        f64::from(self.rules.class_hour_minutes.value) * 60.0
    }

    /// The heartbeat interval a client keeps when a platform asks for `declared` cohort seconds:
    /// the declared figure brought within the policy's bounds (a figure outside them is a
    /// failure of its own, judged where it is relied on).
    pub fn heartbeat_interval(&self, declared: f64) -> f64 {
        let (min, max) = self.heartbeat_interval_bounds();
        if declared.is_finite() {
            declared.clamp(min, max)
        } else {
            max
        }
    }

    /// The policy's bounds on a platform's heartbeat interval, cohort seconds.
    pub fn heartbeat_interval_bounds(&self) -> (f64, f64) {
        (
            self.rules.heartbeat_interval_min_seconds.value,
            self.rules.heartbeat_interval_max_seconds.value,
        )
    }

    /// Whether a declared heartbeat interval lies within the policy's bounds.
    pub fn heartbeat_interval_allowed(&self, declared: f64) -> bool {
        let (min, max) = self.heartbeat_interval_bounds();
        (min..=max).contains(&declared)
    }

    /// How far a heartbeat's position may lead the content watched plus the elapsed cohort
    /// time, in cohort seconds, on a cohort clock at `clock_scale`.
    pub fn seek_tolerance(&self, clock_scale: f64) -> f64 {
        self.rules.seek_tolerance_seconds.value
            + self.rules.seek_tolerance_wall_seconds.value * clock_scale.max(0.0)
    }

    /// Whether §二 allows the occupation to be trained purely online.
    pub fn allows_pure_online(&self, occupation: &str) -> bool {
        self.pure_online.occupations.iter().any(|o| o == occupation)
    }

    /// The Annex 1 entry with this number.
    pub fn annex1_entry(&self, number: u32) -> Option<&Annex1Entry> {
        self.annex1.iter().find(|e| e.number == number)
    }

    fn validate(&self, src: &Source<'_>) -> Result<(), DataFileError> {
        if self.policy_version != 1 {
            return Err(src.invalid(
                "",
                "policy_version",
                format!(
                    "this duxue reads policy_version 1, the file says {}",
                    self.policy_version
                ),
            ));
        }
        if self.id.trim().is_empty() {
            return Err(src.invalid("", "id", "must not be empty"));
        }
        for view in self.rule_views() {
            let reason_given = view.reason.is_some_and(|r| !r.trim().is_empty());
            if view.source == HARNESS_DEFAULT && !reason_given {
                return Err(src.invalid(
                    view.table,
                    view.key,
                    "a harness-default value must say why in `reason`",
                ));
            }
            if view.source != HARNESS_DEFAULT && !is_clause(view.source) {
                return Err(src.invalid(view.table, view.key, format!(
                    "source `{}` is neither a clause of the notice (§…, 附件…) nor `{HARNESS_DEFAULT}`",
                    view.source
                )));
            }
            if !(view.value.is_finite() && view.value > 0.0) {
                return Err(src.invalid(
                    view.table,
                    view.key,
                    format!("value must be a positive number, found {}", view.value),
                ));
            }
        }
        // Fractions are named `*share*`, `*rate*` or `*chance*` by convention; they lie in (0, 1].
        let fractions = self.rule_views().into_iter().filter(|v| {
            ["share", "rate", "chance"]
                .iter()
                .any(|word| v.key.contains(word))
        });
        for view in fractions {
            let (table, key, value) = (view.table, view.key, view.value);
            if value > 1.0 {
                return Err(src.invalid(
                    table,
                    key,
                    format!("a share is a fraction between 0 and 1, found {value}"),
                ));
            }
        }
        if self.rules.general_share_min.value > self.rules.general_share_max.value {
            return Err(src.invalid(
                "rules",
                "general_share_min",
                "general_share_min is above general_share_max",
            ));
        }
        if self.rules.popup_answer_window_seconds.value >= self.rules.popup_max_gap_seconds.value {
            return Err(src.invalid(
                "rules",
                "popup_answer_window_seconds",
                "the popup answer window must be shorter than the popup gap",
            ));
        }
        let (min, max) = self.heartbeat_interval_bounds();
        if min > max {
            return Err(src.invalid(
                "rules",
                "heartbeat_interval_min_seconds",
                "heartbeat_interval_min_seconds is above heartbeat_interval_max_seconds",
            ));
        }
        if 2.0 * max > f64::from(self.rules.heartbeat_max_gap_seconds.value) {
            return Err(src.invalid(
                "rules",
                "heartbeat_interval_max_seconds",
                "the longest heartbeat interval must be at most half of heartbeat_max_gap_seconds, \
                 or one lost heartbeat stops an honest playback",
            ));
        }
        if self.rules.calendar_utc_offset_minutes.value >= 24 * 60 {
            return Err(src.invalid(
                "rules",
                "calendar_utc_offset_minutes",
                "an offset from UTC is less than a day (1440 minutes)",
            ));
        }
        if self.pure_online.occupations.is_empty() {
            return Err(src.invalid("pure_online", "occupations", "the list is empty"));
        }
        if let Some(dup) = first_duplicate(self.pure_online.occupations.iter()) {
            return Err(src.invalid(
                "pure_online",
                "occupations",
                format!("`{dup}` is listed twice"),
            ));
        }
        if let Some(dup) = first_duplicate(self.annex1.iter().map(|e| e.number)) {
            return Err(src.invalid(
                "annex1",
                "number",
                format!("platform number {dup} appears twice"),
            ));
        }
        if let Some(entry) = self.annex1.iter().find(|e| e.occupations.is_empty()) {
            return Err(src.invalid(
                "annex1",
                "occupations",
                format!("platform number {} lists no occupation", entry.number),
            ));
        }
        Ok(())
    }
}

fn is_clause(source: &str) -> bool {
    source.starts_with('§') || source.starts_with("附件")
}

fn first_duplicate<T: PartialEq + Clone>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut seen = Vec::new();
    for item in items {
        if seen.contains(&item) {
            return Some(item);
        }
        seen.push(item);
    }
    None
}
