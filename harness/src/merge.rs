//! `duxue merge`: one run from the run folders of its shards. Before anything is merged, each
//! shard is verified: its seal (against `--public-key` when given), its run identity against
//! the others' (target, seed, policy and catalog, shard count, agreed start, shape and mix),
//! shards 0..N-1 each present once, and their starts close enough together to have made one
//! peak. Histograms are then added losslessly from the shards' HdrHistogram interval logs
//! (never averaged percentiles), learners' tallies and evidence journals are concatenated, and
//! LD-1 / LD-2 are judged once on the merged data; every other requirement keeps the verdict
//! of the shard(s) whose probes judged it (the worst when several did). The merged run lists
//! the manifests of the shards it was made of and keeps a copy of each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use duxue_profile::{Policy, Verdict};
use duxue_reports::bundle::{MANIFEST_FILE, SIGNATURE_FILE};
use duxue_reports::model::{
    EvidenceRef, MergeInfo, MergedShard, RequirementResult, ShardInfo, StartSkew,
};
use duxue_reports::{REPORT_SCHEMA, RunReport};
use duxue_scenarios::population::Tally;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use sha2::{Digest as _, Sha256};

use crate::certify::not_run;
use crate::error::CannotRun;
use crate::population::recorder::{OperationHistograms, histogram};
use crate::population::{self, HISTOGRAM_LOG, PopulationSection, TALLIES, Tick};

/// The largest spread of the shards' starts a merge accepts, in seconds. The merge counts
/// each shard's hold in one-second intervals from that shard's own start: shards that started
/// within one interval of one another had their peaks in the same seconds (give or take one),
/// so the merged hold is a peak that happened. Further apart, part of the judged hold had
/// some shards still ramping up or already leaving. A harness bound, not a policy figure: it
/// is about whether the merged data describe one peak at all.
pub const MAX_START_SPREAD_S: f64 = 1.0;

/// What `duxue merge` was asked to do.
pub struct MergePlan<'a> {
    pub dirs: &'a [PathBuf],
    pub out: &'a Path,
    pub policy: &'a str,
    pub public_key: Option<&'a Path>,
    pub signing_key: Option<&'a Path>,
}

/// One shard's folder, verified and read.
struct Shard {
    dir: PathBuf,
    report: RunReport,
    section: PopulationSection,
    info: ShardInfo,
    start_at: DateTime<Utc>,
    start: StartSkew,
    manifest: Vec<u8>,
    signature: Vec<u8>,
    public_key: String,
    self_signed: bool,
}

impl Shard {
    /// "shard 1 (runs/shard-1)", for messages.
    fn name(&self) -> String {
        format!("shard {} ({})", self.info.index, self.dir.display())
    }

    /// What must be the same in every shard of one run, by name.
    fn identity(&self) -> Vec<(&'static str, String)> {
        let run = &self.report.run;
        let p = &self.section;
        vec![
            ("target", run.target.url.clone()),
            ("seed", run.seed.to_string()),
            ("run nonce", run.run_nonce.to_string()),
            ("shard count", self.info.count.to_string()),
            ("start time (--start-at)", self.start_at.to_rfc3339()),
            ("policy sha256", run.policy_sha256.clone()),
            ("catalog sha256", run.catalog_sha256.clone()),
            ("harness version", run.harness_version.clone()),
            ("clock scale", run.clock_scale.to_string()),
            (
                "load shape (ramp-up/hold/ramp-down s)",
                format!(
                    "{}/{}/{}",
                    p.shape.ramp_up_s, p.shape.hold_s, p.shape.ramp_down_s
                ),
            ),
            (
                "population clock scale",
                format!("{:?}", p.clock_scale.unwrap_or(run.clock_scale)),
            ),
            (
                "behaviour mix",
                serde_json::to_string(&p.mix).unwrap_or_default(),
            ),
            ("client mode", p.client_mode.as_str().to_owned()),
        ]
    }

    /// When the load shape began, in Unix seconds: on the target's clock when `on_target`.
    fn started(&self, on_target: bool) -> f64 {
        crate::start::unix_seconds(self.start.started_at)
            + if on_target {
                self.start.clock_offset_s.unwrap_or(0.0)
            } else {
                0.0
            }
    }
}

