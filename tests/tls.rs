//! TLS as bureaus meet it: the reference platform serving HTTPS on loopback with a certificate
//! a test CA signed (generated here with rcgen), certified with `--ca-cert`; an unknown CA, a
//! certificate for another name, an expired one and a bad `--ca-cert` file are each one line
//! and exit 2, never a PASS. And SC-1's FAIL branch: plain HTTP to an address of the machine's
//! own that is not loopback, in a network namespace the test makes.

mod support;

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use support::{TOKEN, s};

/// A CA, and a server certificate it signed for `names`, valid for `days_valid` around now
/// (negative: expired that many days ago). Written as PEM files into `dir`; returns the paths
/// of (ca, cert, key).
fn certificates(
    dir: &Path,
    names: &[&str],
    expired: bool,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "duxue test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("server params");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write");
    std::fs::write(&paths.1, cert.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}

/// Starts the platform over HTTPS with `cert`/`key` and runs `duxue certify` with `extra`
/// against `https://{host}:port`.
fn certify_over_tls(
    dir: &Path,
    cert: &Path,
    key: &Path,
    host: &str,
    only: &str,
    extra: &[&str],
) -> (support::Finished, Option<serde_json::Value>) {
    let out = dir.join(format!("run-{}", rand::random::<u32>()));
    let rt = support::runtime();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let tls = duxue_platform::TlsFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
        };
        let platform = duxue_platform::start_tls(support::platform_config(dir), listener, &tls)
            .await
            .expect("the platform starts over TLS");
        assert!(platform.base_url().starts_with("https://"));
        let url = format!("https://{host}:{}", platform.local_addr().port());
        let mut args: Vec<String> = [
            "certify",
            "--target",
            &url,
            "--token",
            TOKEN,
            "--only",
            only,
            "--learners",
            "0",
            "--clock-scale",
            "30",
            "--out",
            s(&out),
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let finished = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::duxue_within(&args, Duration::from_secs(300))
        })
        .await
        .expect("run thread");
        platform.shutdown().await.expect("shutdown");
        let report = std::fs::read_to_string(out.join("report.json"))
            .ok()
            .map(|t| serde_json::from_str(&t).expect("report.json is JSON"));
        (finished, report)
    })
}

fn one_line_exit_2(finished: &support::Finished) -> String {
    assert_eq!(finished.code, Some(2), "stderr: {}", finished.stderr);
    let lines: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line: {}", finished.stderr);
    lines[0].to_owned()
}

#[test]
fn https_with_a_test_ca_certifies_and_sc1_passes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = certificates(dir.path(), &["localhost", "127.0.0.1"], false);
    let (finished, report) = certify_over_tls(
        dir.path(),
        &cert,
        &key,
        "localhost",
        "SC-1,SC-4,ID-5",
        &["--ca-cert", s(&ca)],
    );
    let report = report.unwrap_or_else(|| panic!("no report: {}", finished.stderr));
    let results = support::requirements(&report);
    for (id, verdict, reason) in &results {
        if ["SC-1", "SC-4", "ID-5"].contains(&id.as_str()) {
            assert_eq!(verdict, "PASS", "{id} over HTTPS: {reason}");
        }
    }
    // --only is never CERTIFIED.
    assert_eq!(finished.code, Some(1), "stderr: {}", finished.stderr);
}

#[test]
fn an_unknown_ca_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, cert, key) = certificates(dir.path(), &["localhost"], false);
    let (finished, report) = certify_over_tls(dir.path(), &cert, &key, "localhost", "SC-1", &[]);
    let line = one_line_exit_2(&finished);
    assert!(line.contains("not trusted"), "{line}");
    assert!(line.contains("--ca-cert"), "{line}");
    assert!(report.is_none(), "no report of a target it could not trust");
}

/// Certifies over TLS with a server certificate for `names` (expired or not) issued by a CA
/// given with --ca-cert: the certificate is refused in one line, exit 2, with no report.
fn refused_with_our_ca(names: &[&str], expired: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = certificates(dir.path(), names, expired);
    let (finished, report) = certify_over_tls(
        dir.path(),
        &cert,
        &key,
        "localhost",
        "SC-1",
        &["--ca-cert", s(&ca)],
    );
    let line = one_line_exit_2(&finished);
    assert!(line.contains("not trusted"), "{line}");
    assert!(report.is_none());
}

#[test]
fn a_certificate_for_another_name_is_one_line_and_exit_2() {
    refused_with_our_ca(&["platform.example.cn"], false);
}

#[test]
fn an_expired_certificate_is_one_line_and_exit_2() {
    refused_with_our_ca(&["localhost"], true);
}

