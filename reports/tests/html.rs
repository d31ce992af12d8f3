//! `report.html` content: every section, escaping, the no-population wording, the probe
//! phase's spoof figures, and the size of a 2,000-learner run.

mod common;

use duxue_reports::render_run;

fn render(report: &duxue_reports::RunReport, hlog_seconds: u64) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    common::write_run(dir.path(), report, hlog_seconds);
    render_run(dir.path()).expect("renders");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    (dir, html)
}

#[test]
fn every_section_is_there_with_population() {
    let (_dir, html) = render(&common::report(Some(common::population(300, 90))), 90);
    for section in [
        "id=\"verdict\"",
        "id=\"application\"",
        "id=\"requirements\"",
        "id=\"anti-cheat\"",
        "id=\"load\"",
        "id=\"freshness\"",
        "id=\"identity\"",
        "id=\"evidence\"",
    ] {
        assert!(html.contains(section), "{section} missing");
    }
    for id in common::catalog().ids() {
        assert!(html.contains(&format!("id=\"req-{id}\"")), "{id} missing");
    }
    // Annex 2 fields, the ledger, charts from the hlog, the operations table, errors.
    for text in [
        "电子商务师",
        "家政服务员",
        "popup-auto-clicker",
        "latency over time, all operations",
        "p99 latency per operation",
        "studyStatus",
        "http_503",
        "rule of three",
        "evidence/journal.jsonl",
        "load/latency.hlog",
        "#20–39",
        "xuchang-2022",
        "<svg",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    assert!(!html.contains("No population phase in this run"));
    assert!(!html.contains("could not be read"), "the hlog was read");
}

#[test]
fn strings_from_report_json_are_escaped() {
    let mut report = common::report(None);
    report.requirements[0].reason = "<script>alert(1)</script> & \"q\"".into();
    report.requirements[0]
        .figures
        .insert("<img src=x>".into(), serde_json::json!("<b>"));
    report.run.target.url = "javascript:alert(1)\"><script>".into();
    let (_dir, html) = render(&report, 0);
    assert!(!html.contains("<script"), "unescaped script");
    assert!(!html.contains("<img"), "unescaped img");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
    assert!(html.contains("督学参考平台 (duxue reference platform) &lt;b&gt;&amp;"));
}

#[test]
fn without_a_population_the_sections_say_so() {
    let (_dir, html) = render(&common::report(None), 0);
    assert!(html.contains("No population phase in this run"));
    assert!(html.contains("本次运行没有群体阶段"));
    // The probe phase's spoof figures (ID-4) are still shown.
    assert!(html.contains("Liveness spoofs (probe phase)"));
    assert!(html.contains("0/4; ≤ 75%"), "rule of three on 4 attempts");
}

#[test]
fn a_2000_learner_hour_stays_under_a_megabyte() {
    let started = std::time::Instant::now();
    let (dir, html) = render(&common::report(Some(common::population(2000, 3600))), 3600);
    assert!(
        html.len() < 1_000_000,
        "report.html of a 2,000-learner hour is {} bytes",
        html.len()
    );
    assert!(html.contains("2000"));
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).expect("summary");
    assert!(summary.contains("## population 群体阶段"), "{summary}");
    assert!(summary.contains("heartbeat"));
    eprintln!(
        "2,000 learners × 3,600 s: report.html {} bytes, rendered in {:?}",
        html.len(),
        started.elapsed()
    );
}

#[test]
fn a_shard_and_a_merged_run_say_how_they_started() {
    use duxue_reports::model::{MergeInfo, MergedShard, ShardInfo, StartSkew};
    let mut report = common::report(Some(common::population(20, 10)));
    let start_at = report.run.started_at;
    report.run.shard = Some(ShardInfo {
        index: 2,
        count: 4,
        start_at: Some(start_at),
        start: Some(StartSkew {
            started_at: start_at,
            skew_s: 0.004,
            clock_offset_s: Some(-0.12),
            clock_offset_uncertainty_s: Some(0.03),
        }),
    });
    let (_dir, html) = render(&report, 10);
    for text in [
        "Shard",
        "分片",
        "2 / 4",
        "start skew",
        "0.004 s",
        "-0.12 ± 0.03 s",
    ] {
        assert!(html.contains(text), "{text}");
    }
    report.run.shard = None;
    report.run.merged = Some(MergeInfo {
        start_at,
        largest_start_skew_s: 0.02,
        largest_clock_offset_s: Some(0.1),
        start_spread_s: 0.015,
        start_spread_bound_s: 1.0,
        shards: (0..2)
            .map(|index| MergedShard {
                index,
                run_id: format!("r{index}"),
                manifest: format!("shards/shard-{index}.manifest.json"),
                manifest_sha256: "ab".repeat(32),
                public_key: "cd".repeat(32),
                self_signed: false,
                skew_s: 0.01,
                clock_offset_s: None,
            })
            .collect(),
    });
    let (_dir, html) = render(&report, 10);
    for text in [
        "Merged from",
        "合并自",
        "(0, 1)",
        "largest start skew",
        "0.02 s",
        "0.015 s",
    ] {
        assert!(html.contains(text), "{text}");
    }
}
