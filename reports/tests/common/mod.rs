//! Fixtures shared by the integration tests: a run folder built from the model, with every
//! catalog requirement, a population section, a small HdrHistogram interval log and a
//! redacted journal.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use duxue_profile::{Catalog, Verdict};
use duxue_reports::model::{
    Check, ClientMode, EvidenceRef, Freshness, LedgerRow, LoadShape, OperationLatency,
    PopulationReport, RequirementResult, RunIdentity, SpoofRow, TargetInfo, TimelinePoint,
};
use duxue_reports::{REPORT_SCHEMA, RunReport};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2Serializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use serde_json::json;

/// Secrets the fictitious harness knew; none may appear in the bundle.
pub const SECRETS: [&str; 3] = [
    "conformance-token-7f3a9c2e",
    "Passw0rd!learner",
    "lt_4b1d0e8a9f7c",
];

/// Requirements that fail in the fixture; everything else passes except SC-1 (skipped) and
/// LD-2 (inconclusive).
pub const FAILING: [&str; 2] = ["PB-2", "SC-2"];

pub fn catalog() -> Catalog {
    Catalog::builtin().expect("the built-in catalog loads")
}

/// A report with every catalog ID: PB-2 and SC-2 FAIL, SC-1 SKIPPED, LD-2 INCONCLUSIVE.
pub fn report(population: Option<PopulationReport>) -> RunReport {
    let catalog = catalog();
    let mut seq = 0u64;
    let requirements: Vec<RequirementResult> = catalog
        .requirements
        .iter()
        .map(|q| {
            let verdict = if FAILING.contains(&q.id.as_str()) {
                Verdict::Fail
            } else if q.id == "SC-1" {
                Verdict::Skipped
            } else if q.id == "LD-2" {
                Verdict::Inconclusive
            } else {
                Verdict::Pass
            };
            let mut figures = BTreeMap::new();
            if q.id == "ID-4" {
                for species in ["print", "screen", "replay", "other-person"] {
                    figures.insert(format!("{species}.attempts"), json!(4));
                    figures.insert(format!("{species}.accepted"), json!(0));
                    figures.insert(format!("{species}.apcer_upper_95"), json!(0.75));
                }
            } else if q.id == "PB-2" {
                figures.insert("speeder_x2.credited_seconds".into(), json!(604.2));
                figures.insert("speeder_x2.elapsed_seconds".into(), json!(304.1));
            } else {
                figures.insert("requests".into(), json!(12));
            }
            let first = seq;
            seq += 20;
            RequirementResult {
                id: q.id.clone(),
                area: q.area.clone(),
                source: q.source.clone(),
                text_zh: q.text_zh.clone(),
                text_en: q.text_en.clone(),
                mandatory: q.mandatory,
                verdict,
                reason: match verdict {
                    Verdict::Fail => format!("{}: credit exceeded <wall time> & more", q.id),
                    Verdict::Skipped => "loopback target: HTTPS not applicable".into(),
                    Verdict::Inconclusive => "no samples at peak".into(),
                    _ => "all 2 checks held".into(),
                },
                figures,
                checks: vec![
                    Check {
                        name: "the control holds".into(),
                        passed: Some(verdict != Verdict::Fail),
                        detail: "refused with HTTP 409 `seek_forbidden`".into(),
                    },
                    Check {
                        name: "an honest learner is credited".into(),
                        passed: Some(true),
                        detail: "accepted".into(),
                    },
                ],
                evidence: if verdict == Verdict::Skipped {
                    Vec::new()
                } else {
                    vec![EvidenceRef {
                        journal: "evidence/journal.jsonl".into(),
                        tag: q.id.clone(),
                        first_seq: Some(first),
                        last_seq: Some(first + 19),
                        exchanges: 20,
                    }]
                },
                wall_seconds: 2.5,
            }
        })
        .collect();
    let started_at = chrono::DateTime::parse_from_rfc3339("2026-11-26T21:43:26.144131329Z")
        .expect("date")
        .with_timezone(&chrono::Utc);
    RunReport {
        schema: REPORT_SCHEMA.into(),
        mode: Default::default(),
        verdict: RunReport::decide(&requirements),
        counts: RunReport::count(&requirements),
        run: RunIdentity {
            run_id: "20261126T214326Z-0000000000000003".into(),
            started_at,
            finished_at: started_at + chrono::Duration::seconds(95),
            wall_seconds: 95.2,
            seed: 3,
            run_nonce: 7,
            clock_scale: 60.0,
            learners: 300,
            target: TargetInfo {
                url: "http://127.0.0.1:34393".into(),
                embedded: true,
                platform_name: "督学参考平台 (duxue reference platform) <b>&".into(),
                operator: "督学参考培训学校 (duxue reference training school)".into(),
                profile_version: "v1".into(),
                defects: Vec::new(),
                variants: Vec::new(),
            },
            harness_version: "0.1.0".into(),
            profile_version: "v1".into(),
            catalog_version: catalog.catalog_version.clone(),
            catalog_sha256: catalog.sha256.clone(),
            policy_id: "xuchang-2022".into(),
            policy_sha256: "c8e1800550ecb9c16ece9d3d04d00978d19f1b3a2b44e71c3fcfef4a82f8228e"
                .into(),
            application: json!({
                "institution": {"contact": "duxue maintainers", "name": "督学参考培训学校"},
                "platform": {"annex1_entry": 7, "contact": "duxue maintainers",
                             "name": "督学参考平台", "url": "http://127.0.0.1"},
                "training": [
                    {"delivery": "pure_online", "headcount": 200, "level": "五级",
                     "occupation": "电子商务师", "period_end": "2022-08-31", "period_start": "2022-06-01"},
                    {"delivery": "blended", "headcount": 100, "level": "四级",
                     "occupation": "家政服务员", "period_end": "2022-09-30", "period_start": "2022-07-01"}
                ]
            }),
            requests: seq,
            evidence_journal: "evidence/journal.jsonl".into(),
            shard: None,
            merged: None,
        },
        requirements,
        population,
        comparison: None,
        interrupted: None,
    }
}

