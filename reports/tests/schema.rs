//! `report.schema.json` and `model.rs` agree: a real run's report.json and reports serialised
//! from the model validate; broken variants are rejected.

mod common;

use duxue_reports::model::{MergeInfo, MergedShard, ShardInfo, StartSkew};
use duxue_reports::{RunReport, validate_report_json};
use serde_json::{Value, json};

/// report.json of a real `duxue certify` run of the reference platform (no population phase).
const REAL_RUN: &str = include_str!("fixtures/real-run-report.json");

fn assert_valid(value: &Value, what: &str) {
    let problems = validate_report_json(value).expect("the schema compiles");
    assert!(problems.is_empty(), "{what}: {problems:#?}");
}

fn assert_invalid(value: &Value, what: &str) {
    let problems = validate_report_json(value).expect("the schema compiles");
    assert!(!problems.is_empty(), "{what} was accepted");
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let schema: Value =
        serde_json::from_str(duxue_reports::REPORT_JSON_SCHEMA).expect("schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the schema is a valid 2020-12 schema"
    );
}

#[test]
fn a_real_runs_report_validates_and_parses() {
    let value: Value = serde_json::from_str(REAL_RUN).expect("fixture is JSON");
    assert_valid(&value, "real run report.json");
    let report: RunReport = serde_json::from_value(value.clone()).expect("parses into the model");
    assert_eq!(report.requirements.len(), 35);
    // And back: the model writes what it read.
    assert_eq!(serde_json::to_value(&report).expect("serialises"), value);
}

#[test]
fn reports_serialised_from_the_model_validate() {
    for (what, report) in [
        ("no population", common::report(None)),
        (
            "population",
            common::report(Some(common::population(300, 90))),
        ),
    ] {
        let value = serde_json::to_value(&report).expect("serialises");
        assert_valid(&value, what);
        let back: RunReport = serde_json::from_value(value).expect("parses");
        assert_eq!(back, report);
    }
    // Optional fields absent and null-valued fields present.
    let mut report = common::report(Some(common::population(10, 5)));
    if let Some(p) = report.population.as_mut() {
        p.histogram_log = None;
        p.clock_scale = None;
    }
    report.requirements[0].checks[0].passed = None;
    report.requirements[0].evidence[0].first_seq = None;
    report.run.application = Value::Null;
    assert_valid(&serde_json::to_value(&report).expect("json"), "optionals");
}

#[test]
fn shards_and_merged_runs_validate() {
    let mut shard = common::report(Some(common::population(10, 5)));
    let start_at = shard.run.started_at + chrono::Duration::seconds(30);
    shard.run.shard = Some(ShardInfo {
        index: 1,
        count: 2,
        start_at: Some(start_at),
        start: Some(StartSkew {
            started_at: start_at + chrono::Duration::milliseconds(12),
            skew_s: 0.012,
            clock_offset_s: Some(-0.2),
            clock_offset_uncertainty_s: Some(0.05),
        }),
    });
    let value = serde_json::to_value(&shard).expect("json");
    assert_valid(&value, "shard");
    assert_eq!(
        serde_json::from_value::<RunReport>(value).expect("parses"),
        shard
    );
    let mut merged = common::report(Some(common::population(20, 5)));
    merged.run.merged = Some(MergeInfo {
        start_at,
        largest_start_skew_s: 0.012,
        largest_clock_offset_s: None,
        start_spread_s: 0.01,
        start_spread_bound_s: 1.0,
        shards: vec![MergedShard {
            index: 0,
            run_id: "r0".into(),
            manifest: "shards/shard-0.manifest.json".into(),
            manifest_sha256: "ab".repeat(32),
            public_key: "cd".repeat(32),
            self_signed: true,
            skew_s: 0.002,
            clock_offset_s: None,
        }],
    });
    assert_valid(&serde_json::to_value(&merged).expect("json"), "merged");
    let mut bad = serde_json::to_value(&merged).expect("json");
    bad["run"]["merged"]["shards"][0]["manifest_sha256"] = json!("not hex");
    assert_invalid(&bad, "a merged shard's manifest hash that is not SHA-256");
}

#[test]
fn broken_reports_are_rejected() {
    let good =
        serde_json::to_value(common::report(Some(common::population(30, 10)))).expect("json");
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "wrong schema id",
            Box::new(|v| v["schema"] = json!("duxue.report/v2")),
        ),
        (
            "unknown verdict",
            Box::new(|v| v["verdict"] = json!("MAYBE")),
        ),
        (
            "missing run",
            Box::new(|v| {
                v.as_object_mut().map(|o| o.remove("run"));
            }),
        ),
        (
            "requirement without verdict",
            Box::new(|v| {
                v["requirements"][3]
                    .as_object_mut()
                    .map(|o| o.remove("verdict"));
            }),
        ),
        (
            "lower-case verdict",
            Box::new(|v| v["requirements"][0]["verdict"] = json!("pass")),
        ),
        (
            "bad requirement ID",
            Box::new(|v| v["requirements"][0]["id"] = json!("id1")),
        ),
        (
            "negative count",
            Box::new(|v| v["counts"]["PASS"] = json!(-1)),
        ),
        (
            "unknown count key",
            Box::new(|v| v["counts"]["GREAT"] = json!(1)),
        ),
        (
            "seed as string",
            Box::new(|v| v["run"]["seed"] = json!("3")),
        ),
        (
            "bad timestamp",
            Box::new(|v| v["run"]["started_at"] = json!("yesterday")),
        ),
        (
            "unknown top-level field",
            Box::new(|v| v["extra"] = json!(1)),
        ),
        (
            "evidence without journal",
            Box::new(|v| {
                v["requirements"][0]["evidence"][0]
                    .as_object_mut()
                    .map(|o| o.remove("journal"));
            }),
        ),
        (
            "unknown client mode",
            Box::new(|v| v["population"]["client_mode"] = json!("pooled")),
        ),
        (
            "timeline point without active",
            Box::new(|v| {
                v["population"]["timeline"][0]
                    .as_object_mut()
                    .map(|o| o.remove("active"));
            }),
        ),
        (
            "negative latency",
            Box::new(|v| v["population"]["operations"][0]["p99_ms"] = json!(-1.0)),
        ),
        (
            "population as a list",
            Box::new(|v| v["population"] = json!([])),
        ),
    ];
    assert_valid(&good, "the unmutated fixture");
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert_invalid(&bad, what);
    }
}
