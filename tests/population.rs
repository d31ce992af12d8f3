//! End to end: the population phase against the reference platform, clean and with each of
//! the two load defects. A few hundred learners at clock scale 20 (each studying learner sends
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

#[test]
fn clean_platform_holds_the_peak_and_its_controls_and_each_load_defect_fails_its_requirement() {
    let dir = tempfile::tempdir().expect("temp dir");

    let clean_out = dir.path().join("clean");
    let clean = run_population(&clean_out, None);
    assert!(
        verdict(&clean, "LD-1").starts_with("PASS"),
        "LD-1 {}",
        verdict(&clean, "LD-1")
    );
    assert!(
        verdict(&clean, "LD-2").starts_with("PASS"),
        "LD-2 {}",
        verdict(&clean, "LD-2")
    );
    let section = &clean["population"];
    let ledger = section["ledger"].as_array().expect("ledger rows");
    assert_eq!(ledger.len(), 15, "a row per behaviour of the default mix");
    let learners: u64 = ledger.iter().filter_map(|r| r["learners"].as_u64()).sum();
    assert_eq!(learners, 200, "every learner is in the ledger");
    for row in ledger {
        assert_eq!(
            row["cheating_seconds_credited"].as_f64(),
            Some(0.0),
            "no cheating second credited: {row}"
        );
    }
    let attempts: u64 = ledger
        .iter()
        .filter_map(|r| r["cheat_attempts"].as_u64())
        .sum();
    assert!(
        attempts >= 14,
        "every cheat type tried: {attempts} attempts"
    );
    let log = std::fs::read_to_string(clean_out.join("load/latency.hlog")).expect("hlog");
    assert!(
        log.lines().any(|l| l.contains("Tag=heartbeat")),
        "interval log holds heartbeat histograms"
    );

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
