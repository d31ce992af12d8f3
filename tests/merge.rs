//! End to end: shards of one population run against one reference platform (its own
//! `duxue platform serve` on loopback), started together by `--start-at` and merged. The
//! merged run holds both shards' learners, adds their histograms, judges LD-1 and LD-2 once,
//! lists the shards' manifests and is signed with the operator's key. Everything that is not
//! shards 0..N-1 of one run, sealed and started together, is refused with one line and exit 2:
//! a tampered shard, a shard signed with another key, a wrong seed, another target, a missing
//! or duplicate shard, a shard without an agreed start, a shard that started late.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use support::{Platform, column_sum, duxue, one_line_exit_2, report, start_in};

/// Runs one shard: `--only SC-4` keeps its probe phase to a few requests.
fn shard(platform: &Platform, out: &Path, index: &str, seed: &str, learners: &str, start: &str) {
    let key = out.with_file_name("shard.key");
    let output = duxue(&[
        "certify",
        "--target",
        &platform.url,
        "--token",
        &platform.token,
        "--seed",
        seed,
        "--run-nonce",
        "1",
        "--only",
        "SC-4",
        "--learners",
        learners,
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
        "--start-at",
        start,
        "--signing-key",
        key.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        out.join("report.json").exists(),
        "shard {index}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn keygen(path: &Path) {
    let output = duxue(&["report", "keygen", path.to_str().expect("utf-8")]);
    assert!(output.status.success(), "keygen");
}

fn merge(dirs: &[&Path], out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| d.to_str().expect("utf-8")));
    args.extend(["--out", out.to_str().expect("utf-8")]);
    args.extend(extra);
    duxue(&args)
}

