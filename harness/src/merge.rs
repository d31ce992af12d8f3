//! `duxue merge`: one run from the run folders of its shards. Histograms are added losslessly
//! from the shards' HdrHistogram interval logs (never averaged percentiles), learners' tallies
//! and evidence journals are concatenated, and LD-1 / LD-2 are judged once on the merged data;
//! every other requirement keeps the verdict of the shard(s) whose probes judged it (the worst
//! when several did).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use duxue_profile::{Policy, Verdict};
use duxue_reports::model::{EvidenceRef, RequirementResult};
use duxue_reports::{REPORT_SCHEMA, RunReport};
use duxue_scenarios::population::Tally;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use crate::certify::NOT_RUN;
use crate::error::CannotRun;
use crate::population::recorder::{OperationHistograms, histogram};
use crate::population::{self, HISTOGRAM_LOG, PopulationSection, TALLIES, Tick};

/// One shard's folder, read.
struct Shard {
    dir: PathBuf,
    report: RunReport,
    section: Option<PopulationSection>,
}

fn cannot_read(path: &Path, e: impl std::fmt::Display) -> CannotRun {
    CannotRun::new(
        format!("cannot read {}: {e}", path.display()),
        "give run folders written by `duxue certify --shard I/N`",
    )
}

fn read_shard(dir: &Path) -> Result<Shard, CannotRun> {
    let report = duxue_reports::read_report(dir).map_err(|e| cannot_read(dir, e))?;
    Ok(Shard {
        dir: dir.to_owned(),
        section: report.population.clone(),
        report,
    })
}

/// How bad a shard's result is, for picking the worst of several shards' verdicts. A
/// requirement a shard did not run at all (`--only`) counts for nothing.
fn severity(r: &RequirementResult) -> u8 {
    if r.checks.is_empty() && r.evidence.is_empty() && r.reason.starts_with(NOT_RUN) {
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
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| cannot_read(path, e)))
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

/// Merges shard run folders into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path, policy: &str) -> Result<RunReport, CannotRun> {
    if dirs.len() < 2 {
        return Err(CannotRun::new(
            "merge needs the folders of at least two shards",
            "give every shard's run folder",
        ));
    }
    crate::certify::prepare_out(out)?;
    let shards: Vec<Shard> = dirs
        .iter()
        .map(|d| read_shard(d))
        .collect::<Result<_, _>>()?;
    let policy = Policy::resolve(policy).map_err(|e| {
        CannotRun::new(
            format!("bad policy: {e}"),
            "pass the policy the shards ran with",
        )
    })?;
    let first = &shards[0].report;
    for shard in &shards {
        let r = &shard.report;
        if r.run.policy_sha256 != policy.sha256 || r.run.catalog_sha256 != first.run.catalog_sha256
        {
            return Err(CannotRun::new(
                format!(
                    "{} ran another policy or catalog than this merge",
                    shard.dir.display()
                ),
                "merge only shards of one run (same policy, catalog and seed)",
            ));
        }
        if r.run.seed != first.run.seed {
            return Err(CannotRun::new(
                format!(
                    "{} has seed {}, not {}",
                    shard.dir.display(),
                    r.run.seed,
                    first.run.seed
                ),
                "merge only shards of one run (same seed)",
            ));
        }
    }

    // Probe verdicts: the worst verdict of the shards that judged the requirement.
    let mut requirements: Vec<RequirementResult> = Vec::new();
    for (k, shard) in shards.iter().enumerate() {
        let journal = format!("evidence/shard-{k}.jsonl");
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

    let sections: Vec<&PopulationSection> =
        shards.iter().filter_map(|s| s.section.as_ref()).collect();
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
        for shard in shards.iter().filter(|s| s.section.is_some()) {
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
        for shard in shards.iter().filter(|s| s.section.is_some()) {
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
        );
        let section = population::section::merged(
            base,
            learners,
            &operations,
            &tallies,
            timeline,
            &sections,
            &freshness,
        );
        let probe_verdicts: BTreeMap<String, Verdict> = requirements
            .iter()
            .filter(|r| r.area != "load")
            .map(|r| (r.id.clone(), r.verdict))
            .collect();
        let load = population::judge::peak_load_held(&policy, learners, &section, &operations);
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
        let mut text = String::new();
        for tally in &tallies {
            if let Ok(line) = serde_json::to_string(tally) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        std::fs::write(out.join(TALLIES), text).map_err(|e| cannot_read(out, e))?;
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
    let report = RunReport {
        schema: REPORT_SCHEMA.to_owned(),
        mode: Default::default(),
        verdict: RunReport::decide(&requirements),
        counts: RunReport::count(&requirements),
        run,
        requirements,
        population,
        comparison: None,
    };
    crate::certify::write_report(out, &report, None)?;
    Ok(report)
}
