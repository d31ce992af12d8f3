//! Shared by the end-to-end tests: the `duxue` binary (run to the end, or as a child whose wall
//! time and peak memory are measured), a reference platform on loopback — served by its own
//! `duxue platform serve` process, or started in the test — and readers of the run folders.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use duxue_platform::{PlatformConfig, RunningPlatform};
use serde_json::Value;

pub fn duxue(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(args)
        .output()
        .expect("the duxue binary runs")
}

/// `duxue platform serve` on 127.0.0.1 with a port of the kernel's choosing and a database in
/// `dir`; stopped when dropped.
pub struct Platform {
    pub url: String,
    pub token: String,
    child: Child,
}

impl Platform {
    pub fn serve(dir: &Path) -> Platform {
        let token = format!("merge-test-{:016x}", std::process::id());
        let mut child = Command::new(env!("CARGO_BIN_EXE_duxue"))
            .args(["platform", "serve", "--address", "127.0.0.1", "--port", "0"])
            .arg("--database")
            .arg(dir.join("platform.sqlite"))
            .arg("--conformance-token")
            .arg(&token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("duxue platform serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the platform says where it listens before it exits")
                .expect("stderr is text");
            if let Some(rest) = line.strip_prefix("reference platform on ") {
                let address = rest.split_whitespace().next().expect("an address");
                break address
                    .trim_end_matches(duxue_profile::BASE_PATH)
                    .to_owned();
            }
        };
        // Keep draining its log so that a full pipe never stalls it.
        std::thread::spawn(move || lines.for_each(drop));
        Platform { url, token, child }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("JSON")
}

/// The sum of one numeric field over the rows of a JSON array.
pub fn column_sum(rows: &Value, field: &str) -> u64 {
    rows.as_array()
        .unwrap_or_else(|| panic!("an array of rows with `{field}`"))
        .iter()
        .filter_map(|row| row[field].as_u64())
        .sum()
}

/// The requirement `id` of a report.
pub fn requirement<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .and_then(|rs| rs.iter().find(|q| q["id"] == id))
        .unwrap_or_else(|| panic!("{id} in the report"))
}

/// The one line a refusal printed (exit code 2).
pub fn one_line_exit_2(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "exit 2: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr.trim().to_owned()
}

/// An instant `seconds` from now, RFC 3339: the start every shard of a test run agrees on.
pub fn start_in(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// LD-1 and LD-2 of a merged run were judged once, on the merged data: their figures count
/// every shard's learners, the merged peak held every declared learner at once (the shards
/// started together), and each verdict is the one its checks give. Whether the platform kept
/// its latency budgets on a shared test machine is not this check's business
/// (tests/population.rs holds the reference platform to them).
pub fn assert_judged_once(merged: &Value, shards: &[Value]) {
    let sum = |f: &dyn Fn(&Value) -> u64| shards.iter().map(f).sum::<u64>();
    let ld1 = requirement(merged, "LD-1");
    assert_eq!(
        ld1["figures"]["declared_peak_learners"].as_u64(),
        Some(sum(&|s| s["population"]["learners_peak"]
            .as_u64()
            .expect("learners_peak"))),
        "LD-1 declared the shards' learners together"
    );
    let honest = |r: &Value| {
        r["population"]["ledger"]
            .as_array()
            .expect("ledger")
            .iter()
            .filter(|row| row["behaviour"] == "honest")
            .map(|row| row["learners"].as_u64().expect("learners"))
            .sum::<u64>()
    };
    let ld2 = requirement(merged, "LD-2");
    assert_eq!(
        ld2["figures"]["honest_learners"].as_u64(),
        Some(sum(&honest)),
        "LD-2 counted every shard's honest learners"
    );
    // What any shard's LD-2 checked, the merged LD-2 checks too: the merge leans on no probe
    // the shards left out (`--only`).
    let names = |r: &Value| -> std::collections::BTreeSet<String> {
        r["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    };
    let merged_checks = names(ld2);
    for shard in shards {
        let missing: Vec<String> = names(requirement(shard, "LD-2"))
            .difference(&merged_checks)
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "the merged LD-2 left out checks a shard made: {missing:?}"
        );
    }
    let together = ld1["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "the declared number of learners was logged in and active at once")
        .expect("the peak check");
    assert_eq!(together["passed"], true, "one peak: {together}");
    for req in [ld1, ld2] {
        let checks = req["checks"].as_array().expect("checks");
        let all_passed = checks.iter().all(|c| c["passed"] == true);
        let any_failed = checks.iter().any(|c| c["passed"] == false);
        let expected = if all_passed {
            "PASS"
        } else if any_failed {
            "FAIL"
        } else {
            "INCONCLUSIVE"
        };
        assert_eq!(req["verdict"], expected, "{}: {}", req["id"], req["checks"]);
        assert_ne!(
            req["verdict"], "INCONCLUSIVE",
            "{}: {}",
            req["id"], req["checks"]
        );
    }
}

/// The conformance token of platforms the tests start.
pub const TOKEN: &str = "duxue-test-conformance-token";

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn platform_config(dir: &Path) -> PlatformConfig {
    PlatformConfig {
        database: dir.join("platform.sqlite"),
        policy: duxue_profile::Policy::builtin("xuchang-2022")
            .expect("built-in policy")
            .expect("policy loads"),
        application: duxue_profile::ApplicationForm::reference().expect("reference form"),
        conformance_token: Some(TOKEN.to_owned()),
        defects: Vec::new(),
        variants: Vec::new(),
        seed: Some(7),
        production_clock_scale: 1.0,
    }
}

/// The reference platform on 127.0.0.1 (plain HTTP), its database in `dir`.
pub async fn platform(dir: &Path) -> RunningPlatform {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    duxue_platform::start(platform_config(dir), listener)
        .await
        .expect("the reference platform starts")
}

/// A finished `duxue` process.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
    /// Peak resident memory of the process (VmHWM), KiB, as last sampled.
    pub peak_rss_kib: u64,
}

/// Starts `duxue` with `args`, output captured.
pub fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(args)
        .env_remove("DUXUE_CONFORMANCE_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the duxue binary runs")
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Waits for `child`, sampling its peak memory; kills it past `limit` (the test then fails on
/// the wall time).
pub fn finish(mut child: Child, limit: Duration) -> Finished {
    let started = Instant::now();
    let pid = child.id();
    let mut peak = 0;
    // Read the pipes on their own threads so a chatty child never blocks on a full pipe.
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut text);
        text
    });
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None if started.elapsed() > limit => {
                let _ = child.kill();
                break child.wait().expect("wait");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    Finished {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        wall: started.elapsed(),
        peak_rss_kib: peak,
    }
}

/// Runs `duxue` to the end (at most `limit`), its wall time and peak memory measured.
pub fn duxue_within(args: &[&str], limit: Duration) -> Finished {
    finish(spawn(args), limit)
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every line of the run's journal, parsed (each must be a whole JSON record).
pub fn journal(out: &Path) -> Vec<Value> {
    let path = out.join("evidence/journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("journal line {} is not whole: {e}: {l}", i + 1))
        })
        .collect()
}

/// The requirement entries of a report, by ID.
pub fn requirements(report: &Value) -> Vec<(String, String, String)> {
    report["requirements"]
        .as_array()
        .expect("requirements")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_owned(),
                r["verdict"].as_str().unwrap_or("").to_owned(),
                r["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

pub fn out_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

pub fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
