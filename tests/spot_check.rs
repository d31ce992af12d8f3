//! End to end: `duxue spot-check` against the production side of the reference platform,
//! served by `duxue platform serve` at a testing clock scale, with accounts made by `duxue
//! register-accounts`. A clean platform fails nothing on the road, every requirement real
//! time allows is judged, and no request of the spot check touches a conformance path or
//! names duxue (a recording proxy sees them all). The defeat device `lax-outside-conformance`
//! is CERTIFIED in the lab, FAILs on the road exactly what the expected-failures manifest
//! says, and the comparison of the two is DIVERGENT.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The production clock's testing scale, and how long each spot check runs (wall seconds):
/// 100 minutes of the platform's time, enough for every cheat to come up.
const SCALE: &str = "30";
const DURATION: &str = "200s";
const TOKEN: &str = "spot-check-test-conformance-token";

/// Requirements a spot check judges; SC-1 is SKIPPED on loopback.
const JUDGED: [&str; 16] = [
    "ID-3", "ID-4", "ID-5", "PB-1", "PB-2", "PB-3", "PB-4", "PB-5", "BC-1", "BC-3", "SV-2", "SV-3",
    "SV-5", "SV-7", "SC-2", "SC-3",
];

fn duxue() -> Command {
    Command::new(env!("CARGO_BIN_EXE_duxue"))
}

/// `duxue platform serve` on a free loopback port, killed when dropped.
struct Served {
    child: Child,
    url: String,
    supervisors: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Served {
    let database = dir.join("platform.sqlite");
    let supervisors = dir.join("supervisors.toml");
    let mut child = duxue()
        .args(["platform", "serve", "--port", "0", "--clock-scale", SCALE])
        .arg("--database")
        .arg(&database)
        .arg("--supervisor-file")
        .arg(&supervisors)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("duxue platform serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve printed its address before exiting")
            .expect("stderr is text");
        if let Some(rest) = line.split_once("reference platform on ").map(|(_, r)| r) {
            let url = rest.split("/profile/v1").next().expect("url").to_owned();
            break url;
        }
    };
    // Keep draining stderr so the platform never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served {
        child,
        url,
        supervisors,
    }
}

fn register(served: &Served, dir: &Path, seed: &str) -> PathBuf {
    let accounts = dir.join("accounts.toml");
    let out = duxue()
        .args(["register-accounts", "--target", &served.url, "--count", "8"])
        .arg("--supervisor")
        .arg(&served.supervisors)
        .arg("--out")
        .arg(&accounts)
        .args(["--seed", seed])
        .output()
        .expect("register-accounts runs");
    assert!(
        out.status.success(),
        "register-accounts failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    accounts
}

/// Runs a spot check of `target` and returns its exit code and report.
fn spot_check(
    target: &str,
    served: &Served,
    accounts: &Path,
    out: &Path,
    seed: &str,
) -> (Option<i32>, Value) {
    let output = duxue()
        .args(["spot-check", "--target", target, "--clock-scale", SCALE])
        .args(["--duration", DURATION, "--seed", seed])
        .arg("--accounts")
        .arg(accounts)
        .arg("--supervisor")
        .arg(&served.supervisors)
        .arg("--out")
        .arg(out)
        .output()
        .expect("spot-check runs");
    let text = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "no report.json ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code(),
        serde_json::from_str(&text).expect("report.json is JSON"),
    )
}

fn verdict_of<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .expect("requirements")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} is in the report"))
}

