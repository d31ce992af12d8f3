//! End to end: the population phase against the reference platform with each of the two load
//! defects. A few hundred learners at clock scale 20 (each studying learner sends
//! two heartbeats a wall second), probes limited to one cheap requirement so the population is
//! what is judged.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run_population(out: &Path, defect: Option<&str>) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_duxue"));
    command.args([
        "certify",
        "--seed",
        "20221109",
        "--only",
        "SC-4",
        "--learners",
        "200",
        "--ramp-up",
        "15",
        "--hold",
        "30",
        "--ramp-down",
        "5",
        "--out",
    ]);
    command.arg(out);
    if let Some(defect) = defect {
        command.args(["--defect", defect]);
    }
    let output = command.output().expect("the duxue binary runs");
    let text = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "no report.json ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    serde_json::from_str(&text).expect("report.json is JSON")
}

fn requirement<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("{id} in report.json"))
}

fn verdict(report: &Value, id: &str) -> String {
    let r = requirement(report, id);
    format!("{} ({})", r["verdict"].as_str().unwrap_or("?"), r["reason"])
}

/// The clean platform's population (LD-1 and LD-2 PASS, its ledger and interval log) is judged
/// by `tests/certify.rs`, whose main job runs the same default population; here each load
/// defect fails its requirement.
#[test]
fn each_load_defect_fails_its_requirement() {
    let dir = tempfile::tempdir().expect("temp dir");

    let slow = run_population(&dir.path().join("slow"), Some("slow-under-load"));
    assert!(
        verdict(&slow, "LD-1").starts_with("FAIL"),
        "slow-under-load: LD-1 {}",
        verdict(&slow, "LD-1")
    );

    let open = run_population(&dir.path().join("open"), Some("fail-open-under-load"));
    assert!(
        verdict(&open, "LD-2").starts_with("FAIL"),
        "fail-open-under-load: LD-2 {}",
        verdict(&open, "LD-2")
    );
}