/// Copies a run folder (one level of subfolders, as run folders have).
fn copy_run(from: &Path, to: &Path) {
    for entry in walk(from) {
        let target = to.join(entry.strip_prefix(from).expect("inside"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&entry, &target).expect("copy");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Rewrites a shard's report.json with `edit` and seals it again with the shard key: a shard
/// as `duxue certify` would have written it had it run that way.
fn reseal(dir: &Path, key: &Path, edit: impl FnOnce(&mut Value)) {
    let mut r = report(dir);
    edit(&mut r);
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(&r).expect("json"),
    )
    .expect("write");
    let output = duxue(&[
        "report",
        "render",
        dir.to_str().expect("utf-8"),
        "--signing-key",
        key.to_str().expect("utf-8"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn shards_of_one_run_merge_and_everything_else_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let (a, b, c, d) = (
        root.join("a"),
        root.join("b"),
        root.join("c"),
        root.join("d"),
    );
    let platform = Platform::serve(root);
    std::fs::create_dir_all(root.join("other")).expect("mkdir");
    let other_platform = Platform::serve(&root.join("other"));
    keygen(&root.join("shard.key"));
    keygen(&root.join("merge.key"));
    keygen(&root.join("stranger.key"));
    let start = start_in(15);
    std::thread::scope(|s| {
        s.spawn(|| shard(&platform, &a, "0/2", "7", "40", &start));
        s.spawn(|| shard(&platform, &b, "1/2", "7", "40", &start));
        // Shards of other runs: another seed, another platform.
        s.spawn(|| shard(&platform, &c, "1/2", "8", "2", &start));
        s.spawn(|| shard(&other_platform, &d, "1/2", "7", "2", &start));
    });

    // The start barrier: each shard started at the agreed instant, measured its clock against
    // the platform's (the same machine's clock: the offset's interval holds zero).
    let agreed = chrono::DateTime::parse_from_rfc3339(&start).expect("start");
    for shard_dir in [&a, &b] {
        let info = &report(shard_dir)["run"]["shard"];
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(info["start_at"].as_str().expect("start_at"))
                .expect("date"),
            agreed
        );
        let skew = info["start"]["skew_s"].as_f64().expect("skew");
        assert!((0.0..0.5).contains(&skew), "started on time: {info}");
        let offset = info["start"]["clock_offset_s"].as_f64().expect("offset");
        let uncertainty = info["start"]["clock_offset_uncertainty_s"]
            .as_f64()
            .expect("uncertainty");
        assert!(
            uncertainty <= 0.5,
            "the Date header's turn was seen: {info}"
        );
        assert!(offset.abs() <= uncertainty + 0.002, "one clock: {info}");
    }

    let merged = root.join("merged");
    let key_pub = root.join("shard.key.pub");
    let key_pub = key_pub.to_str().expect("utf-8");
    let merge_key = root.join("merge.key");
    let output = merge(
        &[&b, &a],
        &merged,
        &[
            "--public-key",
            key_pub,
            "--signing-key",
            merge_key.to_str().expect("utf-8"),
        ],
    );
    assert!(
        merged.join("report.json").exists(),
        "merge: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("largest start skew"), "{stdout}");
    let r = report(&merged);
    let population = &r["population"];
    assert_eq!(population["learners_peak"], 80, "both shards' learners");
    assert_eq!(
        column_sum(&population["ledger"], "learners"),
        80,
        "every learner of both shards in the ledger"
    );
    let shard_requests: u64 = [&a, &b]
        .iter()
        .map(|d| column_sum(&report(d)["population"]["operations"], "count"))
        .sum();
    assert_eq!(
        column_sum(&population["operations"], "count"),
        shard_requests,
        "histograms added, nothing lost"
    );
    support::assert_judged_once(&r, &[report(&a), report(&b)]);
    assert!(merged.join("evidence/shard-0.jsonl").exists());
    assert!(merged.join("evidence/shard-1.jsonl").exists());
    // The merged run lists the shards' manifests, keeps copies, and is signed by the operator.
    let listed = r["run"]["merged"]["shards"].as_array().expect("shards");
    assert_eq!(listed.len(), 2);
    for (k, (entry, shard_dir)) in listed.iter().zip([&a, &b]).enumerate() {
        assert_eq!(entry["index"], k as u64);
        let manifest = std::fs::read(shard_dir.join("manifest.json")).expect("manifest");
        assert_eq!(
            entry["manifest_sha256"],
            hex::encode(Sha256::digest(&manifest))
        );
        let copy = entry["manifest"].as_str().expect("path");
        assert_eq!(std::fs::read(merged.join(copy)).expect("copy"), manifest);
        assert_eq!(entry["self_signed"], false);
    }
    assert!(
        r["run"]["merged"]["start_spread_s"]
            .as_f64()
            .expect("spread")
            <= 1.0
    );
    let merge_pub = root.join("merge.key.pub");
    let verify = duxue(&[
        "report",
        "verify",
        merged.to_str().expect("utf-8"),
        "--public-key",
        merge_pub.to_str().expect("utf-8"),
    ]);
    assert_eq!(verify.status.code(), Some(0), "signed with --signing-key");

    // Refusals: one line, exit 2, nothing written.
    let refused = |dirs: &[&Path], extra: &[&str], says: &[&str]| {
        let out = root.join(format!("refused-{}", rand_suffix()));
        let line = one_line_exit_2(&merge(dirs, &out, extra));
        for word in says {
            assert!(line.contains(word), "`{word}` in: {line}");
        }
        assert!(!out.join("report.json").exists(), "{line}");
    };
    let tampered = root.join("tampered");
    copy_run(&b, &tampered);
    let tallies = tampered.join("load/learners.jsonl");
    let mut text = std::fs::read_to_string(&tallies).expect("tallies");
    text = text.replacen("\"credited_seconds\":", "\"credited_seconds\":1", 1);
    std::fs::write(&tallies, text).expect("write");
    refused(
        &[&a, &tampered],
        &[],
        &["tampered", "load/learners.jsonl changed"],
    );
    let stranger = root.join("stranger.key.pub");
    refused(
        &[&a, &b],
        &["--public-key", stranger.to_str().expect("utf-8")],
        &["another key"],
    );
    refused(&[&a, &c], &[], &["shard 1", "seed 8", "shard 0", "has 7"]);
    refused(&[&a, &d], &[], &["shard 1", "target", &other_platform.url]);
    refused(&[&a], &[], &["shard 1 of 2 is missing"]);
    refused(&[&a, &a, &b], &[], &["shard 0 is given twice"]);

    let shard_key = root.join("shard.key");
    let late = root.join("late");
    copy_run(&b, &late);
    reseal(&late, &shard_key, |r| {
        let start = &mut r["run"]["shard"]["start"];
        let at = chrono::DateTime::parse_from_rfc3339(start["started_at"].as_str().expect("at"))
            .expect("date")
            + chrono::Duration::seconds(3);
        start["started_at"] = Value::from(at.to_rfc3339());
        start["skew_s"] = Value::from(3.0);
    });
    // Shard 1 began 3 s later than it did; shard 0 began within a few hundredths of shard 1's
    // real start either way, so the spread read back lies between 2 and 4 s.
    let late_out = root.join("late-out");
    let line = one_line_exit_2(&merge(&[&a, &late], &late_out, &["--public-key", key_pub]));
    for word in ["shard 1", "after shard 0", "more than the 1 s"] {
        assert!(line.contains(word), "`{word}` in: {line}");
    }
    assert!(!late_out.join("report.json").exists(), "{line}");
    let spread: f64 = line
        .split("started ")
        .nth(1)
        .and_then(|rest| rest.split(" s after").next())
        .and_then(|figure| figure.parse().ok())
        .unwrap_or_else(|| panic!("a spread in: {line}"));
    assert!((2.0..4.0).contains(&spread), "{line}");
    let unagreed = root.join("unagreed");
    copy_run(&b, &unagreed);
    reseal(&unagreed, &shard_key, |r| {
        let shard = r["run"]["shard"].as_object_mut().expect("shard");
        shard.remove("start_at");
    });
    refused(&[&a, &unagreed], &[], &["no agreed start"]);
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn a_start_in_the_past_or_unreadable_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (start, says) in [
        ("2020-01-01T00:00:00Z", "in the past"),
        ("tomorrow", "neither RFC 3339 nor +SECONDS"),
    ] {
        let out = dir.path().join("r");
        let line = one_line_exit_2(&duxue(&[
            "certify",
            "--start-at",
            start,
            "--out",
            out.to_str().expect("utf-8"),
        ]));
        assert!(line.contains("--start-at") && line.contains(says), "{line}");
        assert!(!out.join("report.json").exists());
    }
}