/// Operations of the population, with a typical latency (µs) and share of requests.
const OPERATIONS: [(&str, u64, u64); 4] = [
    ("heartbeat", 1_200, 70),
    ("studyStatus", 2_500, 20),
    ("login", 9_000, 5),
    ("answerPopup", 1_800, 5),
];

/// A realistic population section of `seconds` seconds and `learners` learners.
pub fn population(learners: u64, seconds: u64) -> PopulationReport {
    let behaviours = [
        ("honest", false, 58.0),
        ("seeker", true, 3.0),
        ("speeder2", true, 3.0),
        ("speeder4", true, 3.0),
        ("multi-window", true, 3.0),
        ("multi-login", true, 3.0),
        ("idler", true, 3.0),
        ("popup-auto-clicker", true, 3.0),
        ("print-spoofer", true, 3.0),
        ("screen-spoofer", true, 3.0),
        ("replay-spoofer", true, 3.0),
        ("other-person-spoofer", true, 3.0),
        ("out-of-order", true, 3.0),
        ("cooldown-violator", true, 3.0),
        ("round-the-clock", true, 3.0),
    ];
    let mix: BTreeMap<String, f64> = behaviours
        .iter()
        .map(|(b, _, w)| ((*b).to_owned(), *w))
        .collect();
    let ledger = behaviours
        .iter()
        .map(|(b, cheat, w)| {
            let n = ((learners as f64) * w / 100.0).round() as u64;
            LedgerRow {
                behaviour: (*b).to_owned(),
                cheat: *cheat,
                learners: n,
                cheat_attempts: if *cheat { n * 2 } else { 0 },
                attempts_refused: if *b == "idler" {
                    (n * 2).saturating_sub(1)
                } else if *cheat {
                    n * 2
                } else {
                    0
                },
                creditable_seconds: n as f64 * 55.0,
                credited_seconds: n as f64 * 54.2,
                cheating_seconds_credited: if *b == "idler" { 12.5 } else { 0.0 },
                honest_seconds_denied: if *cheat { 0.0 } else { n as f64 * 0.8 },
            }
        })
        .collect();
    let ramp_up = seconds as f64 * 0.2;
    let ramp_down = seconds as f64 * 0.1;
    let timeline: Vec<TimelinePoint> = (0..seconds)
        .map(|t| {
            let t = t as f64;
            let active = if t < ramp_up {
                learners as f64 * t / ramp_up
            } else if t > seconds as f64 - ramp_down {
                learners as f64 * (seconds as f64 - t) / ramp_down
            } else {
                learners as f64
            };
            let active = active.round() as u64;
            TimelinePoint {
                t_s: t,
                active,
                requests: active * 2 + (t as u64 % 7),
                errors: u64::from(t as u64 % 97 == 13),
            }
        })
        .collect();
    let requests: u64 = timeline.iter().map(|t| t.requests).sum();
    PopulationReport {
        learners_peak: learners,
        client_mode: ClientMode::Shared,
        clock_scale: Some(20.0),
        shape: LoadShape {
            ramp_up_s: ramp_up,
            hold_s: seconds as f64 - ramp_up - ramp_down,
            ramp_down_s: ramp_down,
        },
        mix,
        wall_seconds: seconds as f64 + 0.4,
        requests,
        errors: timeline.iter().map(|t| t.errors).sum(),
        ledger,
        operations: OPERATIONS
            .iter()
            .map(|(op, us, share)| OperationLatency {
                operation: (*op).to_owned(),
                count: requests * share / 100,
                errors: u64::from(*op == "heartbeat") * 3,
                p50_ms: *us as f64 / 1000.0,
                p90_ms: *us as f64 * 2.0 / 1000.0,
                p99_ms: *us as f64 * 5.0 / 1000.0,
                p999_ms: *us as f64 * 9.0 / 1000.0,
                max_ms: *us as f64 * 20.0 / 1000.0,
            })
            .collect(),
        error_kinds: BTreeMap::from([("timeout".to_owned(), 3), ("http_503".to_owned(), 9)]),
        timeline,
        supervisor_freshness: Freshness {
            samples: 80,
            bound_ms: 10_000.0,
            p50_ms: 900.0,
            p90_ms: 2000.0,
            p99_ms: 3100.0,
            max_ms: 4000.0,
        },
        spoofing: ["print", "screen", "replay", "other-person"]
            .iter()
            .map(|s| SpoofRow {
                species: (*s).to_owned(),
                attempts: 18,
                refused: 18,
            })
            .collect(),
        histogram_log: Some("load/latency.hlog".into()),
    }
}

