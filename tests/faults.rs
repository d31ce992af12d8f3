//! Faults in the middle of a run: `duxue certify` against the reference platform through a
//! proxy that spoils some answers (one mode per test). For every mode the run ends within its
//! timeouts, its memory stays bounded (response bodies are capped at 16 MiB), it never panics,
//! every spoiled exchange is in the evidence journal, no requirement whose evidence holds one
//! is PASS (the reason names the fault), and the exit code follows the verdict.

mod fault_proxy;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use fault_proxy::{Elsewhere, Fault, FaultProxy, Plan};
use serde_json::Value;
use support::{TOKEN, s};

/// The requirements each run judges: quick probes that between them register, log in, enrol,
/// play, beat, stop and read progress (ID-5: two logins; PB-3: two windows with heartbeats and
/// progress; SC-3: another learner's data).
const ONLY: &str = "ID-5,PB-3,SC-3";
/// A request that took longer has no answer (`--request-timeout`).
const REQUEST_TIMEOUT: &str = "2";
/// The longest a faulted run may take: its probes' own time plus its timeouts.
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// Peak resident memory of the harness: its usual size plus the 16 MiB body cap, with room.
const RSS_LIMIT_KIB: u64 = 160 * 1024;

/// A journal line with no answer the harness could read: no answer or a cut-off or over-cap
/// body (`error`), a status that decides nothing, a redirect, a body that is not JSON (kept as
/// a digest), or a content type that is not JSON.
fn unreadable(line: &Value) -> bool {
    let op = line["op"].as_str().unwrap_or("");
    let status = line["status"].as_u64();
    let digest = line["response"]
        .as_object()
        .is_some_and(|o| o.len() == 2 && o.contains_key("sha256") && o.contains_key("bytes"));
    let content_type = line["content_type"].as_str();
    let image = op == "getImage" && content_type.is_some_and(|ct| ct.starts_with("image/"));
    !line["error"].is_null()
        || status.is_some_and(|s| (300..400).contains(&s) || s == 408 || s == 429 || s >= 500)
        || (!image && (content_type.is_some() || (digest && op != "getImage")))
}

struct Faulted {
    finished: support::Finished,
    report: Option<Value>,
    journal: Vec<Value>,
    faults: u64,
    oversized_bytes_sent: u64,
    elsewhere_connections: u64,
}

/// Certifies [`ONLY`] through a proxy with `plan` (given the address of an "other host" that
/// counts connections) and returns what happened.
fn run_through(name: &str, plan: impl FnOnce(SocketAddr) -> Plan) -> Faulted {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join(name);
    let rt = support::runtime();
    rt.block_on(async {
        let platform = support::platform(dir.path()).await;
        // The other host of a redirect: another loopback address, so another origin.
        let elsewhere = Elsewhere::start("127.0.0.2").await;
        let proxy = FaultProxy::start(platform.base_url(), plan(elsewhere.addr)).await;
        let url = proxy.url();
        let out_arg = out.clone();
        let finished = tokio::task::spawn_blocking(move || {
            support::duxue_within(
                &[
                    "certify",
                    "--target",
                    &url,
                    "--token",
                    TOKEN,
                    "--only",
                    ONLY,
                    "--learners",
                    "0",
                    "--clock-scale",
                    "60",
                    "--seed",
                    "15",
                    "--request-timeout",
                    REQUEST_TIMEOUT,
                    "--out",
                    s(&out_arg),
                ],
                RUN_LIMIT,
            )
        })
        .await
        .expect("the run thread");
        let faulted = Faulted {
            report: std::fs::read_to_string(out.join("report.json"))
                .ok()
                .map(|t| serde_json::from_str(&t).expect("report.json is JSON")),
            journal: support::journal(&out),
            faults: proxy
                .stats
                .faults
                .load(std::sync::atomic::Ordering::Relaxed),
            oversized_bytes_sent: proxy
                .stats
                .oversized_bytes_sent
                .load(std::sync::atomic::Ordering::Relaxed),
            elsewhere_connections: elsewhere
                .connections
                .load(std::sync::atomic::Ordering::Relaxed),
            finished,
        };
        drop(proxy);
        platform.shutdown().await.expect("platform shutdown");
        faulted
    })
}

