//! End to end: two shards of one population run, merged. The merged run holds both shards'
//! learners, adds their histograms, judges LD-1 and LD-2 once, and is sealed; shards of other
//! runs are refused with exit 2.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn duxue(args: &[&str], out: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_duxue"));
    command.args(args);
    if let Some(out) = out {
        command.arg("--out").arg(out);
    }
    command.output().expect("the duxue binary runs")
}

fn shard(out: &Path, index: &str, seed: &str) {
    let output = duxue(
        &[
            "certify",
            "--seed",
            seed,
            "--run-nonce",
            "1",
            "--only",
            "SC-4",
            "--learners",
            "40",
            "--population-clock-scale",
            "30",
            "--ramp-up",
            "5",
            "--hold",
            "30",
            "--ramp-down",
            "2",
            "--shard",
            index,
        ],
        Some(out),
    );
    assert!(
        out.join("report.json").exists(),
        "shard {index}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn shards_merge_into_one_run_and_foreign_shards_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    std::thread::scope(|s| {
        s.spawn(|| shard(&a, "0/2", "7"));
        s.spawn(|| shard(&b, "1/2", "7"));
    });
    let merged = dir.path().join("merged");
    let output = duxue(
        &[
            "merge",
            a.to_str().expect("utf-8"),
            b.to_str().expect("utf-8"),
        ],
        Some(&merged),
    );
    assert!(
        merged.join("report.json").exists(),
        "merge: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let r = report(&merged);
    let population = &r["population"];
    assert_eq!(population["learners_peak"], 80, "both shards' learners");
    let learners = column_sum(&population["ledger"], "learners");
    assert_eq!(learners, 80, "every learner of both shards in the ledger");
    let requests = column_sum(&population["operations"], "count");
    let shard_requests: u64 = [&a, &b]
        .iter()
        .map(|d| column_sum(&report(d)["population"]["operations"], "count"))
        .sum();
    assert_eq!(requests, shard_requests, "histograms added, nothing lost");
    for id in ["LD-1", "LD-2"] {
        let req = r["requirements"]
            .as_array()
            .and_then(|rs| rs.iter().find(|q| q["id"] == id))
            .expect("requirement");
        assert_eq!(req["verdict"], "PASS", "{id}: {}", req["reason"]);
    }
    assert!(merged.join("evidence/shard-0.jsonl").exists());
    assert!(merged.join("evidence/shard-1.jsonl").exists());
    let verify = duxue(&["report", "verify", merged.to_str().expect("utf-8")], None);
    assert_eq!(verify.status.code(), Some(0), "the merged bundle verifies");

    // A shard of another run (another seed) is refused.
    shard(&c, "1/2", "8");
    let refused = duxue(
        &[
            "merge",
            a.to_str().expect("utf-8"),
            c.to_str().expect("utf-8"),
        ],
        Some(&dir.path().join("bad")),
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("seed"), "{stderr}");
}

/// The sum of one numeric field over the rows of a JSON array.
fn column_sum(rows: &Value, field: &str) -> u64 {
    rows.as_array()
        .unwrap_or_else(|| panic!("an array of rows with `{field}`"))
        .iter()
        .filter_map(|row| row[field].as_u64())
        .sum()
}
