//! `summary.md`: one screen for a person, in Chinese and English.

use std::fmt::Write as _;

use duxue_profile::Verdict;

use crate::model::{PopulationReport, RunMode, RunReport, RunVerdict};

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = match (report.mode, report.verdict) {
        (RunMode::Certify, RunVerdict::Certified) => "CERTIFIED 通过认证",
        (RunMode::Certify, RunVerdict::NotCertified) => "NOT CERTIFIED 未通过认证",
        (RunMode::SpotCheck, RunVerdict::Certified) => {
            "spot check: CERTIFIED 抽查未发现问题 (production, real time)"
        }
        (RunMode::SpotCheck, RunVerdict::NotCertified) => {
            "spot check: NOT CERTIFIED 抽查未通过 (production, real time)"
        }
        (RunMode::Certify, RunVerdict::Interrupted) => "INTERRUPTED 运行中断",
        (RunMode::SpotCheck, RunVerdict::Interrupted) => "spot check: INTERRUPTED 抽查中断",
    };
    let run = &report.run;
    let _ = writeln!(out, "# duxue 督学 — {verdict}\n");
    if let Some(c) = &report.comparison {
        let _ = writeln!(
            out,
            "Lab against road 认证与抽查对比: certification {}, spot check {} ({}); {}\n",
            c.certify_verdict.as_str(),
            c.spot_check.verdict.as_str(),
            c.spot_check.run_id,
            if c.divergent.is_empty() {
                "nothing diverged 无不一致".to_owned()
            } else {
                format!(
                    "DIVERGENT 不一致 (passed in the lab, failed on production): {}",
                    c.divergent.join(", ")
                )
            }
        );
    }
    if let Some(interruption) = &report.interrupted {
        let _ = writeln!(out, "> {}\n", interruption_note(interruption, " / "));
    }
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
        "| seed / run nonce / clock scale | {} / {} / ×{} |",
        run.seed, run.run_nonce, run.clock_scale
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
    if !run.target.variants.is_empty() {
        let _ = writeln!(
            out,
            "| conforming variant 合规变体 | {} |",
            run.target.variants.join(", ")
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
    if let Some(p) = &report.population {
        population(&mut out, p);
    }
    out
}

/// The population phase: shape, throughput, the ledger and the per-operation latencies.
fn population(out: &mut String, p: &PopulationReport) {
    let _ = writeln!(out, "\n## population 群体阶段\n");
    let _ = writeln!(
        out,
        "{} learners at peak ({} client), ramp {}/{}/{} s; {} requests, {} errors in {:.1} s\n",
        p.learners_peak,
        p.client_mode.as_str(),
        p.shape.ramp_up_s,
        p.shape.hold_s,
        p.shape.ramp_down_s,
        p.requests,
        p.errors,
        p.wall_seconds
    );
    let _ = writeln!(
        out,
        "| behaviour 行为 | learners | cheat attempts | refused | credited s | cheating credited s | honest denied s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &p.ledger {
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            escape(&r.behaviour),
            if r.cheat { " (cheat)" } else { "" },
            r.learners,
            r.cheat_attempts,
            r.attempts_refused,
            r.credited_seconds,
            r.cheating_seconds_credited,
            r.honest_seconds_denied
        );
    }
    if !p.operations.is_empty() {
        let _ = writeln!(
            out,
            "\n| operation 操作 | count | errors | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        );
        for o in &p.operations {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} |",
                escape(&o.operation),
                o.count,
                o.errors,
                o.p50_ms,
                o.p99_ms,
                o.max_ms
            );
        }
    }
    let f = &p.supervisor_freshness;
    let _ = writeln!(
        out,
        "\nsupervisor freshness 监管实时性: {} samples, p99 {:.0} ms, max {:.0} ms (bound {:.0} ms)",
        f.samples, f.p99_ms, f.max_ms, f.bound_ms
    );
    if !p.spoofing.is_empty() {
        let spoofs: Vec<String> = p
            .spoofing
            .iter()
            .map(|s| {
                format!(
                    "{} {}/{} refused",
                    escape(&s.species),
                    s.refused,
                    s.attempts
                )
            })
            .collect();
        let _ = writeln!(out, "\nspoofs 假体攻击: {}", spoofs.join(" · "));
    }
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

/// What an interruption means, in Chinese and English joined by `join`.
pub fn interruption_note(interruption: &crate::model::Interruption, join: &str) -> String {
    let (cause_zh, cause) = if interruption.cause == crate::model::Interruption::UNKNOWN {
        (
            "进程被终止或崩溃".to_owned(),
            "the process stopped (killed or crashed)".to_owned(),
        )
    } else {
        (
            format!("收到 {}", interruption.cause),
            format!("{} received", interruption.cause),
        )
    };
    let torn = if interruption.torn_journal_lines > 0 {
        format!(
            "; {} torn journal line(s) at the end dropped",
            interruption.torn_journal_lines
        )
    } else {
        String::new()
    };
    format!(
        "运行未完成（{cause_zh}），本报告仅含中断前已判定的要求，不构成认证{join}The run stopped before it finished ({cause}, {}){torn}: this report holds what was judged by then and is not a certification.",
        interruption.at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}