#[test]
fn a_bad_ca_file_and_bad_server_files_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("not-a-ca.pem");
    std::fs::write(&bad, "this is not a certificate\n").expect("write");
    let finished = support::duxue_within(
        &[
            "certify",
            "--target",
            "https://127.0.0.1:9",
            "--token",
            "t",
            "--ca-cert",
            s(&bad),
            "--out",
            s(&dir.path().join("r")),
        ],
        Duration::from_secs(60),
    );
    let line = one_line_exit_2(&finished);
    assert!(
        line.contains("--ca-cert") && line.contains("not-a-ca.pem"),
        "{line}"
    );

    let finished = support::duxue_within(
        &[
            "platform",
            "serve",
            "--port",
            "0",
            "--database",
            s(&dir.path().join("p.sqlite")),
            "--tls-cert",
            s(&bad),
            "--tls-key",
            s(&bad),
        ],
        Duration::from_secs(60),
    );
    let line = one_line_exit_2(&finished);
    assert!(
        line.contains("not-a-ca.pem") && line.contains("--tls-cert"),
        "{line}"
    );
}

/// Runs `script` with `sh` in a new network and mount namespace (root, `unshare` and `ip`
/// needed); `None` when this machine cannot make one.
fn in_namespace(script: &str) -> Option<std::process::Output> {
    let probe = std::process::Command::new("unshare")
        .args(["-n", "-m", "--", "ip", "link", "set", "lo", "up"])
        .output()
        .ok()?;
    if !probe.status.success() {
        return None;
    }
    std::process::Command::new("unshare")
        .args(["-n", "-m", "--", "bash", "-c", script])
        .output()
        .ok()
}

#[test]
fn sc1_fails_plain_http_to_an_address_off_loopback_and_skips_a_name_on_loopback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let duxue = env!("CARGO_BIN_EXE_duxue");
    let root = s(dir.path());
    // In a namespace of its own: loopback up, 10.77.0.1 on a dummy interface (or on lo where
    // the kernel has no dummy driver: an address that is not loopback either way), a hosts
    // file naming it and loopback, the platform on both, and SC-1 certified three ways.
    let script = format!(
        r#"set -e
ip link set lo up
if ip link add duxue0 type dummy 2>/dev/null; then
  ip addr add 10.77.0.1/24 dev duxue0; ip link set duxue0 up
else
  ip addr add 10.77.0.1/32 dev lo
fi
printf '10.77.0.1 platform.sc1.test\n127.0.0.1 loopback.sc1.test\n' > {root}/hosts
mount --bind {root}/hosts /etc/hosts
DUXUE_CONFORMANCE_TOKEN={TOKEN} {duxue} platform serve --address 0.0.0.0 --port 18080 --database {root}/p.sqlite 2>{root}/serve.log &
SERVE=$!
for i in $(seq 100); do (echo > /dev/tcp/10.77.0.1/18080) 2>/dev/null && break; sleep 0.1; done
for target in http://10.77.0.1:18080 http://platform.sc1.test:18080 http://loopback.sc1.test:18080; do
  name=$(echo $target | tr -c 'a-z0-9\n' '_')
  {duxue} certify --target $target --token {TOKEN} --only SC-1 --learners 0 --out {root}/$name > /dev/null 2>{root}/$name.err || true
done
kill $SERVE
wait $SERVE || true
"#
    );
    let Some(output) = in_namespace(&script) else {
        eprintln!(
            "SKIPPED sc1_fails_plain_http_to_an_address_off_loopback_and_skips_a_name_on_loopback: \
             this machine cannot make a network namespace (needs root, unshare and ip)"
        );
        return;
    };
    assert!(
        output.status.success(),
        "the namespace script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sc1 = |name: &str| -> (String, String) {
        let report = support::read_json(&dir.path().join(name).join("report.json"));
        let results = support::requirements(&report);
        let (_, verdict, reason) = results
            .into_iter()
            .find(|(id, _, _)| id == "SC-1")
            .expect("SC-1 in the report");
        (verdict, reason)
    };
    let (verdict, reason) = sc1("http___10_77_0_1_18080");
    assert_eq!(verdict, "FAIL", "plain HTTP to 10.77.0.1: {reason}");
    assert!(reason.contains("plain HTTP"), "{reason}");
    let (verdict, reason) = sc1("http___platform_sc1_test_18080");
    assert_eq!(
        verdict, "FAIL",
        "a name that resolves off loopback: {reason}"
    );
    assert!(
        reason.contains("10.77.0.1"),
        "the address reached is named: {reason}"
    );
    let (verdict, reason) = sc1("http___loopback_sc1_test_18080");
    assert_eq!(
        verdict, "SKIPPED",
        "a name that resolves to loopback: {reason}"
    );
}
