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

/// Width, client width and height of a page laid out by Chromium at `width` pixels, and the
/// first element that sticks out on the right (if any). `print` lays it out with the print
/// style sheet, as on A4. The measuring script goes into a copy of the page only: the report
/// itself has no script.
fn layout(page: &Path, width: u32, print: bool) -> (f64, f64, f64, String) {
    let html = std::fs::read_to_string(page).expect("page");
    let html = if print {
        html.replace("@media print{", "@media all{")
    } else {
        html
    };
    let script = r#"<script>
addEventListener('load',()=>{const d=document.documentElement;const cw=d.clientWidth;let first='';
for(const e of document.querySelectorAll('main *')){const r=e.getBoundingClientRect();
if(r.right>cw+0.5&&r.width>0){first=e.tagName+'.'+e.className+'#'+e.id+' right '+Math.round(r.right);break;}}
const p=document.createElement('p');p.id='layout';p.style.width='1px';
p.textContent=[d.scrollWidth,cw,d.scrollHeight,first].join('|');document.body.appendChild(p);});
</script></body>"#;
    let copy = page.with_file_name(format!(
        "layout-{width}{}.html",
        if print { "-print" } else { "" }
    ));
    std::fs::write(&copy, html.replace("</body>", script)).expect("write the copy");
    let profile = tempfile::tempdir().expect("profile dir");
    let out = run_chromium(
        profile.path(),
        &copy,
        &[
            "--dump-dom".to_owned(),
            format!("--window-size={width},1000"),
            "--virtual-time-budget=5000".to_owned(),
        ],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let measured = dom
        .split("id=\"layout\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| {
            panic!(
                "the measuring script did not run: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_owned();
    let parts: Vec<&str> = measured.split('|').collect();
    let number = |i: usize| {
        parts
            .get(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    (
        number(0),
        number(1),
        number(2),
        parts.get(3).map(|s| (*s).to_owned()).unwrap_or_default(),
    )
}

/// A4 (210 mm) at 96 px per inch, less the page's 11 mm side margins.
const A4_PRINTABLE_PX: u32 = 711;

#[test]
fn report_html_fits_a_1280_px_window_and_an_a4_page() {
    let run = common::sealed_run();
    let page = run.path().join("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html");
    assert!(
        html.contains("<details class=\"req\""),
        "the appendix folds per requirement"
    );
    let (scroll, client, height, first) = layout(&page, 1280, false);
    assert!(
        scroll <= client,
        "at 1280 px the page scrolls sideways: {scroll} px wide in a {client} px window ({first})"
    );
    // DUXUE_LAYOUT=1 prints the figures (the page was about 26,000 px tall before it folded).
    if std::env::var_os("DUXUE_LAYOUT").is_some() {
        eprintln!("1280 px: {scroll} wide, {height} tall");
    }
    assert!(
        height < 16_000.0,
        "at 1280 px the page is {height} px tall: the appendix should fold"
    );
    let (scroll, client, height, first) = layout(&page, A4_PRINTABLE_PX, true);
    assert!(
        scroll <= client,
        "in the A4 print layout the page is {scroll} px wide on a {client} px page ({first})"
    );
    if std::env::var_os("DUXUE_LAYOUT").is_some() {
        eprintln!("A4: {scroll} wide, {height} tall");
    }

    // The measurement sees an overflow: a control page with a 2,000 px table.
    let control = run.path().join("wide.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><body><main><table style=\"width:2000px\"><tr><td>x</td></tr></table></main></body></html>",
    )
    .expect("write");
    let (scroll, client, _, first) = layout(&control, 1280, false);
    assert!(
        scroll > client && first.starts_with("TABLE"),
        "the control page's overflow was not measured ({scroll} in {client}, {first}): the checks above prove nothing"
    );
}
