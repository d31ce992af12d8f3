//! What the fault, kill and TLS tests share: a reference platform started in the test on
//! loopback, `duxue` run as a child process with its wall time and peak memory measured, and
//! readers of the run folder it leaves.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use duxue_platform::{PlatformConfig, RunningPlatform};
use serde_json::Value;

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
        seed: Some(7),
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

/// Runs `duxue` to the end (at most `limit`).
pub fn duxue(args: &[&str], limit: Duration) -> Finished {
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
