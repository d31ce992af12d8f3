//! End to end: `duxue calibrate` proves every check can fail. The clean reference platform has
//! no FAIL, and every defect switch fails exactly the requirement(s) the expected-failures
//! manifest names, the load defects through the population phase (run for the clean case and
//! the two load defects only, one at a time, after the probe-only cases).

use std::process::Command;

use serde_json::Value;

#[test]
fn calibration_is_calibrated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("calibration");
    let output = Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args([
            "calibrate",
            "--seed",
            "20221109",
            "--parallel",
            "6",
            "--ramp-up",
            "15",
            "--hold",
            "30",
            "--ramp-down",
            "5",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("the duxue binary runs");
    let text = std::fs::read_to_string(out.join("calibration.json")).unwrap_or_else(|e| {
        panic!(
            "no calibration.json ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let calibration: Value = serde_json::from_str(&text).expect("calibration.json is JSON");
    let cases = calibration["cases"].as_array().expect("cases");
    let misses: Vec<String> = cases
        .iter()
        .filter(|c| c["ok"] != true || !c["not_calibrated"].is_null())
        .map(|c| {
            format!(
                "{}: expected {} failed {}",
                c["defect"], c["expected"], c["failed"]
            )
        })
        .collect();
    assert!(
        misses.is_empty(),
        "miscalibrated cases:\n{}",
        misses.join("\n")
    );
    assert_eq!(calibration["verdict"], "CALIBRATED");
    assert_eq!(output.status.code(), Some(0));
    let clean = cases
        .iter()
        .find(|c| c["defect"] == "clean")
        .expect("a clean case");
    assert_eq!(clean["failed"], Value::Array(Vec::new()));
    let calibrated = cases
        .iter()
        .filter(|c| c["ok"] == true && c["defect"] != "clean")
        .count();
    assert_eq!(
        calibrated,
        duxue_platform_defects(),
        "every defect switch is calibrated"
    );
}

/// How many defect switches `duxue platform defects` lists.
fn duxue_platform_defects() -> usize {
    let output = Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(["platform", "defects"])
        .output()
        .expect("the duxue binary runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}
