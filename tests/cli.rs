//! The command line's contract for bad input: one line saying what is wrong and what to do,
//! exit code 2, nothing lost.

use std::io::Write as _;
use std::process::{Command, Output};

fn duxue(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(args)
        .env_remove("DUXUE_CONFORMANCE_TOKEN")
        .output()
        .expect("the duxue binary runs")
}

fn one_line_exit_2(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got: {stderr}");
    lines[0].to_owned()
}

#[test]
fn wrong_flag_is_one_line_and_exit_2() {
    let line = one_line_exit_2(&duxue(&["certify", "--no-such-flag"]));
    assert!(line.contains("--no-such-flag"), "{line}");
    assert!(line.contains("--help"), "{line}");
}

#[test]
fn unreachable_target_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let output = duxue(&[
        "certify",
        "--target",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let line = one_line_exit_2(&output);
    assert!(line.contains("cannot reach http://127.0.0.1:9"), "{line}");
    assert!(line.contains("check --target"), "{line}");
}

#[test]
fn non_profile_target_is_one_line_and_exit_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        // Answer a bounded number of requests like an ordinary web site would.
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let body = "<html><body>Not Found</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("http://127.0.0.1:{port}");
    let output = duxue(&[
        "certify",
        "--target",
        &url,
        "--token",
        "t",
        "--out",
        dir.path().join("r").to_str().expect("utf-8"),
    ]);
    let line = one_line_exit_2(&output);
    assert!(line.contains("does not speak profile v1"), "{line}");
    drop(server);
}

#[test]
fn bad_policy_file_names_file_line_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("bad.toml");
    std::fs::write(
        &policy,
        "policy_version = 1\nid = \"x\"\n[rules]\nclass_hour_minutes = { value = \"long\" }\n",
    )
    .expect("write policy");
    let output = duxue(&[
        "certify",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--out",
        dir.path().join("r").to_str().expect("utf-8"),
    ]);
    let line = one_line_exit_2(&output);
    assert!(line.contains("bad.toml:"), "{line}");
    assert!(line.contains("--policy"), "{line}");
    assert!(!dir.path().join("r").join("report.json").exists());
}

#[test]
fn unknown_defect_lists_where_to_look() {
    let line = one_line_exit_2(&duxue(&[
        "platform",
        "serve",
        "--defect",
        "no-such-defect",
        "--port",
        "0",
    ]));
    assert!(line.contains("no-such-defect"), "{line}");
    assert!(line.contains("duxue platform defects"), "{line}");
}

#[test]
fn existing_run_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("report.json"), "{}").expect("write");
    let line = one_line_exit_2(&duxue(&[
        "certify",
        "--out",
        dir.path().to_str().expect("utf-8"),
    ]));
    assert!(line.contains("already holds a run"), "{line}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.json")).expect("read"),
        "{}"
    );
}

#[test]
fn defects_are_listed_with_their_requirements() {
    let output = duxue(&["platform", "defects"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.lines().count() >= 30, "{text}");
    assert!(text.contains("PB-1") && text.contains("SC-4"), "{text}");
}

#[test]
fn spot_check_inputs_are_checked_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();
    let spot = |accounts: &str, supervisor: &str, extra: &[&str]| {
        let mut args = vec![
            "spot-check",
            "--target",
            "http://127.0.0.1:9",
            "--accounts",
            accounts,
            "--supervisor",
            supervisor,
        ];
        args.extend_from_slice(extra);
        duxue(&args)
    };
    let missing = one_line_exit_2(&spot(&path("none.toml"), &path("none.toml"), &[]));
    assert!(missing.contains("--accounts"), "{missing}");

    std::fs::write(
        path("one.toml"),
        "[[account]]\nidentity_seed = 1\nid_number = \"x\"\npassword = \"p\"\nclass_id = \"c\"\n",
    )
    .expect("write");
    let one = one_line_exit_2(&spot(&path("one.toml"), &path("none.toml"), &[]));
    assert!(one.contains("at least two"), "{one}");

    std::fs::write(path("bad.toml"), "[[account]]\nidentity_seed = 1\n").expect("write");
    let bad = one_line_exit_2(&spot(&path("bad.toml"), &path("none.toml"), &[]));
    assert!(
        bad.contains("bad.toml") && bad.contains("fix the file"),
        "{bad}"
    );

    let duration = one_line_exit_2(&spot(
        &path("bad.toml"),
        &path("none.toml"),
        &["--duration", "ten"],
    ));
    assert!(duration.contains("--duration"), "{duration}");
}

#[test]
fn report_compare_wants_a_certification_and_a_spot_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a");
    std::fs::create_dir_all(&a).expect("dir");
    let line = one_line_exit_2(&duxue(&[
        "report",
        "compare",
        a.to_str().expect("utf-8"),
        a.to_str().expect("utf-8"),
        "--out",
        dir.path().join("out").to_str().expect("utf-8"),
    ]));
    assert!(line.contains("certification"), "{line}");
}

/// `duxue media score` on a known decision file: an engine that accepts every genuine
/// presentation and every print attack, and refuses everything else, scores exactly that; a
/// decision file that misses presentations is one line and exit 2.
#[test]
fn media_score_scores_a_known_decision_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let set = dir.path().join("set");
    let set_arg = set.to_str().expect("utf-8");
    let generated = duxue(&["media", "generate", "--out", set_arg, "--per-class", "2"]);
    assert!(generated.status.success(), "{generated:?}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(set.join("manifest.json")).expect("manifest.json"),
    )
    .expect("manifest is JSON");
    let mut csv = String::from("presentation,decision\n");
    for e in manifest["entries"].as_array().expect("entries") {
        if e["kind"] == "id_card" {
            continue;
        }
        let accept = e["label"] == "genuine" || e["species"] == "print";
        let decision = if accept { "accept" } else { "refuse" };
        csv.push_str(&format!("{},{decision}\n", e["id"].as_str().expect("id")));
    }
    let decisions = dir.path().join("decisions.csv");
    std::fs::write(&decisions, &csv).expect("write decisions");
    let decisions_arg = decisions.to_str().expect("utf-8");
    let output = duxue(&[
        "media",
        "score",
        "--set",
        set_arg,
        "--decisions",
        decisions_arg,
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let row = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start:?} in\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        row("BPCER").contains(" 0 2 0.00% ≤ 100.00% (rule of three, 3/2)"),
        "{text}"
    );
    assert!(
        row("APCER  print").contains(" 2 2 100.00% [15.81%, 100.00%]"),
        "{text}"
    );
    assert!(row("APCER  replay").contains(" 0 2 "), "{text}");
    assert!(
        row("FMR    other person's capture").contains(" 0 2 "),
        "{text}"
    );
    assert!(
        row("FNMR   genuine registration").contains(" 0 2 "),
        "{text}"
    );

    let partial = dir.path().join("partial.csv");
    let first_two: String = csv.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&partial, first_two).expect("write partial");
    let line = one_line_exit_2(&duxue(&[
        "media",
        "score",
        "--set",
        set_arg,
        "--decisions",
        partial.to_str().expect("utf-8"),
    ]));
    assert!(line.contains("have no decision"), "{line}");
}
