//! `report.html` opened in headless Chromium: the verdict and every catalog ID are in the
//! rendered DOM, nothing is fetched (no failed loads, no remote references), and the first
//! page renders to a real screenshot. Chromium is required: CI installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> PathBuf {
    let candidates = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    if let Ok(path) = std::env::var("DUXUE_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in candidates {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !path.is_empty() {
                return PathBuf::from(path);
            }
        }
    }
    panic!(
        "headless Chromium is needed for this test and was not found: install it \
         (`apt-get install -y chromium`; CI's .ci/run does) or set DUXUE_CHROMIUM"
    );
}

/// What Chromium printed and how it ended.
struct Output {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs headless Chromium on a file with the given extra flags; at most 90 s. Its output goes
/// to files (a full pipe would stall it).
fn run_chromium(profile: &Path, file: &Path, extra: &[String]) -> Output {
    let out_path = profile.join("chromium.stdout");
    let err_path = profile.join("chromium.stderr");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-spell-checking",
            "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
            // No name resolves: nothing leaves the machine, whatever Chromium tries.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--hide-scrollbars",
            // Verbose logging names every URL a page requests.
            "--enable-logging=stderr",
            "--v=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", file.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Chromium did not finish within 90 s: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// Chromium's own background requests (account and update checks), which no page makes.
const BACKGROUND: [&str; 5] = [
    "https://accounts.google.com/ListAccounts",
    "http://clients2.google.com/time/",
    "http://update.googleapis.com/service/update2/",
    "https://update.googleapis.com/service/update2/",
    "https://redirector.gvt1.com/edgedl/chrome/dict/",
];

/// Every URL the page requested besides itself, from Chromium's verbose log.
fn page_requests(stderr: &str, page: &Path) -> Vec<String> {
    let own = format!("file://{}", page.display());
    stderr
        .lines()
        .filter_map(|l| {
            l.split_once("FileURLLoader::Start: ")
                .or_else(|| l.split_once("NotifyBeforeURLRequest: "))
                .map(|(_, url)| url.trim().to_owned())
        })
        .filter(|url| *url != own && !BACKGROUND.iter().any(|b| url.starts_with(b)))
        .collect()
}

#[test]
fn chromium_shows_the_verdict_and_every_requirement_and_fetches_nothing() {
    let run = common::sealed_run();
    let html_path = run.path().join("report.html");
    let html = std::fs::read_to_string(&html_path).expect("report.html");
    // Nothing remote: no http(s) in any src/href/url(), no scripts, no imports.
    let lower = html.to_lowercase();
    for needle in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "url(http",
        "url(\"http",
        "url('http",
        "@import",
        "<script",
        "<link",
        "<iframe",
    ] {
        assert!(!lower.contains(needle), "report.html contains {needle}");
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let dom = run_chromium(profile.path(), &html_path, &["--dump-dom".to_owned()]);
    let stdout = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "Chromium failed: {stderr}");
    assert!(
        stdout.contains("NOT_CERTIFIED"),
        "the verdict is not in the DOM"
    );
    assert!(stdout.contains("未通过认证"));
    for id in common::catalog().ids() {
        assert!(
            stdout.contains(&format!("id=\"req-{id}\"")),
            "{id} is not in the rendered DOM"
        );
    }
    let requests = page_requests(&stderr, &html_path);
    assert!(
        requests.is_empty(),
        "report.html made requests (failed or not): {requests:#?}"
    );

    // The log check sees requests: a page with a missing image and a remote one logs both.
    let control = run.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><img src=\"missing.png\"><img src=\"http://127.0.0.1:9/x.png\">",
    )
    .expect("write");
    let out = run_chromium(profile.path(), &control, &["--dump-dom".to_owned()]);
    let seen = page_requests(&String::from_utf8_lossy(&out.stderr), &control);
    assert!(
        seen.iter().any(|u| u.ends_with("/missing.png"))
            && seen.iter().any(|u| u == "http://127.0.0.1:9/x.png"),
        "Chromium's log does not show a control page's requests ({seen:?}): the check above proves nothing"
    );

    // The first A4-proportioned page as a screenshot.
    let png = run.path().join("page1.png");
    let shot = run_chromium(
        profile.path(),
        &html_path,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1240,1754".to_owned(),
        ],
    );
    let stderr = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "Chromium failed: {stderr}");
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 30_000,
        "the screenshot is only {} bytes: a blank page?",
        bytes.len()
    );
    // DUXUE_KEEP_SCREENSHOT=FILE.png keeps the screenshot (and the page beside it, FILE.html).
    if let Ok(keep) = std::env::var("DUXUE_KEEP_SCREENSHOT") {
        std::fs::copy(&png, &keep).expect("copy screenshot");
        std::fs::copy(&html_path, Path::new(&keep).with_extension("html")).expect("copy page");
    }
}
