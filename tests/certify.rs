//! End to end: `duxue certify` as a user runs it, every probe and the population phase, against
//! a reference platform served on its own as a bureau's conformance tenant (the embedded one is
//! certified by the calibration test's clean case).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod support;

fn certify(out: &Path, seed: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(["certify", "--seed", seed, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("the duxue binary runs");
    let report = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "no report.json ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code(),
        serde_json::from_str(&report).expect("report.json is JSON"),
    )
}

fn verdicts(report: &Value) -> Vec<(String, String)> {
    report["requirements"]
        .as_array()
        .expect("requirements array")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_owned(),
                r["verdict"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Every requirement PASS but SC-1 (SKIPPED: a loopback target has no transport to judge), and
/// the verdict CERTIFIED with exit 0.
fn assert_certified(code: Option<i32>, report: &Value, run: &str) {
    let unexpected: Vec<_> = verdicts(report)
        .iter()
        .filter(|(id, v)| match id.as_str() {
            "SC-1" => v != "SKIPPED",
            _ => v != "PASS",
        })
        .map(|(id, _)| format!("{id} {}", verdict_of(report, id)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{run} run, unexpected verdicts:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(report["verdict"], "CERTIFIED", "{run} run");
    assert_eq!(code, Some(0), "{run} run");
}

/// The main job against a bureau's conformance tenant, twice with the same seed: profile v1
/// makes ID numbers unique platform-wide and a tenant is not wiped between runs, so the second
/// run must register new people (its own run nonce) and be CERTIFIED as the first was, with
/// the same probe verdicts; the first run's seed and nonce again reproduce its people, who are
/// then refused as duplicates. Each run is the whole job: every probe and the default
/// population phase.
#[test]
fn the_main_job_certifies_and_a_rerun_with_the_same_seed_against_one_tenant_certifies_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    // One SQLite file that keeps every learner between the runs, as a bureau's tenant does.
    let served = support::Platform::serve(dir.path());
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--target",
            served.url.as_str(),
            "--token",
            served.token.as_str(),
        ];
        args.extend_from_slice(extra);
        certify(&dir.path().join(name), "20221109", &args)
    };

    let (code, first) = run("first", &[]);
    assert_eq!(first["schema"], "duxue.report/v1");
    assert_eq!(
        verdicts(&first).len(),
        35,
        "one entry per catalog requirement"
    );
    assert_certified(code, &first, "first");
    let first_out = dir.path().join("first");
    for file in [
        "report.json",
        "report.html",
        "summary.md",
        "junit.xml",
        "manifest.json",
        "manifest.sig",
        "evidence/journal.jsonl",
        "load/latency.hlog",
        "load/learners.jsonl",
    ] {
        assert!(first_out.join(file).exists(), "{file} written");
    }
    assert_population_held(&first, &first_out);
    let schema_errors = duxue_reports::validate_report_json(&first).expect("schema loads");
    assert!(
        schema_errors.is_empty(),
        "report.json vs schema: {schema_errors:?}"
    );
    let verify = Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(["report", "verify"])
        .arg(&first_out)
        .output()
        .expect("the duxue binary runs");
    assert_eq!(verify.status.code(), Some(0), "the bundle verifies");
    assert_no_secrets(&first_out);

    let (code, second) = run("second", &[]);
    assert_certified(code, &second, "second");
    let nonce = |r: &Value| r["run"]["run_nonce"].as_u64().expect("run_nonce recorded");
    assert_ne!(
        nonce(&first),
        nonce(&second),
        "each run draws its own nonce"
    );
    let probes_only = |v: Vec<(String, String)>| -> Vec<(String, String)> {
        v.into_iter()
            .filter(|(id, _)| !id.starts_with("LD-"))
            .collect()
    };
    assert_eq!(
        probes_only(verdicts(&second)),
        probes_only(verdicts(&first)),
        "the same seed gave other probe verdicts"
    );

    // The first run's seed and nonce again: the same people, already registered.
    let first_nonce = nonce(&first).to_string();
    let (_, again) = run(
        "again",
        &[
            "--run-nonce",
            &first_nonce,
            "--learners",
            "0",
            "--only",
            "ID-1",
        ],
    );
    assert_eq!(nonce(&again), nonce(&first));
    let v = verdict_of(&again, "ID-1");
    assert!(!v.starts_with("PASS"), "the same people twice: ID-1 {v}");
    let id1 = again["requirements"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == "ID-1"))
        .map(Value::to_string)
        .unwrap_or_default();
    assert!(id1.contains("duplicate_learner"), "ID-1 {id1}");
}

/// The default population at the peak (its LD-1 and LD-2 PASS are `assert_certified`'s): a
/// ledger row per behaviour of the default mix holding every learner, every cheat tried and
/// none credited, and the interval log's heartbeat histograms.
fn assert_population_held(report: &Value, out: &Path) {
    let ledger = report["population"]["ledger"]
        .as_array()
        .expect("ledger rows");
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
    let log = std::fs::read_to_string(out.join("load/latency.hlog")).expect("hlog");
    assert!(
        log.lines().any(|l| l.contains("Tag=heartbeat")),
        "interval log holds heartbeat histograms"
    );
}

/// No conformance token (`duxue-` and 32 hex digits, the embedded platform's), learner password
/// (`pw-` and 16 hex digits) or unredacted token field in any file of the bundle.
fn assert_no_secrets(dir: &Path) {
    fn hex_run_after(text: &str, prefix: &str, len: usize) -> bool {
        text.match_indices(prefix).any(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            rest.len() >= len && rest[..len].chars().all(|c| c.is_ascii_hexdigit())
        })
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("readable folder") {
                stack.push(entry.expect("entry").path());
            }
            continue;
        }
        let text =
            String::from_utf8_lossy(&std::fs::read(&path).expect("readable file")).into_owned();
        assert!(
            !hex_run_after(&text, "duxue-", 32),
            "a conformance token in {}",
            path.display()
        );
        assert!(
            !hex_run_after(&text, "pw-", 16),
            "a password in {}",
            path.display()
        );
        for (i, _) in text.match_indices("\"token\":\"") {
            let value = &text[i + 9..];
            assert!(
                value.starts_with("<redacted>"),
                "a token in {}",
                path.display()
            );
        }
    }
}

fn verdict_of(report: &Value, id: &str) -> String {
    report["requirements"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == id))
        .map(|r| format!("{} ({})", r["verdict"].as_str().unwrap_or(""), r["reason"]))
        .unwrap_or_default()
}