/// What every fault mode must show; `needles`: one of them names the fault in a reason.
fn assert_held(mode: &str, run: &Faulted, needles: &[&str]) {
    let f = &run.finished;
    eprintln!(
        "{mode}: exit {:?} in {:.1} s, peak RSS {} MiB, {} faults, {} journal lines",
        f.code,
        f.wall.as_secs_f64(),
        f.peak_rss_kib / 1024,
        run.faults,
        run.journal.len()
    );
    assert!(f.wall < RUN_LIMIT, "{mode}: the run did not end in time");
    assert!(
        !f.stderr.contains("panicked"),
        "{mode}: the harness panicked: {}",
        f.stderr
    );
    assert!(
        f.peak_rss_kib < RSS_LIMIT_KIB,
        "{mode}: peak RSS {} KiB",
        f.peak_rss_kib
    );
    assert!(run.faults > 0, "{mode}: the proxy injected no fault");
    let report = run
        .report
        .as_ref()
        .unwrap_or_else(|| panic!("{mode}: no report; stderr: {}", f.stderr));
    let errors = duxue_reports::validate_report_json(report).expect("schema loads");
    assert!(errors.is_empty(), "{mode}: report vs schema: {errors:?}");
    // --only is never CERTIFIED: the verdict is NOT_CERTIFIED and the exit code 1.
    assert_eq!(report["verdict"], "NOT_CERTIFIED", "{mode}");
    assert_eq!(f.code, Some(1), "{mode}: stderr {}", f.stderr);

    let spoiled: Vec<&Value> = run.journal.iter().filter(|l| unreadable(l)).collect();
    assert_eq!(
        spoiled.len() as u64,
        run.faults,
        "{mode}: every spoiled answer is in the evidence, and nothing else looks spoiled"
    );
    let mut named = false;
    for (id, verdict, reason) in support::requirements(report) {
        let hit = spoiled.iter().any(|l| l["probe"] == id.as_str());
        if hit {
            assert!(
                verdict != "PASS" && verdict != "WARNING",
                "{mode}: {id} is {verdict} on evidence with an answer it could not read: {reason}"
            );
            let details: Vec<String> = report["requirements"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["id"] == id.as_str())
                .flat_map(|r| r["checks"].as_array().cloned().unwrap_or_default())
                .map(|c| c["detail"].as_str().unwrap_or("").to_owned())
                .collect();
            named |= needles
                .iter()
                .any(|n| reason.contains(n) || details.iter().any(|d| d.contains(n)));
        }
    }
    assert!(
        named,
        "{mode}: no reason names the fault ({needles:?}): {:#?}",
        support::requirements(report)
    );
}

fn heartbeats(every: u64, fault: Fault) -> Plan {
    Plan::Every {
        path: "/heartbeats",
        every,
        faults: vec![fault],
    }
}

#[test]
fn connection_reset_on_one_request_in_twenty() {
    let run = run_through("reset", |_| Plan::Every {
        path: "",
        every: 20,
        faults: vec![Fault::Reset],
    });
    assert_held("reset", &run, &["transport failure", "connection"]);
}

#[test]
fn a_stalled_heartbeat_times_out() {
    let run = run_through("stall", |_| {
        heartbeats(
            6,
            Fault::Stall {
                cap: Duration::from_secs(60),
            },
        )
    });
    assert_held("stall", &run, &["timed out", "timeout"]);
}

#[test]
fn a_body_dripped_a_byte_a_second_times_out() {
    let run = run_through("drip", |_| {
        heartbeats(
            6,
            Fault::Drip {
                cap: Duration::from_secs(60),
            },
        )
    });
    assert_held("drip", &run, &["timed out", "timeout"]);
}

#[test]
fn bursts_of_server_errors() {
    let run = run_through("burst", |_| Plan::Burst {
        period: 30,
        faults: vec![
            Fault::ServerError(500),
            Fault::ServerError(502),
            Fault::ServerError(503),
        ],
    });
    assert_held("burst", &run, &["HTTP 500", "HTTP 502", "HTTP 503"]);
}

#[test]
fn too_many_requests_with_retry_after() {
    let run = run_through("429", |_| Plan::Every {
        path: "",
        every: 15,
        faults: vec![Fault::TooMany {
            retry_after_seconds: 1,
        }],
    });
    assert_held("429", &run, &["HTTP 429, Retry-After 1"]);
}

#[test]
fn malformed_json_in_heartbeat_answers() {
    let run = run_through("malformed", |_| heartbeats(5, Fault::MalformedJson));
    assert_held("malformed", &run, &["does not match the schema"]);
}

#[test]
fn truncated_heartbeat_answers() {
    let run = run_through("truncated", |_| heartbeats(5, Fault::Truncated));
    assert_held("truncated", &run, &["could not be read"]);
}

#[test]
fn an_endless_body_is_refused_at_the_cap() {
    // One GiB streamed (chunked, no length) and one GiB declared, alternately, on every
    // progress read: the harness must stop at its 16 MiB cap, never read on.
    const GIB: u64 = 1 << 30;
    let run = run_through("oversized", |_| Plan::Every {
        path: "/progress",
        every: 1,
        faults: vec![
            Fault::Oversized {
                bytes: GIB,
                declared: false,
            },
            Fault::Oversized {
                bytes: GIB,
                declared: true,
            },
        ],
    });
    assert_held("oversized", &run, &["cap of 16 MiB"]);
    let per_fault = run.oversized_bytes_sent / run.faults.max(1);
    eprintln!(
        "oversized: {} bytes streamed over {} faults ({per_fault} a fault)",
        run.oversized_bytes_sent, run.faults
    );
    // The cap plus what the sockets buffer, never the gigabyte.
    assert!(
        per_fault < 64 << 20,
        "the harness read {per_fault} bytes of an endless body"
    );
}

#[test]
fn a_wrong_content_type() {
    let run = run_through("content-type", |_| heartbeats(5, Fault::WrongContentType));
    assert_held("content-type", &run, &["content type"]);
}

#[test]
fn redirects_are_not_followed() {
    let run = run_through("redirect", |elsewhere| Plan::Every {
        path: "",
        every: 12,
        faults: vec![Fault::RedirectLoop, Fault::RedirectElsewhere(elsewhere)],
    });
    assert_held("redirect", &run, &["redirect"]);
    assert_eq!(
        run.elsewhere_connections, 0,
        "a redirect to another host was followed (with the conformance token)"
    );
}
