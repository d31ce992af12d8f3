//! `summary.md`: one screen for a person, in Chinese and English.

use std::fmt::Write as _;

use duxue_profile::Verdict;

use crate::model::{RunReport, RunVerdict};

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = match report.verdict {
        RunVerdict::Certified => "CERTIFIED 通过认证",
        RunVerdict::NotCertified => "NOT CERTIFIED 未通过认证",
    };
    let run = &report.run;
    let _ = writeln!(out, "# duxue 督学 — {verdict}\n");
    let _ = writeln!(out, "| | |\n| --- | --- |");
    let _ = writeln!(
        out,
        "| target 平台 | {} ({}) |",
        run.target.platform_name, run.target.url
    );
    let _ = writeln!(
        out,
        "| policy 政策 | {} (sha256 {}) |",
        run.policy_id,
        short(&run.policy_sha256)
    );
    let _ = writeln!(
        out,
        "| catalog 要求目录 | {} (sha256 {}) |",
        run.catalog_version,
        short(&run.catalog_sha256)
    );
    let _ = writeln!(
        out,
        "| seed / clock scale | {} / ×{} |",
        run.seed, run.clock_scale
    );
    let _ = writeln!(out, "| started 开始 | {} |", run.started_at.to_rfc3339());
    let _ = writeln!(
        out,
        "| wall time 用时 | {:.1} s, {} requests |",
        run.wall_seconds, run.requests
    );
    if !run.target.defects.is_empty() {
        let _ = writeln!(
            out,
            "| defects (calibration) | {} |",
            run.target.defects.join(", ")
        );
    }
    let _ = writeln!(out, "\n{}\n", counts_line(report, " · "));
    let _ = writeln!(
        out,
        "| ID | verdict | requirement 要求 | reason |\n| --- | --- | --- | --- |"
    );
    for r in &report.requirements {
        let mark = match r.verdict {
            Verdict::Pass => "✅ PASS",
            Verdict::Fail => "❌ FAIL",
            Verdict::Warning => "⚠️ WARNING",
            Verdict::Skipped => "➖ SKIPPED",
            Verdict::Inconclusive => "❔ INCONCLUSIVE",
        };
        let _ = writeln!(
            out,
            "| {} | {mark} | {} {} | {} |",
            r.id,
            escape(&r.text_zh),
            escape(&r.text_en),
            escape(&r.reason)
        );
    }
    out
}

/// "31 PASS · 1 SKIPPED …": the verdicts that occurred, with their counts.
pub fn counts_line(report: &RunReport, separator: &str) -> String {
    let counts: Vec<String> = report
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    counts.join(separator)
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