fn cannot_read(path: &Path, e: impl std::fmt::Display) -> CannotRun {
    CannotRun::new(
        format!("cannot read {}: {e}", path.display()),
        "give run folders written by `duxue certify --shard I/N --start-at TIME`",
    )
}

/// A merge refused: what differs, and the same advice every time.
fn refuse(what: String) -> CannotRun {
    CannotRun::new(
        what,
        "merge only the sealed folders of shards 0..N-1 of one run, each once (same target, seed and --start-at)",
    )
}

/// Verifies a shard folder's seal and reads what the merge needs from it.
fn read_shard(
    dir: &Path,
    trusted: Option<&duxue_reports::VerifyingKey>,
) -> Result<Shard, CannotRun> {
    let outcome = duxue_reports::verify_run(dir, trusted).map_err(|e| cannot_read(dir, e))?;
    if let Some(problem) = outcome.first_problem() {
        return Err(refuse(format!(
            "{} does not verify: {problem}",
            dir.display()
        )));
    }
    let report = duxue_reports::read_report(dir).map_err(|e| cannot_read(dir, e))?;
    if report.interrupted.is_some() {
        return Err(CannotRun::new(
            format!("{} holds an interrupted run (INTERRUPTED)", dir.display()),
            "run that shard again to the end, then merge",
        ));
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| cannot_read(&path, e))
    };
    let (manifest, signature) = (read(MANIFEST_FILE)?, read(SIGNATURE_FILE)?);
    let Some(info) = report.run.shard.clone() else {
        return Err(refuse(format!(
            "{} is not a shard: it ran without --shard I/N and --start-at",
            dir.display()
        )));
    };
    let (Some(start_at), Some(start)) = (info.start_at, info.start.clone()) else {
        return Err(refuse(format!(
            "{} (shard {}) has no agreed start: its population did not start with the others'",
            dir.display(),
            info.index
        )));
    };
    let Some(section) = report.population.clone() else {
        return Err(refuse(format!(
            "{} (shard {}) has no population phase",
            dir.display(),
            info.index
        )));
    };
    Ok(Shard {
        dir: dir.to_owned(),
        report,
        section,
        info,
        start_at,
        start,
        manifest,
        signature,
        public_key: outcome.public_key,
        self_signed: outcome.self_signed,
    })
}

/// Checks that the shards are shards 0..N-1 of one run, each once, against one target, and
/// that they started together; returns them in index order with the merge's start figures.
fn verify_shards(mut shards: Vec<Shard>) -> Result<(Vec<Shard>, MergeInfo), CannotRun> {
    if let Some(s) = shards.iter().find(|s| s.report.run.target.embedded) {
        return Err(refuse(format!(
            "{} ran against a reference platform of its own: shards must share one --target",
            s.name()
        )));
    }
    shards.sort_by_key(|s| s.info.index);
    for pair in shards.windows(2) {
        if pair[0].info.index == pair[1].info.index {
            return Err(refuse(format!(
                "shard {} is given twice ({} and {})",
                pair[0].info.index,
                pair[0].dir.display(),
                pair[1].dir.display()
            )));
        }
    }
    let first = &shards[0];
    let reference = first.identity();
    for shard in &shards[1..] {
        for ((name, want), (_, have)) in reference.iter().zip(shard.identity()) {
            if *want != have {
                return Err(refuse(format!(
                    "{} has {name} {have}, {} has {want}",
                    shard.name(),
                    first.name()
                )));
            }
        }
    }
    let count = first.info.count;
    if let Some(missing) = (0..count).find(|k| !shards.iter().any(|s| s.info.index == *k)) {
        return Err(refuse(format!(
            "shard {missing} of {count} is missing ({} given)",
            shards.len()
        )));
    }
    if let Some(s) = shards.iter().find(|s| s.info.index >= count) {
        return Err(refuse(format!("{} is beyond {count} shards", s.name())));
    }
    let on_target = shards.iter().all(|s| s.start.clock_offset_s.is_some());
    let earliest = shards
        .iter()
        .min_by(|a, b| a.started(on_target).total_cmp(&b.started(on_target)))
        .unwrap_or(first);
    let latest = shards
        .iter()
        .max_by(|a, b| a.started(on_target).total_cmp(&b.started(on_target)))
        .unwrap_or(first);
    let spread = latest.started(on_target) - earliest.started(on_target);
    if spread > MAX_START_SPREAD_S {
        return Err(CannotRun::new(
            format!(
                "{} started {spread:.2} s after {} ({}), more than the {MAX_START_SPREAD_S} s a merge accepts",
                latest.name(),
                earliest.name(),
                if on_target {
                    "on the target's clock"
                } else {
                    "by their own clocks"
                }
            ),
            "run the shards again with a --start-at far enough ahead for every shard's probes and start-up, on machines whose clocks agree",
        ));
    }
    let info = MergeInfo {
        start_at: first.start_at,
        largest_start_skew_s: shards
            .iter()
            .map(|s| s.start.skew_s.abs())
            .fold(0.0, f64::max),
        largest_clock_offset_s: on_target.then(|| {
            shards
                .iter()
                .filter_map(|s| s.start.clock_offset_s)
                .map(f64::abs)
                .fold(0.0, f64::max)
        }),
        start_spread_s: (spread * 1000.0).round() / 1000.0,
        start_spread_bound_s: MAX_START_SPREAD_S,
        shards: shards
            .iter()
            .map(|s| MergedShard {
                index: s.info.index,
                run_id: s.report.run.run_id.clone(),
                manifest: manifest_copy(s.info.index),
                manifest_sha256: hex::encode(Sha256::digest(&s.manifest)),
                public_key: s.public_key.clone(),
                self_signed: s.self_signed,
                skew_s: s.start.skew_s,
                clock_offset_s: s.start.clock_offset_s,
            })
            .collect(),
    };
    Ok((shards, info))
}

