//! `report.html`: one self-contained file (inline CSS and SVG, no scripts, nothing fetched),
//! Chinese and English side by side with a CSS-only switch, printable on A4.

use std::fmt::Write as _;

use duxue_profile::{Catalog, Verdict};
use serde_json::Value;

use crate::hlog::{LatencyOverTime, SecondPoint};
use crate::model::{
    Comparison, PopulationReport, RequirementResult, RunMode, RunReport, RunVerdict,
};
use crate::svg::{self, LineChart, downsample};

/// At most this many points per chart line, whatever the phase's length.
const MAX_POINTS: usize = 360;
/// At most this many operations get their own p99 line.
const MAX_OPERATION_LINES: usize = 6;

/// Liveness spoof species, in the order the report shows them.
pub const SPECIES: [&str; 4] = ["print", "screen", "replay", "other-person"];

/// What the HTML needs besides `report.json`.
#[derive(Clone, Debug, Default)]
pub struct HtmlContext {
    /// Files of the run folder with their sizes (relative paths).
    pub files: Vec<(String, u64)>,
    /// The population's latency log, read (or why it could not be).
    pub latency: Option<Result<LatencyOverTime, String>>,
    /// The requirement catalog, for the notice's own words and missing IDs.
    pub catalog: Option<Catalog>,
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Chinese and English of one label; the CSS switch hides one of them.
fn bi(zh: &str, en: &str) -> String {
    format!(
        r#"<span class="zh">{}</span><span class="en">{}</span>"#,
        esc(zh),
        esc(en)
    )
}

fn verdict_badge(v: Verdict) -> String {
    let (class, zh) = match v {
        Verdict::Pass => ("pass", "通过"),
        Verdict::Fail => ("fail", "不通过"),
        Verdict::Warning => ("warn", "警告"),
        Verdict::Skipped => ("skip", "不适用"),
        Verdict::Inconclusive => ("inc", "无法判定"),
    };
    format!(
        r#"<span class="badge {class}">{}<span class="zh"> {zh}</span></span>"#,
        v.as_str()
    )
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
        Value::String(s) => s.clone(),
        other => {
            let s = other.to_string();
            if s.chars().count() > 200 {
                format!("{}…", s.chars().take(200).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{}%", num((part / whole * 1000.0).round() / 10.0))
    } else {
        "—".to_owned()
    }
}

/// "≤ 7.5% (95%, rule of three)" when nothing got through, else the observed share.
pub fn pass_through(attempts: u64, got_through: u64) -> String {
    if attempts == 0 {
        "no attempts: no bound 无尝试".to_owned()
    } else if got_through == 0 {
        format!(
            "0/{attempts}; ≤ {} at 95% (rule of three 3/n)",
            percent(3.0_f64.min(attempts as f64), attempts as f64)
        )
    } else {
        format!(
            "{got_through}/{attempts} got through ({})",
            percent(got_through as f64, attempts as f64)
        )
    }
}

const CSS: &str = r#"
:root{--pass:#1e7a3c;--fail:#b3261e;--warn:#a86500;--skip:#5f6368;--inc:#6b3fa0;--line:#d0d4da;--soft:#f4f6f8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei","WenQuanYi Zen Hei",sans-serif;color:#1b1f24;background:#fff}
main{max-width:1120px;margin:0 auto;padding:0 18px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;border-bottom:2px solid #1b1f24;break-after:avoid}
h3{font-size:15px;margin:18px 0 6px;break-after:avoid}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
table.req{table-layout:fixed}
table.req col.id{width:8%}table.req col.clause{width:9%}table.req col.text{width:27%}table.req col.verdict{width:11%}table.req col.reason{width:29%}table.req col.evidence{width:16%}
th{background:var(--soft);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n{white-space:nowrap}
tr{break-inside:avoid}
.zh+.en::before{content:" · ";color:#888}
div.zh+div.en::before{content:""}
div.en{color:#3c4650}
.muted{color:#5f6368;font-size:12px}
.quote{color:#5f6368;font-size:12px;margin-top:3px}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-weight:600;font-size:12px;white-space:nowrap}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.warn{background:var(--warn)}.badge.skip{background:var(--skip)}.badge.inc{background:var(--inc)}
.verdict{margin:16px 0 8px;padding:16px 20px;border-radius:6px;color:#fff}
.verdict.certified{background:var(--pass)}.verdict.not-certified{background:var(--fail)}.verdict.interrupted{background:#6b6b6b}
.verdict .big{font-size:30px;font-weight:700;letter-spacing:.5px}
.verdict .meta{margin-top:6px;font-size:13px;opacity:.95}
.counts span{display:inline-block;margin-right:12px}
.fig{display:inline-block;max-width:100%;margin:0 8px 2px 0;font-size:12px;overflow-wrap:anywhere}
.fig b{font-weight:600}
.checks{margin:4px 0 0 16px;padding:0;font-size:12px}
.nodata{padding:10px 12px;background:var(--soft);border-left:4px solid var(--skip)}
.chart{width:100%;max-width:780px;height:auto;display:block;margin:6px 0}
table.ledger th{font-size:11px}table.ledger code{word-break:normal}
.chart .ct{font-size:13px;font-weight:600;fill:#1b1f24}
.chart .cx{font-size:10px;fill:#3c4650}
.chart .cn{font-size:13px;fill:#5f6368}
.chart .cg{stroke:#e3e6ea;stroke-width:1}
.chart .ca{stroke:#8a9099;stroke-width:1}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
details.req{border:1px solid var(--line);border-radius:3px;margin:4px 0}
details.req>summary{cursor:pointer;padding:4px 8px;background:var(--soft)}
details.req table{margin:0}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:10px;margin:10px 0}
.sides>div{padding:10px 14px;border-radius:6px;color:#fff}
.sides .certified{background:var(--pass)}.sides .not-certified{background:var(--fail)}.sides .interrupted{background:#6b6b6b}
.sides .big{font-size:20px;font-weight:700}
.badge.diverge{background:#7a1f1f}
.mode{display:inline-block;margin-bottom:6px;padding:1px 8px;border:1px solid #fff;border-radius:3px;font-size:13px;font-weight:600}
a{color:#1f5fa8}
input.lang{position:absolute;opacity:0;pointer-events:none}
.langbar{max-width:1120px;margin:0 auto;padding:10px 18px 0;font-size:13px}
.langbar label{display:inline-block;border:1px solid var(--line);padding:2px 10px;margin-right:4px;border-radius:3px;cursor:pointer}
#lang-both:checked~.langbar label[for=lang-both],#lang-zh:checked~.langbar label[for=lang-zh],#lang-en:checked~.langbar label[for=lang-en]{background:#1b1f24;color:#fff}
#lang-zh:checked~main .en,#lang-zh:checked~.langbar .en{display:none}
#lang-en:checked~main .zh,#lang-en:checked~.langbar .zh{display:none}
#lang-zh:checked~main .zh+.en::before,#lang-en:checked~main .zh+.en::before{content:""}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:0 18px}
@page{size:A4;margin:14mm 11mm 14mm 11mm}
@media print{
 body{font-size:9pt}main{max-width:none;padding:0}.langbar{display:none}
 .sides>div{print-color-adjust:exact;-webkit-print-color-adjust:exact}
 table{font-size:8pt}th,td{padding:2px 4px}
 .verdict{print-color-adjust:exact;-webkit-print-color-adjust:exact}
 .badge{print-color-adjust:exact;-webkit-print-color-adjust:exact}
 h2{break-before:auto}
 section.page{break-before:page}
 a{color:inherit;text-decoration:none}
}
"#;

/// The whole page.
pub fn render(report: &RunReport, ctx: &HtmlContext) -> String {
    let mut out = String::with_capacity(128 * 1024);
    let run = &report.run;
    let (verdict_class, verdict_zh) = verdict_words(report.mode, report.verdict);
    let mode = match report.mode {
        RunMode::Certify => String::new(),
        RunMode::SpotCheck => format!(
            r#"<div class="mode">{}</div>"#,
            bi(
                "抽查：生产环境、真实时间、普通学员账号",
                "SPOT CHECK: production, real time, ordinary learner accounts"
            )
        ),
    };
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="duxue-reports"><title>duxue 督学 — {} — {}</title><style>{CSS}</style></head><body>"#,
        report.verdict.as_str(),
        esc(&run.target.platform_name)
    );
    out.push_str(
        r#"<input class="lang" type="radio" name="lang" id="lang-both" checked><input class="lang" type="radio" name="lang" id="lang-zh"><input class="lang" type="radio" name="lang" id="lang-en"><nav class="langbar">语言 Language: <label for="lang-both">中文 + English</label><label for="lang-zh">中文</label><label for="lang-en">English</label></nav><main>"#,
    );
    // Verdict banner.
    let _ = write!(
        out,
        r#"<header class="verdict {verdict_class}" id="verdict">{mode}<div class="big">{} · {verdict_zh}</div><div class="meta">{} <b>{}</b> — <span class="mono">{}</span></div><div class="meta">{} {} · {} <span class="mono">{}</span> · {} {}</div><div class="meta counts">{}</div>{}</header>"#,
        report.verdict.as_str(),
        bi("平台", "Platform"),
        esc(&run.target.platform_name),
        esc(&run.target.url),
        bi("政策", "Policy"),
        esc(&run.policy_id),
        bi("运行", "Run"),
        esc(&run.run_id),
        bi("完成于", "finished"),
        esc(&run.finished_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        counts(report),
        report
            .interrupted
            .as_ref()
            .map(|i| format!(
                r#"<div class="meta interrupted-note">{}</div>"#,
                esc(&crate::summary::interruption_note(i, " · "))
            ))
            .unwrap_or_default()
    );
    let _ = write!(
        out,
        r#"<p class="muted">{}</p>"#,
        bi(
            "本报告由督学根据运行文件夹中的 report.json 生成；证据文件的 SHA-256 见 manifest.json，签名见 manifest.sig。",
            "Rendered by duxue from the run folder's report.json; manifest.json holds the SHA-256 of every evidence file and manifest.sig its signature."
        )
    );
    if !run.target.defects.is_empty() {
        let _ = write!(
            out,
            r#"<p class="nodata">{} <code>{}</code></p>"#,
            bi(
                "校准运行：参考平台开启了已知缺陷",
                "Calibration run: the reference platform had known defects switched on:"
            ),
            esc(&run.target.defects.join(", "))
        );
    }
    if !run.target.variants.is_empty() {
        let _ = write!(
            out,
            r#"<p class="muted">{} <code>{}</code></p>"#,
            bi(
                "校准运行：参考平台采用了合规变体",
                "Calibration run: the reference platform took conforming variants:"
            ),
            esc(&run.target.variants.join(", "))
        );
    }
    if let Some(comparison) = &report.comparison {
        lab_and_road(&mut out, report, comparison);
    }
    application(&mut out, &run.application);
    requirements(&mut out, report, ctx);
    anti_cheat(&mut out, report);
    load(&mut out, report, ctx);
    freshness(&mut out, report);
    identity(&mut out, report);
    evidence_index(&mut out, report, ctx);
    checks_appendix(&mut out, report);
    out.push_str("</main></body></html>\n");
    out
}

/// The verdict's CSS class and Chinese words; a spot check does not certify, it finds.
fn verdict_words(mode: RunMode, verdict: RunVerdict) -> (&'static str, &'static str) {
    match (mode, verdict) {
        (RunMode::Certify, RunVerdict::Certified) => ("certified", "通过认证"),
        (RunMode::Certify, RunVerdict::NotCertified) => ("not-certified", "未通过认证"),
        (RunMode::SpotCheck, RunVerdict::Certified) => ("certified", "抽查未发现问题"),
        (RunMode::SpotCheck, RunVerdict::NotCertified) => ("not-certified", "抽查未通过"),
        (RunMode::Certify, RunVerdict::Interrupted) => ("interrupted", "运行中断"),
        (RunMode::SpotCheck, RunVerdict::Interrupted) => ("interrupted", "抽查中断"),
    }
}

/// The certification and the spot check side by side, and every requirement with both.
fn lab_and_road(out: &mut String, report: &RunReport, c: &Comparison) {
    section(
        out,
        "comparison",
        "实验室与道路：认证与抽查对比",
        "Lab against road: certification and spot check",
    );
    let side = |zh: &str, en: &str, mode: RunMode, verdict: RunVerdict, run: &str| {
        let (class, words) = verdict_words(mode, verdict);
        format!(
            r#"<div class="{class}"><div>{}</div><div class="big">{} · {words}</div><div class="mono">{}</div></div>"#,
            bi(zh, en),
            verdict.as_str(),
            esc(run)
        )
    };
    let _ = write!(
        out,
        r#"<div class="sides">{}{}</div>"#,
        side(
            "认证（一致性测试队列）",
            "Certification (conformance cohort)",
            RunMode::Certify,
            c.certify_verdict,
            &report.run.run_id
        ),
        side(
            "抽查（生产环境）",
            "Spot check (production)",
            RunMode::SpotCheck,
            c.spot_check.verdict,
            &c.spot_check.run_id
        )
    );
    if c.divergent.is_empty() {
        nodata(
            out,
            "没有要求在认证中通过而在抽查中不通过。",
            "No requirement passed in the certification and failed in the spot check.",
        );
    } else {
        let _ = write!(
            out,
            r#"<p class="nodata">{} <b>{}</b></p>"#,
            bi(
                "以下要求在认证中通过、在生产环境中不通过（DIVERGENT），因此对比结论为未通过认证：",
                "These requirements passed in the certification and failed on production (DIVERGENT), so the comparison is NOT_CERTIFIED:"
            ),
            esc(&c.divergent.join(", "))
        );
    }
    let _ = write!(
        out,
        r#"<table><tr><th>ID</th><th>{}</th><th>{}</th><th>{}</th></tr>"#,
        bi("认证", "Certification"),
        bi("抽查", "Spot check"),
        bi("对比", "Comparison")
    );
    for r in &c.requirements {
        let mark = if r.divergent {
            format!(
                r#"<span class="badge diverge">DIVERGENT<span class="zh"> 不一致</span></span><div class="muted">{}</div>"#,
                esc(r.road_reason.as_deref().unwrap_or(""))
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r##"<tr><td><a href="#req-{id}"><b>{id}</b></a></td><td>{}</td><td>{}</td><td>{mark}</td></tr>"##,
            verdict_badge(r.lab),
            verdict_badge(r.road),
            id = esc(&r.id)
        );
    }
    let _ = write!(
        out,
        r#"</table><p class="muted">{} <code>{}</code></p></section>"#,
        bi(
            "抽查的 report.json 副本及其 SHA-256：",
            "A copy of the spot check's report.json sits beside this report; its SHA-256:"
        ),
        esc(&c.spot_check.report_sha256)
    );
}

fn counts(report: &RunReport) -> String {
    let mut s = String::new();
    for (k, n) in &report.counts {
        if *n > 0 {
            let _ = write!(s, "<span>{n} {}</span>", esc(k));
        }
    }
    let _ = write!(
        s,
        "<span>/ {} {}</span>",
        report.requirements.len(),
        bi("项要求", "requirements")
    );
    s
}

fn section(out: &mut String, id: &str, zh: &str, en: &str) {
    let _ = write!(out, r#"<section id="{id}"><h2>{}</h2>"#, bi(zh, en));
}

fn nodata(out: &mut String, zh: &str, en: &str) {
    let _ = write!(out, r#"<p class="nodata">{}</p>"#, bi(zh, en));
}

// ---------------------------------------------------------------- application form

fn label(key: &str) -> (String, String) {
    let known = [
        ("platform", "平台", "Platform"),
        ("institution", "培训机构", "Institution"),
        ("training", "培训计划", "Training"),
        ("lines", "培训计划", "Training"),
        ("name", "名称", "Name"),
        ("url", "网址", "URL"),
        ("contact", "联系人", "Contact"),
        ("annex1_entry", "附件1序号", "Annex 1 entry"),
        ("delivery", "培训方式", "Delivery"),
        ("headcount", "培训人数", "Headcount"),
        ("level", "等级", "Level"),
        ("occupation", "职业（工种）", "Occupation"),
        ("period_start", "开始日期", "Starts"),
        ("period_end", "结束日期", "Ends"),
    ];
    known
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| ((*zh).to_owned(), (*en).to_owned()))
        .unwrap_or_else(|| (String::new(), key.to_owned()))
}

fn label_html(key: &str) -> String {
    let (zh, en) = label(key);
    if zh.is_empty() {
        format!("<span>{}</span>", esc(&en))
    } else {
        bi(&zh, &en)
    }
}

fn app_value(key: &str, v: &Value) -> String {
    match (key, v) {
        ("delivery", Value::String(s)) if s == "pure_online" => bi("纯线上", "pure online"),
        ("delivery", Value::String(s)) if s == "blended" => bi("线上+线下", "blended"),
        (_, Value::Object(map)) => {
            let mut s = String::from("<table>");
            for (k, v) in map {
                let _ = write!(
                    s,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    label_html(k),
                    app_value(k, v)
                );
            }
            s.push_str("</table>");
            s
        }
        (_, Value::Array(items)) if items.iter().all(Value::is_object) && !items.is_empty() => {
            let mut columns: Vec<&str> = Vec::new();
            for item in items {
                if let Value::Object(map) = item {
                    for k in map.keys() {
                        if !columns.contains(&k.as_str()) {
                            columns.push(k);
                        }
                    }
                }
            }
            // A readable order for the training lines of Annex 2.
            let order = [
                "occupation",
                "level",
                "delivery",
                "period_start",
                "period_end",
                "headcount",
            ];
            columns.sort_by_key(|c| order.iter().position(|o| o == c).unwrap_or(order.len()));
            let mut s = String::from("<table><tr>");
            for c in &columns {
                let _ = write!(s, "<th>{}</th>", label_html(c));
            }
            s.push_str("</tr>");
            for item in items {
                s.push_str("<tr>");
                for c in &columns {
                    let cell = item.get(*c).map(|v| app_value(c, v)).unwrap_or_default();
                    let class = if item.get(*c).is_some_and(Value::is_number) {
                        " class=\"n\""
                    } else {
                        ""
                    };
                    let _ = write!(s, "<td{class}>{cell}</td>");
                }
                s.push_str("</tr>");
            }
            s.push_str("</table>");
            s
        }
        (_, other) => esc(&value_text(other)),
    }
}

fn application(out: &mut String, application: &Value) {
    section(
        out,
        "application",
        "申请表（附件2）",
        "Application form (Annex 2)",
    );
    match application {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("<table>");
            for (k, v) in map {
                let _ = write!(
                    out,
                    "<tr><th style=\"width:16%\">{}</th><td>{}</td></tr>",
                    label_html(k),
                    app_value(k, v)
                );
            }
            out.push_str("</table>");
        }
        _ => nodata(
            out,
            "本次运行没有申请表。",
            "No application form in this run.",
        ),
    }
    out.push_str("</section>");
}

// ---------------------------------------------------------------- requirements

fn figures_html(r: &RequirementResult) -> String {
    let mut s = String::new();
    for (k, v) in &r.figures {
        let _ = write!(
            s,
            r#"<span class="fig">{} <b>{}</b></span>"#,
            esc(k),
            esc(&value_text(v))
        );
    }
    s
}

fn evidence_html(r: &RequirementResult) -> String {
    if r.evidence.is_empty() {
        return bi("无", "none");
    }
    let mut s = String::new();
    for e in &r.evidence {
        let seqs = match (e.first_seq, e.last_seq) {
            (Some(a), Some(b)) if a == b => format!("#{a}"),
            (Some(a), Some(b)) => format!("#{a}–{b}"),
            _ => "—".to_owned(),
        };
        let path = if is_relative_path(&e.journal) {
            format!(r#"<a href="{0}">{0}</a>"#, esc(&e.journal))
        } else {
            esc(&e.journal)
        };
        let _ = write!(
            s,
            r#"<div><span class="mono">{path}</span> {seqs}<br><span class="muted">{} exchanges · probe <code>{}</code></span></div>"#,
            e.exchanges,
            esc(&e.tag)
        );
    }
    s
}

/// A plain relative path inside the run folder: safe to link.
fn is_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(':')
        && !path.contains('\\')
        && !path.split('/').any(|p| p == "..")
}

fn requirements(out: &mut String, report: &RunReport, ctx: &HtmlContext) {
    section(
        out,
        "requirements",
        "要求与判定",
        "Requirements and verdicts",
    );
    let catalog = ctx
        .catalog
        .as_ref()
        .filter(|c| c.catalog_version == report.run.catalog_version);
    let _ = write!(
        out,
        r#"<table class="req"><colgroup><col class="id"><col class="clause"><col class="text"><col class="verdict"><col class="reason"><col class="evidence"></colgroup><tr><th>ID</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"#,
        bi("条款", "Clause"),
        bi("要求", "Requirement"),
        bi("判定", "Verdict"),
        bi("理由与数据", "Reason and figures"),
        bi("证据", "Evidence")
    );
    for r in &report.requirements {
        let quote = catalog
            .and_then(|c| c.get(&r.id))
            .filter(|q| !q.quote_zh.is_empty())
            .map(|q| format!(r#"<div class="quote zh">“{}”</div>"#, esc(&q.quote_zh)))
            .unwrap_or_default();
        let mandatory = if r.mandatory {
            String::new()
        } else {
            format!(
                r#"<div class="muted">{}</div>"#,
                bi("非强制", "not mandatory")
            )
        };
        let _ = write!(
            out,
            r#"<tr id="req-{id}"><td><b>{id}</b><div class="muted">{area}</div></td><td>{source}</td><td><div class="zh">{zh}</div><div class="en">{en}</div>{quote}{mandatory}</td><td>{badge}</td><td>{reason}<div>{figures}</div></td><td>{evidence}</td></tr>"#,
            id = esc(&r.id),
            area = esc(&r.area),
            source = esc(&r.source),
            zh = esc(&r.text_zh),
            en = esc(&r.text_en),
            badge = verdict_badge(r.verdict),
            reason = esc(&r.reason),
            figures = figures_html(r),
            evidence = evidence_html(r)
        );
    }
    out.push_str("</table>");
    if let Some(catalog) = catalog {
        let missing: Vec<&str> = catalog
            .ids()
            .filter(|id| !report.requirements.iter().any(|r| r.id == *id))
            .collect();
        if !missing.is_empty() {
            let _ = write!(
                out,
                r#"<p class="nodata">{} <b>{}</b></p>"#,
                bi(
                    "要求目录中的以下要求不在 report.json 中：",
                    "These catalog requirements are missing from report.json:"
                ),
                esc(&missing.join(", "))
            );
        }
    }
    out.push_str("</section>");
}

// ---------------------------------------------------------------- anti-cheat

/// One species of spoof: (species, attempts, accepted).
pub type SpoofCount = (String, u64, u64);

/// Per-species (attempts, accepted) from a requirement's figures (`print.attempts`,
/// `print.accepted`, …), as the ID-4 probe writes them.
pub fn probe_spoofing(report: &RunReport) -> Option<(String, Vec<SpoofCount>)> {
    let ordered = report
        .requirements
        .iter()
        .filter(|r| r.id == "ID-4")
        .chain(report.requirements.iter().filter(|r| r.id != "ID-4"));
    for r in ordered {
        let rows: Vec<SpoofCount> = SPECIES
            .iter()
            .filter_map(|s| {
                let attempts = r.figures.get(&format!("{s}.attempts"))?.as_u64()?;
                let accepted = r
                    .figures
                    .get(&format!("{s}.accepted"))
                    .and_then(Value::as_u64)
                    .or_else(|| {
                        let refused = r.figures.get(&format!("{s}.refused"))?.as_u64()?;
                        Some(attempts.saturating_sub(refused))
                    })?;
                Some(((*s).to_owned(), attempts, accepted))
            })
            .collect();
        if !rows.is_empty() {
            return Some((r.id.clone(), rows));
        }
    }
    None
}

fn spoof_table(out: &mut String, rows: &[SpoofCount]) {
    let _ = write!(
        out,
        r#"<table><tr><th>{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th>{}</th></tr>"#,
        bi("攻击类型", "Species"),
        bi("尝试", "Attempts"),
        bi("拒绝", "Refused"),
        bi("通过", "Got through"),
        bi("通过率（95% 上界）", "Pass-through (95% bound)")
    );
    for (species, attempts, accepted) in rows {
        let (zh, en) = match species.as_str() {
            "print" => ("打印照片", "printed photo"),
            "screen" => ("屏幕翻拍", "screen replay"),
            "replay" => ("回放", "replayed frames"),
            "other-person" => ("他人代学", "another person"),
            other => ("", other),
        };
        let name = if zh.is_empty() { esc(en) } else { bi(zh, en) };
        let _ = write!(
            out,
            r#"<tr><td><code>{}</code> {name}</td><td class="n">{attempts}</td><td class="n">{}</td><td class="n">{accepted}</td><td>{}</td></tr>"#,
            esc(species),
            attempts.saturating_sub(*accepted),
            esc(&pass_through(*attempts, *accepted))
        );
    }
    out.push_str("</table>");
}

fn anti_cheat(out: &mut String, report: &RunReport) {
    section(out, "anti-cheat", "防作弊结果", "Anti-cheat results");
    let _ = write!(
        out,
        "<h3>{}</h3>",
        bi(
            "活体检测假体攻击（探测阶段）",
            "Liveness spoofs (probe phase)"
        )
    );
    match probe_spoofing(report) {
        Some((id, rows)) => {
            spoof_table(out, &rows);
            let _ = write!(
                out,
                r##"<p class="muted">{} <a href="#req-{id}">{id}</a></p>"##,
                bi("来源：", "From the figures of"),
                id = esc(&id)
            );
        }
        None => nodata(
            out,
            "本次运行的探测阶段没有按攻击类型记录的数据。",
            "No per-species spoof figures in this run's probes.",
        ),
    }
    let Some(p) = &report.population else {
        let _ = write!(out, "<h3>{}</h3>", bi("群体阶段账本", "Population ledger"));
        nodata(
            out,
            "本次运行没有群体阶段。",
            "No population phase in this run.",
        );
        out.push_str("</section>");
        return;
    };
    ledger(out, p);
    let _ = write!(
        out,
        "<h3>{}</h3>",
        bi(
            "活体检测假体攻击（群体阶段）",
            "Liveness spoofs (population phase)"
        )
    );
    if p.spoofing.is_empty() {
        nodata(
            out,
            "群体阶段没有假体攻击。",
            "No spoofs were tried in the population phase.",
        );
    } else {
        let rows: Vec<SpoofCount> = p
            .spoofing
            .iter()
            .map(|s| {
                (
                    s.species.clone(),
                    s.attempts,
                    s.attempts.saturating_sub(s.refused),
                )
            })
            .collect();
        spoof_table(out, &rows);
    }
    out.push_str("</section>");
}

fn ledger(out: &mut String, p: &PopulationReport) {
    let _ = write!(
        out,
        "<h3>{}</h3>",
        bi(
            "群体阶段账本：按行为的混淆矩阵",
            "Population ledger: confusion matrix per behaviour"
        )
    );
    let _ = write!(
        out,
        r#"<table class="ledger"><tr><th>{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th></tr>"#,
        bi("行为", "Behaviour"),
        bi("学员", "Learners"),
        bi("作弊尝试", "Cheat attempts"),
        bi("拒绝 (TP)", "Refused (TP)"),
        bi("放过 (FN)", "Got through (FN)"),
        bi("95% 上界", "95% bound"),
        bi("已计 / 可计 s", "Credited / creditable s"),
        bi("作弊计时 s", "Cheating credited s"),
        bi("诚实被拒 s (FP)", "Honest denied s (FP)")
    );
    let mut totals = [0.0f64; 6];
    for row in &p.ledger {
        let through = row.cheat_attempts.saturating_sub(row.attempts_refused);
        let kind = if row.cheat {
            bi("作弊", "cheat")
        } else {
            bi("诚实", "honest")
        };
        let bound = match (row.cheat, row.cheat_attempts, through) {
            (false, _, _) | (true, 0, _) => "—".to_owned(),
            (true, n, 0) => format!("≤ {}", percent(3.0_f64.min(n as f64), n as f64)),
            (true, n, k) => format!("{k}/{n} ({})", percent(k as f64, n as f64)),
        };
        let _ = write!(
            out,
            r#"<tr><td><code>{}</code> <span class="muted">{kind}</span></td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{through}</td><td class="n">{bound}</td><td class="n">{} / {}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&row.behaviour),
            row.learners,
            row.cheat_attempts,
            row.attempts_refused,
            num(row.credited_seconds),
            num(row.creditable_seconds),
            num(row.cheating_seconds_credited),
            num(row.honest_seconds_denied)
        );
        if row.cheat {
            totals[0] += row.attempts_refused as f64;
            totals[1] += through as f64;
            totals[2] += row.cheating_seconds_credited;
        } else {
            totals[3] += row.honest_seconds_denied;
            totals[4] += row.credited_seconds;
            totals[5] += row.creditable_seconds;
        }
    }
    out.push_str("</table>");
    let _ = write!(
        out,
        r#"<p class="muted">{}</p>"#,
        bi(
            "95% 上界：无一通过时按三法则 (3/n) 给出的通过率上界；有通过时为观察到的通过率。",
            "95% bound: when nothing got through, the rule of three (3/n) bounds the pass-through rate at 95%; otherwise the observed rate."
        )
    );
    // The 2×2 summary: what the platform did with cheating and with honest study.
    let _ = write!(
        out,
        r#"<table style="width:auto"><tr><th></th><th>{}</th><th>{}</th></tr><tr><th>{}</th><td class="n">{} {}</td><td class="n">{} {} + {} s</td></tr><tr><th>{}</th><td class="n">{} s</td><td class="n">{} s ({} {})</td></tr></table>"#,
        bi("平台拒绝 / 不计时", "Platform refused / withheld"),
        bi("平台放过 / 计时", "Platform let through / credited"),
        bi("作弊", "Cheating"),
        num(totals[0]),
        bi("次尝试", "attempts"),
        num(totals[1]),
        bi("次尝试", "attempts"),
        num(totals[2]),
        bi("诚实学习", "Honest study"),
        num(totals[3]),
        num(totals[4]),
        percent(totals[4], totals[5]),
        bi("的可计学时", "of creditable")
    );
}

// ---------------------------------------------------------------- load

/// LD-1 and LD-2 verdict lines, linked to their rows of the requirement table.
fn load_verdicts(out: &mut String, report: &RunReport) {
    for id in ["LD-1", "LD-2"] {
        if let Some(r) = report.requirements.iter().find(|r| r.id == id) {
            let _ = write!(
                out,
                r##"<p><a href="#req-{id}">{id}</a> {} — {}</p>"##,
                verdict_badge(r.verdict),
                esc(&r.reason),
                id = esc(id)
            );
        }
    }
}

fn load(out: &mut String, report: &RunReport, ctx: &HtmlContext) {
    section(out, "load", "负载", "Load");
    let Some(p) = &report.population else {
        nodata(
            out,
            "本次运行没有群体阶段。",
            "No population phase in this run.",
        );
        load_verdicts(out, report);
        out.push_str("</section>");
        return;
    };
    let rate = if p.wall_seconds > 0.0 {
        num((p.requests as f64 / p.wall_seconds).round())
    } else {
        "—".to_owned()
    };
    let mix: Vec<String> = p
        .mix
        .iter()
        .map(|(k, v)| format!("{} {}", esc(k), num(*v)))
        .collect();
    let _ = write!(
        out,
        r#"<table><tr><th>{}</th><td class="n">{}</td><th>{}</th><td>{}</td></tr><tr><th>{}</th><td class="n">{} / {} / {} s</td><th>{}</th><td class="n">{} s</td></tr><tr><th>{}</th><td class="n">{} ({}/s)</td><th>{}</th><td class="n">{} ({})</td></tr><tr><th>{}</th><td colspan="3">{}</td></tr></table>"#,
        bi("峰值并发学员", "Peak learners"),
        p.learners_peak,
        bi("客户端", "Client mode"),
        esc(p.client_mode.as_str()),
        bi("爬升 / 保持 / 回落", "Ramp up / hold / ramp down"),
        num(p.shape.ramp_up_s),
        num(p.shape.hold_s),
        num(p.shape.ramp_down_s),
        bi("用时", "Wall time"),
        num(p.wall_seconds),
        bi("请求", "Requests"),
        p.requests,
        rate,
        bi("错误", "Errors"),
        p.errors,
        percent(p.errors as f64, p.requests as f64),
        bi("行为组合（权重）", "Behaviour mix (weights)"),
        mix.join(" · ")
    );
    load_verdicts(out, report);
    let active: Vec<(f64, f64)> = p
        .timeline
        .iter()
        .map(|t| (t.t_s, t.active as f64))
        .collect();
    let requests: Vec<(f64, f64)> = p
        .timeline
        .iter()
        .map(|t| (t.t_s, t.requests as f64))
        .collect();
    let errors: Vec<(f64, f64)> = p
        .timeline
        .iter()
        .map(|t| (t.t_s, t.errors as f64))
        .collect();
    out.push_str(
        &LineChart::new("active learners 在线学员", "t (s)", "learners")
            .series("active", downsample(&active, MAX_POINTS, false))
            .render(),
    );
    out.push_str(
        &LineChart::new(
            "requests and errors per second 每秒请求与错误",
            "t (s)",
            "per second",
        )
        .series("requests/s", downsample(&requests, MAX_POINTS, false))
        .series("errors/s", downsample(&errors, MAX_POINTS, true))
        .render(),
    );
    match &ctx.latency {
        Some(Ok(latency)) => latency_charts(out, p, latency),
        Some(Err(why)) => {
            let _ = write!(
                out,
                r#"<p class="nodata">{} <code>{}</code>: {}</p>"#,
                bi("无法读取延迟日志", "The latency log could not be read"),
                esc(p.histogram_log.as_deref().unwrap_or("")),
                esc(why)
            );
        }
        None => nodata(
            out,
            "本次运行没有延迟直方图日志。",
            "No latency histogram log in this run.",
        ),
    }
    operations_table(out, p);
    errors_table(out, p);
    out.push_str("</section>");
}

fn series(points: &[SecondPoint], f: impl Fn(&SecondPoint) -> f64) -> Vec<(f64, f64)> {
    points.iter().map(|p| (p.t_s, f(p))).collect()
}

fn latency_charts(out: &mut String, p: &PopulationReport, latency: &LatencyOverTime) {
    out.push_str(
        &LineChart::new(
            "latency over time, all operations 全部操作延迟",
            "t (s)",
            "ms",
        )
        .series(
            "p50",
            downsample(&series(&latency.all, |s| s.p50_ms), MAX_POINTS, true),
        )
        .series(
            "p99",
            downsample(&series(&latency.all, |s| s.p99_ms), MAX_POINTS, true),
        )
        .render(),
    );
    // The busiest operations get a p99 line each.
    let mut ops: Vec<(&String, u64)> = latency
        .by_operation
        .iter()
        .map(|(name, points)| {
            let count = p
                .operations
                .iter()
                .find(|o| &o.operation == name)
                .map(|o| o.count)
                .unwrap_or_else(|| points.iter().map(|s| s.count).sum());
            (name, count)
        })
        .collect();
    ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut chart = LineChart::new("p99 latency per operation 各操作 p99 延迟", "t (s)", "ms");
    for (name, _) in ops.iter().take(MAX_OPERATION_LINES) {
        if let Some(points) = latency.by_operation.get(*name) {
            chart = chart.series(
                name,
                downsample(&series(points, |s| s.p99_ms), MAX_POINTS, true),
            );
        }
    }
    out.push_str(&chart.render());
    let _ = write!(
        out,
        r#"<p class="muted">{} {} {}</p>"#,
        bi("来自延迟直方图日志", "From the HdrHistogram interval log"),
        esc(p.histogram_log.as_deref().unwrap_or("")),
        bi(
            &format!("（{} 个区间，每秒合并）", latency.intervals),
            &format!("({} intervals, merged per second)", latency.intervals)
        )
    );
}

fn operations_table(out: &mut String, p: &PopulationReport) {
    let _ = write!(
        out,
        "<h3>{}</h3>",
        bi("各操作延迟", "Latency per operation")
    );
    if p.operations.is_empty() {
        nodata(out, "没有记录操作。", "No operations were recorded.");
        return;
    }
    let _ = write!(
        out,
        r#"<table><tr><th>{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">p50 ms</th><th class="n">p90 ms</th><th class="n">p99 ms</th><th class="n">p99.9 ms</th><th class="n">max ms</th></tr>"#,
        bi("操作", "Operation"),
        bi("次数", "Count"),
        bi("错误", "Errors")
    );
    for o in &p.operations {
        let _ = write!(
            out,
            r#"<tr><td><code>{}</code></td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&o.operation),
            o.count,
            o.errors,
            num(o.p50_ms),
            num(o.p90_ms),
            num(o.p99_ms),
            num(o.p999_ms),
            num(o.max_ms)
        );
    }
    out.push_str("</table>");
}

fn errors_table(out: &mut String, p: &PopulationReport) {
    let _ = write!(out, "<h3>{}</h3>", bi("错误分类", "Errors by kind"));
    if p.error_kinds.is_empty() {
        nodata(out, "没有错误。", "No errors.");
        return;
    }
    let total: u64 = p.error_kinds.values().sum();
    let mut kinds: Vec<(&String, &u64)> = p.error_kinds.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = write!(
        out,
        r#"<table style="width:auto"><tr><th>{}</th><th class="n">{}</th><th class="n">{}</th></tr>"#,
        bi("类型", "Kind"),
        bi("次数", "Count"),
        bi("占比", "Share")
    );
    for (kind, n) in kinds {
        let _ = write!(
            out,
            r#"<tr><td><code>{}</code></td><td class="n">{n}</td><td class="n">{}</td></tr>"#,
            esc(kind),
            percent(*n as f64, total as f64)
        );
    }
    out.push_str("</table>");
}

// ---------------------------------------------------------------- supervisor freshness

fn freshness(out: &mut String, report: &RunReport) {
    section(out, "freshness", "监管实时性", "Supervisor freshness");
    let Some(p) = &report.population else {
        nodata(
            out,
            "本次运行没有群体阶段；探测阶段的数据见 SV-2。",
            "No population phase in this run; the probe's figures are under SV-2.",
        );
        out.push_str("</section>");
        return;
    };
    let f = &p.supervisor_freshness;
    if f.samples == 0 {
        nodata(out, "没有采样。", "No samples.");
        out.push_str("</section>");
        return;
    }
    let rows = vec![
        ("p50".to_owned(), f.p50_ms),
        ("p90".to_owned(), f.p90_ms),
        ("p99".to_owned(), f.p99_ms),
        ("max".to_owned(), f.max_ms),
    ];
    out.push_str(&svg::bars(
        &format!(
            "learner event → visible to a supervisor 学员事件到监管可见 ({} samples)",
            f.samples
        ),
        "ms",
        &rows,
        Some(("bound 时限".to_owned(), f.bound_ms)),
    ));
    let within = if f.max_ms <= f.bound_ms {
        bi("全部在时限内", "all within the bound")
    } else {
        bi("超出时限", "beyond the bound")
    };
    let _ = write!(
        out,
        r#"<table style="width:auto"><tr><th>{}</th><th class="n">{}</th><th class="n">p50 ms</th><th class="n">p90 ms</th><th class="n">p99 ms</th><th class="n">max ms</th><th></th></tr><tr><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{within}</td></tr></table>"#,
        bi("样本", "Samples"),
        bi("时限 ms", "Bound ms"),
        f.samples,
        num(f.bound_ms),
        num(f.p50_ms),
        num(f.p90_ms),
        num(f.p99_ms),
        num(f.max_ms)
    );
    out.push_str("</section>");
}

// ---------------------------------------------------------------- identity and evidence

fn identity(out: &mut String, report: &RunReport) {
    section(out, "identity", "运行信息", "Run identity");
    let run = &report.run;
    let rows: Vec<(String, String)> = vec![
        (
            bi("运行编号", "Run ID"),
            format!("<code>{}</code>", esc(&run.run_id)),
        ),
        (
            bi("督学版本", "Harness"),
            format!("duxue {}", esc(&run.harness_version)),
        ),
        (
            bi("接口规范", "Profile"),
            format!(
                "{} ({} {})",
                esc(&run.profile_version),
                bi("平台声明", "platform says"),
                esc(&run.target.profile_version)
            ),
        ),
        (
            bi("要求目录", "Catalog"),
            format!(
                "{} · sha256 <code>{}</code>",
                esc(&run.catalog_version),
                esc(&run.catalog_sha256)
            ),
        ),
        (
            bi("政策", "Policy"),
            format!(
                "{} · sha256 <code>{}</code>",
                esc(&run.policy_id),
                esc(&run.policy_sha256)
            ),
        ),
        (
            bi("随机种子 / 运行随机数", "Seed / run nonce"),
            format!("<code>{}</code> / <code>{}</code>", run.seed, run.run_nonce),
        ),
        (
            bi("时钟倍率", "Clock scale"),
            format!("×{}", num(run.clock_scale)),
        ),
        (
            bi("目标平台", "Target"),
            format!(
                "{} — <code>{}</code>{}",
                esc(&run.target.platform_name),
                esc(&run.target.url),
                if run.target.embedded {
                    format!(" ({})", bi("内置参考平台", "bundled reference platform"))
                } else {
                    String::new()
                }
            ),
        ),
        (bi("运营方", "Operator"), esc(&run.target.operator)),
        (bi("开始", "Started"), esc(&run.started_at.to_rfc3339())),
        (bi("结束", "Finished"), esc(&run.finished_at.to_rfc3339())),
        (
            bi("用时", "Wall time"),
            format!("{} s", num(run.wall_seconds)),
        ),
        (
            bi("请求数", "Requests"),
            format!(
                "{} ({} <code>{}</code>)",
                run.requests,
                bi("证据日志", "journal"),
                esc(&run.evidence_journal)
            ),
        ),
        (bi("学员数", "Learners"), run.learners.to_string()),
    ];
    let mut rows = rows;
    rows.extend(shard_rows(run));
    out.push_str("<table>");
    for (k, v) in rows {
        let _ = write!(
            out,
            r#"<tr><th style="width:22%">{k}</th><td>{v}</td></tr>"#
        );
    }
    out.push_str("</table></section>");
}

/// Rows saying which shard a run was, or which shards a merged run was made of, and how
/// closely their populations started together.
fn shard_rows(run: &crate::model::RunIdentity) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if let Some(shard) = &run.shard {
        let mut text = format!("{} / {}", shard.index, shard.count);
        if let Some(at) = shard.start_at {
            let _ = write!(
                text,
                "; {} {}",
                bi("约定开始", "agreed start"),
                esc(&at.to_rfc3339())
            );
        }
        if let Some(start) = &shard.start {
            let _ = write!(
                text,
                "; {} {} s",
                bi("开始偏差", "start skew"),
                num(start.skew_s)
            );
            if let Some(offset) = start.clock_offset_s {
                let _ = write!(
                    text,
                    "; {} {} ± {} s",
                    bi("与平台时钟之差", "target clock minus ours"),
                    num(offset),
                    num(start.clock_offset_uncertainty_s.unwrap_or(0.0))
                );
            }
        }
        rows.push((bi("分片", "Shard"), text));
    }
    if let Some(merged) = &run.merged {
        let indices: Vec<String> = merged.shards.iter().map(|s| s.index.to_string()).collect();
        rows.push((
            bi("合并自", "Merged from"),
            format!(
                "{} {} ({}); {} {}; {} {} s, {} {} s ({} {} s)",
                merged.shards.len(),
                bi("个分片", "shards"),
                indices.join(", "),
                bi("约定开始", "agreed start"),
                esc(&merged.start_at.to_rfc3339()),
                bi("最大开始偏差", "largest start skew"),
                num(merged.largest_start_skew_s),
                bi("开始时间差", "start spread"),
                num(merged.start_spread_s),
                bi("上限", "bound"),
                num(merged.start_spread_bound_s)
            ),
        ));
    }
    rows
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn evidence_index(out: &mut String, report: &RunReport, ctx: &HtmlContext) {
    section(out, "evidence", "证据索引", "Evidence index");
    let _ = write!(
        out,
        r#"<table><tr><th>{}</th><th class="n">{}</th><th>{}</th></tr>"#,
        bi("文件", "File"),
        bi("大小", "Size"),
        bi("内容", "What it holds")
    );
    let describe = |path: &str| -> String {
        match path {
            "report.json" => bi(
                "机器可读的结果",
                "the machine-readable result (schema duxue.report/v1)",
            ),
            "summary.md" => bi("一屏摘要", "one-screen summary"),
            "junit.xml" => bi("每项要求一个测试用例", "one test case per requirement"),
            p if p == report.run.evidence_journal => bi(
                "每次请求与响应（已脱敏）",
                "every request and response, secrets redacted",
            ),
            p if Some(p)
                == report
                    .population
                    .as_ref()
                    .and_then(|x| x.histogram_log.as_deref()) =>
            {
                bi(
                    "延迟直方图日志（微秒）",
                    "latency HdrHistogram interval log (µs)",
                )
            }
            _ => String::new(),
        }
    };
    let mut total = 0u64;
    for (path, size) in &ctx.files {
        total += size;
        let _ = write!(
            out,
            r#"<tr><td class="mono">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            esc(path),
            human_size(*size),
            describe(path)
        );
    }
    let _ = write!(
        out,
        r#"<tr><td class="mono">report.html</td><td class="n">—</td><td>{}</td></tr><tr><td class="mono">manifest.json</td><td class="n">—</td><td>{}</td></tr><tr><td class="mono">manifest.sig</td><td class="n">—</td><td>{}</td></tr><tr><th>{}</th><th class="n">{}</th><th></th></tr></table>"#,
        bi("本文件", "this file"),
        bi(
            "以上每个文件的 SHA-256 与大小",
            "SHA-256 and size of every file above"
        ),
        bi(
            "manifest.json 的 ed25519 签名（十六进制）；用 duxue report verify 校验",
            "ed25519 signature of manifest.json (hex); check with `duxue report verify`"
        ),
        bi("合计", "Total"),
        human_size(total)
    );
    out.push_str("</section>");
}

/// Every check, folded per requirement; a requirement with a check that did not hold opens.
fn checks_appendix(out: &mut String, report: &RunReport) {
    let _ = write!(
        out,
        r#"<section id="checks" class="page"><h2>{}</h2><p class="muted">{}</p>"#,
        bi("附录：全部检查", "Appendix: every check"),
        bi(
            "按要求折叠；有未通过或无法判定检查的要求默认展开。",
            "Folded per requirement; a requirement with a check that failed or could not decide is open."
        )
    );
    for r in report.requirements.iter().filter(|r| !r.checks.is_empty()) {
        let held = r.checks.iter().filter(|c| c.passed == Some(true)).count();
        let failed = r.checks.iter().filter(|c| c.passed == Some(false)).count();
        let open = if held == r.checks.len() { "" } else { " open" };
        let _ = write!(
            out,
            r#"<details class="req" id="checks-{id}"{open}><summary><b>{id}</b> {badge} {} {}: ✔ {held} · ✘ {failed} · ? {}</summary><table><tr><th style="width:55%">{}</th><th>{}</th></tr>"#,
            r.checks.len(),
            bi("项检查", "checks"),
            r.checks.len() - held - failed,
            bi("检查", "Check"),
            bi("结果", "Result"),
            id = esc(&r.id),
            badge = verdict_badge(r.verdict),
        );
        for c in &r.checks {
            let mark = match c.passed {
                Some(true) => "✔",
                Some(false) => "✘",
                None => "?",
            };
            let _ = write!(
                out,
                r#"<tr><td>{mark} {}</td><td class="muted">{}</td></tr>"#,
                esc(&c.name),
                esc(&c.detail)
            );
        }
        out.push_str("</table></details>");
    }
    out.push_str("</section>");
}
