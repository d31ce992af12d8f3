//! End to end: `duxue certify` on the bundled reference platform, as a user runs it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

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

#[test]
fn clean_reference_platform_is_certified_and_its_probe_verdicts_repeat() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The main job as a user runs it: probes and the default population phase.
    let main_out = dir.path().join("main");
    let (code, report) = certify(&main_out, "20221109", &[]);
    assert_eq!(report["schema"], "duxue.report/v1");
    let verdicts0 = verdicts(&report);
    assert_eq!(verdicts0.len(), 35, "one entry per catalog requirement");
    let unexpected: Vec<_> = verdicts0
        .iter()
        .filter(|(id, v)| match id.as_str() {
            "SC-1" => v != "SKIPPED",
            _ => v != "PASS",
        })
        .map(|(id, v)| {
            let reason = report["requirements"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["id"] == id.as_str()))
                .map(|r| r["reason"].to_string())
                .unwrap_or_default();
            format!("{id} {v}: {reason}")
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected verdicts:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(report["verdict"], "CERTIFIED");
    assert_eq!(code, Some(0));
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
        assert!(main_out.join(file).exists(), "{file} written");
    }
    let schema_errors = duxue_reports::validate_report_json(&report).expect("schema loads");
    assert!(
        schema_errors.is_empty(),
        "report.json vs schema: {schema_errors:?}"
    );
    let verify = Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(["report", "verify"])
        .arg(&main_out)
        .output()
        .expect("the duxue binary runs");
    assert_eq!(verify.status.code(), Some(0), "the bundle verifies");
    assert_no_secrets(&main_out);

    // The same seed twice more, at once, probes only: the same probe verdicts.
    let outs: Vec<_> = (1..3).map(|n| dir.path().join(format!("run{n}"))).collect();
    let runs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = outs
            .iter()
            .map(|out| s.spawn(|| certify(out, "20221109", &["--learners", "0"])))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("run thread"))
            .collect()
    });
    let probes_only = |v: Vec<(String, String)>| -> Vec<(String, String)> {
        v.into_iter()
            .filter(|(id, _)| !id.starts_with("LD-"))
            .collect()
    };
    for (n, (code, other)) in runs.iter().enumerate() {
        assert_eq!(
            probes_only(verdicts(other)),
            probes_only(verdicts0.clone()),
            "run {n} with the same seed gave other verdicts"
        );
        assert_eq!(
            *code,
            Some(1),
            "without a population LD-1/LD-2 stay INCONCLUSIVE"
        );
    }
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

/// A reference platform served on its own, as a bureau's conformance tenant would be: one
/// SQLite file that keeps every learner between runs. Killed when dropped.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Served {
    fn start(database: &Path, token: &str) -> Served {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_duxue"))
            .args([
                "platform",
                "serve",
                "--port",
                "0",
                "--conformance-token",
                token,
            ])
            .arg("--database")
            .arg(database)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the duxue binary runs");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut line = String::new();
        std::io::BufReader::new(stderr)
            .read_line(&mut line)
            .expect("the platform says where it listens");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .and_then(|u| u.strip_suffix("/profile/v1"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn verdict_of(report: &Value, id: &str) -> String {
    report["requirements"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == id))
        .map(|r| format!("{} ({})", r["verdict"].as_str().unwrap_or(""), r["reason"]))
        .unwrap_or_default()
}

/// Profile v1 makes ID numbers unique platform-wide and a bureau's tenant is not wiped between
/// runs: a rerun with the same seed must register new people (the run nonce), and a rerun with
/// the same seed and nonce reproduces the first run's people, who are then refused as
/// duplicates. The probes run are the registration and login ones (every other probe makes its
/// learners through the same fixture, so these show whether a rerun's people are new) plus
/// EN-1, whose learner carries an enrolment history.
#[test]
fn a_rerun_with_the_same_seed_against_one_tenant_registers_new_people() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = Served::start(&dir.path().join("tenant.sqlite"), "rerun-token");
    let only = "ID-1,ID-2,ID-3,EN-1";
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--target",
            served.url.as_str(),
            "--token",
            "rerun-token",
            "--learners",
            "0",
            "--clock-scale",
            "30",
            "--only",
            only,
        ];
        args.extend_from_slice(extra);
        certify(&dir.path().join(name), "20221109", &args).1
    };
    let first = run("first", &[]);
    let second = run("second", &[]);
    let nonce = |r: &Value| r["run"]["run_nonce"].as_u64().expect("run_nonce recorded");
    assert_ne!(
        nonce(&first),
        nonce(&second),
        "each run draws its own nonce"
    );
    for id in only.split(',') {
        for (name, report) in [("first", &first), ("second", &second)] {
            let v = verdict_of(report, id);
            assert!(v.starts_with("PASS"), "{name} run, {id}: {v}");
        }
    }
    // The first run's seed and nonce again: the same people, already registered.
    let first_nonce = nonce(&first).to_string();
    let again = run("again", &["--run-nonce", &first_nonce]);
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