/// Where a shard's manifest is copied in the merged run folder.
fn manifest_copy(index: u64) -> String {
    format!("shards/shard-{index}.manifest.json")
}

/// How bad a shard's result is, for picking the worst of several shards' verdicts. A
/// requirement a shard did not run at all (`--only`) counts for nothing.
fn severity(r: &RequirementResult) -> u8 {
    if not_run(r) {
        return 0;
    }
    match r.verdict {
        Verdict::Skipped => 0,
        Verdict::Pass => 1,
        Verdict::Warning => 2,
        Verdict::Inconclusive => 3,
        Verdict::Fail => 4,
    }
}

/// Adds every interval of an interval log into per-operation histograms: all of them into
/// `whole`, those that start within the hold into `peak`.
fn add_log(
    path: &Path,
    hold: (f64, f64),
    into: &mut BTreeMap<String, OperationHistograms>,
) -> Result<(), CannotRun> {
    let bytes = std::fs::read(path).map_err(|e| cannot_read(path, e))?;
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| cannot_read(path, format!("{e:?}")))?;
        let LogEntry::Interval(interval) = entry else {
            continue;
        };
        let Some(tag) = interval.tag() else {
            continue;
        };
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| cannot_read(path, e))?;
        let h: hdrhistogram::Histogram<u64> = deserializer
            .deserialize(&mut std::io::Cursor::new(encoded))
            .map_err(|e| cannot_read(path, format!("{e:?}")))?;
        let op = into.entry(tag.as_str().to_owned()).or_default();
        let start = interval.start_timestamp().as_secs_f64();
        op.requests += h.len();
        let _ = op.whole.add(&h);
        if start >= hold.0 && start < hold.1 {
            op.peak_requests += h.len();
            let _ = op.peak.add(&h);
        }
    }
    Ok(())
}