/// Writes an HdrHistogram V2 interval log like the harness's: one interval per second and
/// operation, microseconds, StartTime and BaseTime set, delta timestamps.
pub fn write_hlog(path: &Path, seconds: u64, per_second: u64) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create hlog"));
    let mut serializer = V2Serializer::new();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment("duxue population latency, microseconds")
        .with_start_time(start)
        .with_base_time(start);
    let mut writer = builder
        .begin_log_with(&mut file, &mut serializer)
        .expect("begin log");
    for second in 0..seconds {
        for (op, us, share) in OPERATIONS {
            let mut h = Histogram::<u64>::new(3).expect("histogram");
            let n = (per_second * share / 100).max(1);
            for i in 0..n {
                // A slow patch in the middle of the run, and a long tail.
                let slow = if (seconds / 2..seconds / 2 + 3).contains(&second) {
                    4
                } else {
                    1
                };
                let tail = if i % 50 == 0 { 6 } else { 1 };
                h.record(us * slow * tail + (i * 37) % us).expect("record");
            }
            writer
                .write_histogram(
                    &h,
                    Duration::from_secs(second),
                    Duration::from_secs(1),
                    Tag::new(op),
                )
                .expect("write interval");
        }
    }
    drop(writer);
    std::io::Write::flush(&mut file).expect("flush");
}

/// A complete run folder (not yet rendered or sealed): report.json, a redacted journal and,
/// with a population, its latency log.
pub fn write_run(dir: &Path, report: &RunReport, hlog_seconds: u64) {
    std::fs::create_dir_all(dir.join("evidence")).expect("mkdir");
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(report).expect("json"),
    )
    .expect("write report.json");
    let mut journal = String::new();
    for seq in 0..report.run.requests {
        journal.push_str(
            &json!({
                "seq": seq, "op": "heartbeat", "method": "POST", "path": "/learner/heartbeat",
                "status": 200, "elapsed_ms": 1.2,
                "request": {"token": "<redacted>", "position": seq},
                "response": {"credited_seconds": 10.0}
            })
            .to_string(),
        );
        journal.push('\n');
    }
    std::fs::write(dir.join("evidence/journal.jsonl"), journal).expect("write journal");
    if let Some(p) = &report.population
        && let Some(log) = &p.histogram_log
    {
        write_hlog(&dir.join(log), hlog_seconds, 40);
    }
}

/// A sealed fixture run in a temp folder: 35 requirements, a 90 s population of 300 learners.
pub fn sealed_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = report(Some(population(300, 90)));
    write_run(dir.path(), &report, 90);
    duxue_reports::seal_run(dir.path(), duxue_reports::SigningKeySource::Ephemeral).expect("seals");
    dir
}
