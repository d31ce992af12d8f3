//! `report.json`: the machine-readable result of a run, a versioned schema of its own. The
//! harness writes it; everything else in this crate renders from it alone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use duxue_profile::Verdict;
use serde::{Deserialize, Serialize};

/// The schema identifier written into every `report.json`.
pub const REPORT_SCHEMA: &str = "duxue.report/v1";

/// The overall verdict of a certification run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunVerdict {
    Certified,
    NotCertified,
    /// The run stopped before it finished (a signal, a kill, a crash): the report holds what
    /// was judged by then and is never a certification.
    Interrupted,
}

impl RunVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            RunVerdict::Certified => "CERTIFIED",
            RunVerdict::NotCertified => "NOT_CERTIFIED",
            RunVerdict::Interrupted => "INTERRUPTED",
        }
    }
}

/// What kind of run a report is of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// A certification in conformance cohorts (`duxue certify`).
    #[default]
    Certify,
    /// A blind, real-time audit of production through ordinary accounts (`duxue spot-check`).
    SpotCheck,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Certify => "certify",
            RunMode::SpotCheck => "spot_check",
        }
    }
}

/// Why and when a run stopped before it finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    /// `SIGINT` or `SIGTERM` when the harness caught the signal and wrote the report itself;
    /// [`Interruption::UNKNOWN`] when the process died (killed, crashed, power) and the report
    /// is what it had written by then.
    pub cause: String,
    /// When the report was last brought up to date.
    pub at: DateTime<Utc>,
    /// Lines at the end of the evidence journal cut short by the death of the process (an
    /// exchange being written at that instant, never one completed), dropped when counting.
    #[serde(default)]
    pub torn_journal_lines: u64,
}

impl Interruption {
    pub const UNKNOWN: &'static str = "unknown";
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: String,
    /// Certification or spot check (reports written before the field existed are
    /// certifications).
    #[serde(default)]
    pub mode: RunMode,
    pub verdict: RunVerdict,
    pub run: RunIdentity,
    pub counts: BTreeMap<String, usize>,
    pub requirements: Vec<RequirementResult>,
    /// The population phase (many simulated learners at once), when the run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<PopulationReport>,
    /// A certification set against a spot check of the same platform (`report compare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Set, with the verdict INTERRUPTED, when the run stopped before it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interruption>,
}

/// The lab against the road: a certification compared with a spot check of the same platform.
/// A requirement that passed in the conformance cohort and failed on production is DIVERGENT,
/// and the compared report is NOT_CERTIFIED whatever else passed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The certification's own verdict, before the comparison.
    pub certify_verdict: RunVerdict,
    /// The spot check it was compared with.
    pub spot_check: ComparedRun,
    /// Requirements that passed (or warned) in the conformance cohort and failed on production.
    pub divergent: Vec<String>,
    /// Every requirement with both verdicts, in catalog order.
    pub requirements: Vec<ComparedRequirement>,
}

/// The run a certification was compared with, as it was when compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedRun {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub target_url: String,
    pub verdict: RunVerdict,
    /// SHA-256 of its `report.json`; a copy sits beside this report (`spot-check/report.json`).
    pub report_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedRequirement {
    pub id: String,
    /// In the conformance cohort (this report).
    pub lab: Verdict,
    /// On production (the spot check).
    pub road: Verdict,
    pub divergent: bool,
    /// The spot check's reason, for a divergent requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub road_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub wall_seconds: f64,
    pub seed: u64,
    /// Mixed into every synthetic person's identity, so that a rerun with the same seed
    /// registers new people; seed and nonce together reproduce the run (0 in runs made before
    /// the nonce existed, and in spot checks, whose people are the accounts the bureau holds).
    #[serde(default)]
    pub run_nonce: u64,
    pub clock_scale: f64,
    pub learners: u64,
    pub target: TargetInfo,
    pub harness_version: String,
    pub profile_version: String,
    pub catalog_version: String,
    pub catalog_sha256: String,
    pub policy_id: String,
    pub policy_sha256: String,
    pub application: serde_json::Value,
    /// Exchanges recorded in the evidence journal.
    pub requests: u64,
    pub evidence_journal: String,
    /// This run is one shard of a run split over processes (`certify --shard I/N`), or ran
    /// its population from an agreed instant (`--start-at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// This run was merged from its shards' run folders (`duxue merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeInfo>,
}

/// Which shard of a run this is, and how its population started against the agreed instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: u64,
    pub count: u64,
    /// The instant every shard's population was to start at (`--start-at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<DateTime<Utc>>,
    /// When the population actually started, as measured by this shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartSkew>,
}

/// A shard's start against the agreed instant, and its clock against the target's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartSkew {
    /// When the load shape began, by this shard's clock.
    pub started_at: DateTime<Utc>,
    /// `started_at` minus the agreed instant, seconds (positive: late).
    pub skew_s: f64,
    /// The target's clock minus this shard's, seconds, from the target's `Date` headers;
    /// absent when the target sent none that could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_s: Option<f64>,
    /// Half the width of the interval the clock offset is known to lie in, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_uncertainty_s: Option<f64>,
}