fn read_tallies(path: &Path) -> Result<Vec<Tally>, CannotRun> {
    let text = std::fs::read_to_string(path).map_err(|e| cannot_read(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            duxue_reports::parse_json(l.as_bytes())
                .map_err(|e| cannot_read(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

fn copy(from: &Path, to: &Path) -> Result<(), CannotRun> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| cannot_read(parent, e))?;
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| cannot_read(from, e))
}

/// Verifies the shards and merges them into `plan.out`.
pub fn merge(plan: &MergePlan) -> Result<RunReport, CannotRun> {
    let out = plan.out;
    let policy = Policy::resolve(plan.policy).map_err(|e| {
        CannotRun::new(
            format!("bad policy: {e}"),
            "pass the policy the shards ran with",
        )
    })?;
    let trusted = match plan.public_key {
        Some(path) => Some(duxue_reports::read_public_key(path).map_err(|e| {
            CannotRun::new(
                format!("bad --public-key: {e}"),
                "give the FILE.pub written by `duxue report keygen FILE`",
            )
        })?),
        None => None,
    };
    if let Some(path) = plan.signing_key {
        duxue_reports::read_signing_key(path).map_err(|e| {
            CannotRun::new(
                format!("bad --signing-key: {e}"),
                "give a key written by `duxue report keygen FILE`",
            )
        })?;
    }
    let shards: Vec<Shard> = plan
        .dirs
        .iter()
        .map(|d| read_shard(d, trusted.as_ref()))
        .collect::<Result<_, _>>()?;
    let (shards, merge_info) = verify_shards(shards)?;
    if let Some(s) = shards
        .iter()
        .find(|s| s.report.run.policy_sha256 != policy.sha256)
    {
        return Err(refuse(format!(
            "{} ran another policy than --policy {} (sha256 {})",
            s.name(),
            plan.policy,
            policy.sha256
        )));
    }
    crate::certify::prepare_out(out)?;
    for s in &shards {
        let json = out.join(manifest_copy(s.info.index));
        let sig = json.with_extension("sig");
        for (path, bytes) in [(&json, &s.manifest), (&sig, &s.signature)] {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| cannot_read(parent, e))?;
            }
            std::fs::write(path, bytes).map_err(|e| cannot_read(path, e))?;
        }
    }
    let first = &shards[0].report;

    // Probe verdicts: the worst verdict of the shards that judged the requirement.
    let mut requirements: Vec<RequirementResult> = Vec::new();
    for shard in &shards {
        let journal = format!("evidence/shard-{}.jsonl", shard.info.index);
        copy(
            &shard.dir.join(&shard.report.run.evidence_journal),
            &out.join(&journal),
        )?;
        for r in &shard.report.requirements {
            let mut r = r.clone();
            r.evidence = r
                .evidence
                .into_iter()
                .map(|e| EvidenceRef {
                    journal: journal.clone(),
                    ..e
                })
                .collect();
            match requirements.iter_mut().find(|x| x.id == r.id) {
                Some(existing) if severity(&r) > severity(existing) => {
                    *existing = r;
                }
                Some(existing) => existing.evidence.extend(r.evidence),
                None => requirements.push(r),
            }
        }
    }

    let sections: Vec<&PopulationSection> = shards.iter().map(|s| &s.section).collect();
    let mut population = None;
    if let Some(base) = sections.first() {
        let hold = (
            base.shape.ramp_up_s,
            base.shape.ramp_up_s + base.shape.hold_s,
        );
        let mut operations: BTreeMap<String, OperationHistograms> = BTreeMap::new();
        let mut tallies = Vec::new();
        let mut merged_log = String::from(
            "#duxue merged interval log: the shards' intervals, each tagged by operation\n",
        );
        for shard in &shards {
            let log = shard.dir.join(HISTOGRAM_LOG);
            add_log(&log, hold, &mut operations)?;
            let text = std::fs::read_to_string(&log).map_err(|e| cannot_read(&log, e))?;
            merged_log.extend(
                text.lines()
                    .filter(|l| l.starts_with("Tag="))
                    .map(|l| format!("{l}\n")),
            );
            tallies.extend(read_tallies(&shard.dir.join(TALLIES))?);
        }
        std::fs::create_dir_all(out.join("load")).map_err(|e| cannot_read(out, e))?;
        std::fs::write(out.join(HISTOGRAM_LOG), merged_log).map_err(|e| cannot_read(out, e))?;
        let learners: u64 = sections.iter().map(|s| s.learners_peak).sum();
        let mut timeline: Vec<Tick> = Vec::new();
        for section in &sections {
            for (i, tick) in section.timeline.iter().enumerate() {
                match timeline.get_mut(i) {
                    Some(t) => {
                        t.active += tick.active;
                        t.requests += tick.requests;
                        t.errors += tick.errors;
                    }
                    None => timeline.push(tick.clone()),
                }
            }
        }
        let mut freshness = histogram();
        for shard in &shards {
            let mut by_tag = BTreeMap::new();
            add_log(
                &shard.dir.join(population::FRESHNESS_LOG),
                (0.0, 0.0),
                &mut by_tag,
            )?;
            for h in by_tag.values() {
                let _ = freshness.add(&h.whole);
            }
        }
        population::write_single_interval(
            &out.join(population::FRESHNESS_LOG),
            "freshness",
            &freshness,
        )?;
        let section = population::section::merged(
            base,
            learners,
            &operations,
            &tallies,
            timeline,
            &sections,
            &freshness,
        );
        // As in certify: the verdicts of the probes that ran, so LD-2 leans on none left out.
        let probe_verdicts: BTreeMap<String, Verdict> = requirements
            .iter()
            .filter(|r| r.area != "load" && !not_run(r))
            .map(|r| (r.id.clone(), r.verdict))
            .collect();
        let load =
            population::judge::peak_load_held(&policy, learners, &section, &operations, &tallies);
        let controls = population::judge::controls_hold_under_load(
            &policy,
            &section,
            &tallies,
            &probe_verdicts,
        );
        for outcome in [load, controls] {
            if let Some(r) = requirements
                .iter_mut()
                .find(|r| r.id == outcome.requirement)
            {
                r.verdict = outcome.verdict;
                r.reason = outcome.reason;
                r.figures = outcome.figures;
                r.checks = outcome
                    .checks
                    .into_iter()
                    .map(|c| duxue_reports::model::Check {
                        name: c.name,
                        passed: c.passed,
                        detail: c.detail,
                    })
                    .collect();
            }
        }
        population::write_tallies(&out.join(TALLIES), &tallies)?;
        population = Some(section);
    }

    let mut run = first.run.clone();
    run.run_id = format!("{}-merged-{}", first.run.run_id, shards.len());
    run.learners = shards.iter().map(|s| s.report.run.learners).sum();
    run.requests = shards.iter().map(|s| s.report.run.requests).sum();
    run.started_at = shards
        .iter()
        .map(|s| s.report.run.started_at)
        .min()
        .unwrap_or(run.started_at);
    run.finished_at = shards
        .iter()
        .map(|s| s.report.run.finished_at)
        .max()
        .unwrap_or(run.finished_at);
    run.wall_seconds = shards
        .iter()
        .map(|s| s.report.run.wall_seconds)
        .fold(0.0, f64::max);
    run.evidence_journal = "evidence/shard-0.jsonl".to_owned();
    run.shard = None;
    run.merged = Some(merge_info);
    let report = RunReport {
        schema: REPORT_SCHEMA.to_owned(),
        mode: Default::default(),
        verdict: RunReport::decide(&requirements),
        counts: RunReport::count(&requirements),
        run,
        requirements,
        population,
        comparison: None,
        interrupted: None,
    };
    crate::certify::write_report(out, &report, plan.signing_key)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// A shard's folder cannot crash the merge: any tallies file and any latency log read
        /// or fail with one line naming the file.
        #[test]
        fn any_shard_file_reads_or_fails_in_one_line(
            tallies in "\\PC{0,300}",
            log in prop::collection::vec(any::<u8>(), 0..600),
            interval in "Tag=heartbeat,0\\.0,1\\.0,[0-9]\\.0,[A-Za-z0-9+/=]{0,80}",
        ) {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("learners.jsonl");
            std::fs::write(&path, &tallies).expect("write");
            if let Err(e) = read_tallies(&path) {
                let line = e.to_string();
                prop_assert!(!line.contains('\n') && line.contains("learners.jsonl"), "{}", line);
            }
            for bytes in [log, interval.into_bytes()] {
                let path = dir.path().join("latency.hlog");
                std::fs::write(&path, &bytes).expect("write");
                let mut into = BTreeMap::new();
                if let Err(e) = add_log(&path, (0.0, 10.0), &mut into) {
                    let line = e.to_string();
                    prop_assert!(!line.contains('\n') && line.contains("latency.hlog"), "{}", line);
                }
            }
        }
    }
}