fn with_verdict(report: &Value, verdict: &str) -> Vec<String> {
    report["requirements"]
        .as_array()
        .expect("requirements")
        .iter()
        .filter(|r| r["verdict"] == verdict)
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Why each requirement that is not as expected came out so.
fn explain(report: &Value, ids: &[String]) -> String {
    ids.iter()
        .map(|id| {
            let r = verdict_of(report, id);
            let checks: Vec<String> = r["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["passed"] != true)
                .take(4)
                .map(|c| format!("\n      {}: {}", c["name"], c["detail"]))
                .collect();
            format!(
                "\n  {id} {}: {}{}",
                r["verdict"],
                r["reason"],
                checks.concat()
            )
        })
        .collect()
}

/// One request the recording proxy forwarded.
#[derive(Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A loopback HTTP proxy in front of `upstream` that records every request it forwards.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

fn recording_proxy(upstream: &str) -> Recorder {
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;

    type Shared = (String, reqwest::Client, Arc<Mutex<Vec<Seen>>>);
    async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
        let (upstream, client, seen) = &*shared;
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 64 << 20)
            .await
            .unwrap_or_default();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        seen.lock().expect("lock").push(Seen {
            method: parts.method.to_string(),
            path: path.clone(),
            headers: headers.clone(),
            body: body.to_vec(),
        });
        let mut outgoing = client
            .request(parts.method, format!("{upstream}{path}"))
            .body(body);
        for (name, value) in &headers {
            if !matches!(name.as_str(), "host" | "content-length" | "connection") {
                outgoing = outgoing.header(name, value);
            }
        }
        match outgoing.send().await {
            Ok(answer) => {
                let mut response = Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != "content-length" && name != "transfer-encoding" {
                        response = response.header(name, value);
                    }
                }
                let bytes = answer.bytes().await.unwrap_or_default();
                response
                    .body(Body::from(bytes))
                    .expect("a response from parts")
            }
            Err(e) => Response::builder()
                .status(502)
                .body(Body::from(e.to_string()))
                .expect("a 502"),
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let shared: Arc<Shared> = Arc::new((upstream.to_owned(), reqwest::Client::new(), seen.clone()));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let app = axum::Router::new().fallback(forward).with_state(shared);
    runtime.spawn(async move { axum::serve(listener, app).await });
    Recorder {
        url,
        seen,
        _runtime: runtime,
    }
}

/// A request body as text with every image left out (base64 images could hold any word).
fn body_text(body: &[u8]) -> String {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["image", "face_image", "id_card_image", "frames"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            strip(&mut value);
            value.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

#[test]
fn a_clean_platform_fails_nothing_on_the_road_and_the_spot_check_names_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = serve(dir.path(), &[]);
    let accounts = register(&served, dir.path(), "31");
    let proxy = recording_proxy(&served.url);
    let out = dir.path().join("spot-check");
    let (code, report) = spot_check(&proxy.url, &served, &accounts, &out, "20221109");

    assert_eq!(report["mode"], "spot_check");
    let failed = with_verdict(&report, "FAIL");
    assert!(
        failed.is_empty(),
        "a clean platform failed on the road:{}",
        explain(&report, &failed)
    );
    let unjudged: Vec<String> = JUDGED
        .iter()
        .filter(|id| verdict_of(&report, id)["verdict"] != "PASS")
        .map(|id| (*id).to_owned())
        .collect();
    assert!(
        unjudged.is_empty(),
        "requirements real time allows were not judged PASS:{}",
        explain(&report, &unjudged)
    );
    assert_eq!(verdict_of(&report, "SC-1")["verdict"], "SKIPPED");
    for r in report["requirements"].as_array().expect("requirements") {
        let id = r["id"].as_str().unwrap_or_default();
        if !JUDGED.contains(&id) {
            assert_eq!(r["verdict"], "SKIPPED", "{id}: {}", r["reason"]);
            assert!(
                !r["reason"].as_str().unwrap_or_default().is_empty(),
                "{id} says why"
            );
        }
    }
    // Everything judged and nothing failed: the road agrees with the lab.
    assert_eq!(report["verdict"], "CERTIFIED");
    assert_eq!(code, Some(0));
    let verified = duxue()
        .args(["report", "verify"])
        .arg(&out)
        .output()
        .expect("verify runs");
    assert!(
        verified.status.success(),
        "the spot check's folder is sealed"
    );

    // The traffic: every request the spot check made went through the proxy.
    let seen = proxy.seen.lock().expect("lock");
    assert!(
        seen.len() as u64 >= report["run"]["requests"].as_u64().unwrap_or(0),
        "the proxy saw {} requests, the journal holds {}",
        seen.len(),
        report["run"]["requests"]
    );
    let ops: std::collections::BTreeSet<&str> = seen
        .iter()
        .map(|s| s.path.split('?').next().unwrap_or(""))
        .collect();
    assert!(
        ops.iter().any(|p| p.ends_with("/heartbeats")) && ops.iter().any(|p| p.ends_with("/login")),
        "the proxy saw the study: {ops:?}"
    );
    for request in seen.iter() {
        let what = format!("{} {}", request.method, request.path);
        assert!(
            !request.path.contains("/conformance"),
            "a conformance path was touched: {what}"
        );
        for (name, value) in &request.headers {
            assert_ne!(
                name, "x-conformance-token",
                "{what} carries a conformance token"
            );
            let lower = value.to_lowercase();
            assert!(
                !lower.contains("duxue") && !value.contains("督学"),
                "{what}: header {name} names the tool: {value}"
            );
        }
        let agent = request
            .headers
            .iter()
            .find(|(n, _)| n == "user-agent")
            .map(|(_, v)| v.as_str());
        assert!(
            agent.is_some_and(|a| a.starts_with("Mozilla/5.0")),
            "{what}: User-Agent {agent:?} is not a browser's"
        );
        let body = body_text(&request.body).to_lowercase();
        for word in ["duxue", "督学", "spot", "conformance", "probe"] {
            assert!(!body.contains(word), "{what}: the body says {word}: {body}");
        }
        assert!(
            !request.path.to_lowercase().contains("duxue"),
            "{what} names the tool"
        );
    }
}

#[test]
fn a_defeat_device_is_certified_in_the_lab_fails_on_the_road_and_the_comparison_diverges() {
    let manifest: toml::Value = toml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../reference-platform/expected-failures.toml"),
        )
        .expect("the manifest"),
    )
    .expect("TOML");
    let case = manifest["case"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["defect"].as_str() == Some("lax-outside-conformance"))
        .expect("the defeat device's case");
    assert_eq!(
        case["fails"].as_array().map(Vec::len),
        Some(0),
        "certify must fail nothing"
    );
    let mut expected: Vec<String> = case["spot_check_fails"]
        .as_array()
        .expect("spot_check_fails")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    expected.sort();

    let dir = tempfile::tempdir().expect("temp dir");
    let served = serve(
        dir.path(),
        &[
            "--defect",
            "lax-outside-conformance",
            "--conformance-token",
            TOKEN,
        ],
    );
    let accounts = register(&served, dir.path(), "32");
    // The road and the lab at once (the spot check's few accounts hardly load the machine):
    // the same live platform, on production and through its conformance tenant.
    let road = dir.path().join("spot-check");
    let lab = dir.path().join("certify");
    let ((code, report), output) = std::thread::scope(|s| {
        let lab_run = s.spawn(|| {
            duxue()
                .args(["certify", "--target", &served.url, "--token", TOKEN])
                .args(["--clock-scale", SCALE, "--seed", "7"])
                // A small population, so that LD-1 and LD-2 are judged and the verdict can
                // be CERTIFIED: held long enough for a class hour (2,700 cohort seconds, 90
                // wall seconds at ×30) to be watched through, which LD-2's captures per class
                // hour need.
                .args([
                    "--learners",
                    "20",
                    "--population-clock-scale",
                    "30",
                    "--ramp-up",
                    "5",
                    "--hold",
                    "100",
                    "--ramp-down",
                    "3",
                ])
                .arg("--out")
                .arg(&lab)
                .output()
                .expect("certify runs")
        });
        let road_run = spot_check(&served.url, &served, &accounts, &road, "20221110");
        (road_run, lab_run.join().expect("the lab thread"))
    });
    let mut failed = with_verdict(&report, "FAIL");
    failed.sort();
    let mut surprises: Vec<String> = failed
        .iter()
        .filter(|id| !expected.contains(id))
        .chain(expected.iter().filter(|id| !failed.contains(id)))
        .cloned()
        .collect();
    surprises.sort();
    assert!(
        surprises.is_empty(),
        "the road failed {failed:?}, the manifest expects {expected:?}:{}",
        explain(&report, &surprises)
    );
    assert_eq!(report["verdict"], "NOT_CERTIFIED");
    assert_eq!(code, Some(1));

    let certified: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.join("report.json")).unwrap_or_else(|e| {
            panic!(
                "no report.json ({e}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        }),
    )
    .expect("JSON");
    let not_passed: Vec<String> = certified["requirements"]
        .as_array()
        .expect("requirements")
        .iter()
        .filter(|r| !matches!(r["verdict"].as_str(), Some("PASS" | "SKIPPED")))
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        not_passed.is_empty(),
        "certify of the defeat device did not pass everything:{}",
        explain(&certified, &not_passed)
    );
    assert_eq!(certified["verdict"], "CERTIFIED", "the lab certifies it");
    assert_eq!(output.status.code(), Some(0));

    // Lab against road.
    let compared = dir.path().join("compared");
    let output = duxue()
        .args(["report", "compare"])
        .arg(&lab)
        .arg(&road)
        .arg("--out")
        .arg(&compared)
        .output()
        .expect("report compare runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let comparison: Value = serde_json::from_str(
        &std::fs::read_to_string(compared.join("report.json")).expect("compared report.json"),
    )
    .expect("JSON");
    assert_eq!(comparison["verdict"], "NOT_CERTIFIED");
    assert_eq!(comparison["comparison"]["certify_verdict"], "CERTIFIED");
    let mut divergent: Vec<String> = comparison["comparison"]["divergent"]
        .as_array()
        .expect("divergent")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    divergent.sort();
    assert_eq!(divergent, expected, "every road failure passed in the lab");
    for id in &divergent {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(id.as_str()) && l.ends_with("DIVERGENT")),
            "{id} is marked DIVERGENT: {stdout}"
        );
    }
    let html = std::fs::read_to_string(compared.join("report.html")).expect("report.html");
    assert!(html.contains("DIVERGENT"), "the HTML shows the divergence");
    let verified = duxue()
        .args(["report", "verify"])
        .arg(&compared)
        .output()
        .expect("verify runs");
    assert!(verified.status.success(), "the comparison is sealed");
}