/// What a merged run was made of, and how closely its shards started together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeInfo {
    /// The instant every shard was to start its population at.
    pub start_at: DateTime<Utc>,
    /// The largest |start skew| of any shard against the agreed instant, by its own clock.
    pub largest_start_skew_s: f64,
    /// The largest |clock offset| of any shard against the target's clock, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest_clock_offset_s: Option<f64>,
    /// Latest minus earliest shard start on the target's clock (each shard's own clock where
    /// an offset is missing), seconds.
    pub start_spread_s: f64,
    /// The largest start spread a merge accepts, seconds.
    pub start_spread_bound_s: f64,
    /// The shards merged, by index: the manifest each was sealed with.
    pub shards: Vec<MergedShard>,
}

/// One shard a merged run was made of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedShard {
    pub index: u64,
    pub run_id: String,
    /// A copy of the shard's manifest.json, relative to the merged run folder (its signature
    /// beside it, `.sig` for `.json`).
    pub manifest: String,
    pub manifest_sha256: String,
    /// The ed25519 public key that signed the shard's manifest, 64 hex characters.
    pub public_key: String,
    /// True when the shard was sealed with a key of its own (no `--signing-key`).
    pub self_signed: bool,
    pub skew_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub url: String,
    /// True when duxue started the bundled reference platform itself.
    pub embedded: bool,
    pub platform_name: String,
    pub operator: String,
    pub profile_version: String,
    /// Defects switched on in an embedded reference platform (calibration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defects: Vec<String>,
    /// Conforming variants an embedded reference platform was started as (calibration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: Option<bool>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// Path of the journal, relative to the run folder.
    pub journal: String,
    /// The `probe` value of this requirement's lines in the journal.
    pub tag: String,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub exchanges: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequirementResult {
    pub id: String,
    pub area: String,
    pub source: String,
    pub text_zh: String,
    pub text_en: String,
    pub mandatory: bool,
    pub verdict: Verdict,
    pub reason: String,
    pub figures: BTreeMap<String, serde_json::Value>,
    pub checks: Vec<Check>,
    pub evidence: Vec<EvidenceRef>,
    pub wall_seconds: f64,
}

impl RunReport {
    /// CERTIFIED only when every mandatory requirement passed, warned or was skipped.
    pub fn decide(requirements: &[RequirementResult]) -> RunVerdict {
        let all_met = requirements
            .iter()
            .filter(|r| r.mandatory)
            .all(|r| r.verdict.allows_certification());
        if all_met && !requirements.is_empty() {
            RunVerdict::Certified
        } else {
            RunVerdict::NotCertified
        }
    }

    /// How many requirements got each verdict.
    pub fn count(requirements: &[RequirementResult]) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for verdict in [
            Verdict::Pass,
            Verdict::Fail,
            Verdict::Warning,
            Verdict::Skipped,
            Verdict::Inconclusive,
        ] {
            counts.insert(verdict.as_str().to_owned(), 0);
        }
        for r in requirements {
            *counts.entry(r.verdict.as_str().to_owned()).or_insert(0) += 1;
        }
        counts
    }
}

/// The population phase: many learners of a behaviour mix at once, and what the platform
/// credited and refused. All times in milliseconds unless the name says seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopulationReport {
    pub learners_peak: u64,
    pub client_mode: ClientMode,
    /// Cohort-clock scale of the population's cohort, when it differs from the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_scale: Option<f64>,
    pub shape: LoadShape,
    /// Weight of each behaviour name in the mix.
    pub mix: BTreeMap<String, f64>,
    pub wall_seconds: f64,
    pub requests: u64,
    pub errors: u64,
    /// One row per behaviour: what its learners attempted and what got credited.
    pub ledger: Vec<LedgerRow>,
    /// Latency percentiles per operation over the whole phase.
    pub operations: Vec<OperationLatency>,
    /// Errors by kind (`timeout`, `http_503`, …).
    pub error_kinds: BTreeMap<String, u64>,
    /// One point per second of the phase.
    pub timeline: Vec<TimelinePoint>,
    pub supervisor_freshness: Freshness,
    /// Liveness spoofs tried during the phase, per species.
    pub spoofing: Vec<SpoofRow>,
    /// HdrHistogram V2 interval log (microseconds, one interval per second, tag = operation),
    /// relative to the run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram_log: Option<String>,
}

/// Whether the learners share one HTTP client (connection pool) or each has its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientMode {
    Shared,
    PerLearner,
}

impl ClientMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientMode::Shared => "shared",
            ClientMode::PerLearner => "per-learner",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadShape {
    pub ramp_up_s: f64,
    pub hold_s: f64,
    pub ramp_down_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub behaviour: String,
    /// Whether this behaviour cheats (its refused attempts are the platform's true positives).
    pub cheat: bool,
    pub learners: u64,
    pub cheat_attempts: u64,
    pub attempts_refused: u64,
    /// Seconds an honest learner would have earned for what was actually played in order.
    pub creditable_seconds: f64,
    pub credited_seconds: f64,
    /// Seconds credited for cheating (content skipped, sped up, doubled, idled).
    pub cheating_seconds_credited: f64,
    /// Honest seconds the platform did not credit (beyond nothing: the tolerance is judged elsewhere).
    pub honest_seconds_denied: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationLatency {
    pub operation: String,
    pub count: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the phase started.
    pub t_s: f64,
    /// Learners active in this second.
    pub active: u64,
    pub requests: u64,
    pub errors: u64,
}

/// How long a learner event took to become visible to a supervisor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    pub samples: u64,
    pub bound_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpoofRow {
    /// `print`, `screen`, `replay` or `other-person`.
    pub species: String,
    pub attempts: u64,
    pub refused: u64,
}
