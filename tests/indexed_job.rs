//! The Kubernetes manifests of `deploy/`, run as Kubernetes would run them, on loopback: the
//! pod command of `indexed-job.yaml` read out of the YAML, its environment built from the
//! container's `env` (secrets filled in, `$(VAR)` references expanded, the operator's
//! settings applied), N processes with `JOB_COMPLETION_INDEX` 0..N-1 against one reference
//! platform, the volumes mounted at folders of the test; then the pod command of
//! `merge-job.yaml`. The merged run must hold the shards' learners and requests, its
//! histograms must be the shards' added, and LD-1 / LD-2 must be judged once on the whole.
//! The Dockerfile is checked against the build and the manifests (no container engine here).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use support::{Platform, column_sum, report, requirement, start_in};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");

fn manifest(name: &str) -> Yaml {
    let path = Path::new(DEPLOY).join(name);
    let text = std::fs::read_to_string(&path).expect("deploy manifest");
    serde_yaml_ng::from_str(&text).expect("YAML")
}

fn text(v: &Yaml) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("a string: {v:?}"))
        .to_owned()
}

/// The first container of a Job's pod template.
fn container(job: &Yaml) -> &Yaml {
    &job["spec"]["template"]["spec"]["containers"][0]
}

/// Expands `$(VAR)` references as Kubernetes does in env values, command and args: a defined
/// variable is replaced, `$$` is a `$`, anything else stays as written.
fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        if let Some(inner) = rest.strip_prefix("$(")
            && let Some(end) = inner.find(')')
            && let Some((_, value)) = env.iter().rev().find(|(k, _)| k == &inner[..end])
        {
            out.push_str(value);
            rest = &inner[end + 1..];
            continue;
        }
        out.push('$');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

/// What the pod's process is started with.
struct Pod {
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

/// Builds a container's process as the kubelet would: env in order (values set by the
/// operator replace the manifest's; secrets from `secrets`), `$(VAR)` expanded, volume mount
/// paths mapped to folders of the test.
fn pod(
    container: &Yaml,
    settings: &BTreeMap<&str, String>,
    secrets: &BTreeMap<(&str, &str), String>,
    mounts: &BTreeMap<String, PathBuf>,
) -> Pod {
    let remap = |s: String| {
        mounts.iter().fold(s, |s, (from, to)| {
            s.replace(from.as_str(), to.to_str().expect("utf-8"))
        })
    };
    let mut env: Vec<(String, String)> = Vec::new();
    for var in container["env"].as_sequence().expect("env") {
        let name = text(&var["name"]);
        let value = if let Some(v) = settings.get(name.as_str()) {
            v.clone()
        } else if let Some(secret) = var["valueFrom"]["secretKeyRef"].as_mapping() {
            let key = (
                secret["name"].as_str().expect("secret name"),
                secret["key"].as_str().expect("secret key"),
            );
            secrets
                .get(&key)
                .unwrap_or_else(|| panic!("the secret {key:?}"))
                .clone()
        } else {
            expand(&text(&var["value"]), &env)
        };
        env.push((name, remap(value)));
    }
    let argv = container["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .chain(container["args"].as_sequence().expect("args"))
        .map(|a| remap(expand(&text(a), &env)))
        .collect();
    Pod { argv, env }
}

/// Runs a pod's process with only its own environment, `duxue` on PATH as in the image.
fn run(pod: &Pod, extra_env: &[(&str, String)]) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_duxue"))
        .parent()
        .expect("bin dir");
    Command::new(&pod.argv[0])
        .args(&pod.argv[1..])
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        )
        .envs(pod.env.iter().map(|(k, v)| (k, v)))
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("the pod command runs")
}

/// Every interval of a shard's latency log added per operation: (whole phase, hold only).
fn add_log(path: &Path, hold: (f64, f64), into: &mut BTreeMap<String, [Histogram<u64>; 2]>) {
    let bytes = std::fs::read(path).expect("latency log");
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let Ok(LogEntry::Interval(interval)) = entry else {
            continue;
        };
        let Some(tag) = interval.tag() else {
            continue;
        };
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .expect("base64");
        let h: Histogram<u64> = deserializer
            .deserialize(&mut std::io::Cursor::new(encoded))
            .expect("histogram");
        let [whole, peak] = into.entry(tag.as_str().to_owned()).or_insert_with(|| {
            let new = || Histogram::new_with_bounds(1, 600_000_000, 3).expect("bounds");
            [new(), new()]
        });
        whole.add(&h).expect("add");
        let start = interval.start_timestamp().as_secs_f64();
        if start >= hold.0 && start < hold.1 {
            peak.add(&h).expect("add");
        }
    }
}

#[test]
fn the_indexed_job_runs_as_kubernetes_would_and_merges() {
    const SHARDS: usize = 3;
    const LEARNERS: u64 = 20;
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let platform = Platform::serve(root);
    let job = manifest("indexed-job.yaml");
    let merge_job = manifest("merge-job.yaml");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], job["spec"]["parallelism"]);
    let shards_env = container(&job)["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .find(|v| v["name"] == "DUXUE_SHARDS")
        .expect("DUXUE_SHARDS");
    assert_eq!(
        text(&shards_env["value"]).parse::<u64>().ok(),
        job["spec"]["completions"].as_u64(),
        "the manifest's N agrees with itself"
    );

    // The operator's settings: N shards of a short shape against the platform on loopback,
    // one start time for every pod.
    let settings: BTreeMap<&str, String> = [
        ("DUXUE_SHARDS", SHARDS.to_string()),
        ("LEARNERS_PER_SHARD", LEARNERS.to_string()),
        ("TARGET_URL", platform.url.clone()),
        ("START_AT", start_in(15)),
        ("RAMP_UP_S", "5".into()),
        ("HOLD_S", "30".into()),
        ("RAMP_DOWN_S", "2".into()),
        ("POPULATION_CLOCK_SCALE", "20".into()),
        ("PROBES", "SC-4".into()),
    ]
    .into_iter()
    .collect();
    let secrets: BTreeMap<(&str, &str), String> =
        [(("duxue-conformance", "token"), platform.token.clone())]
            .into_iter()
            .collect();
    let mut mounts = BTreeMap::new();
    for m in container(&job)["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
    {
        let path = text(&m["mountPath"]);
        let local = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&local).expect("mount");
        mounts.insert(path, local);
    }
    // The bureau's signing key in the secret volume: shards sign with it, merge checks it.
    let keys = &mounts["/keys"];
    let keygen = support::duxue(&[
        "report",
        "keygen",
        keys.join("signing.key").to_str().expect("utf-8"),
    ]);
    assert!(keygen.status.success());

    let shard_pod = pod(container(&job), &settings, &secrets, &mounts);
    let outputs: Vec<std::process::Output> = std::thread::scope(|s| {
        let pods: Vec<_> = (0..SHARDS)
            .map(|k| {
                let shard_pod = &shard_pod;
                s.spawn(move || run(shard_pod, &[("JOB_COMPLETION_INDEX", k.to_string())]))
            })
            .collect();
        pods.into_iter().map(|p| p.join().expect("pod")).collect()
    });
    for (k, output) in outputs.iter().enumerate() {
        assert!(
            output.status.success(),
            "pod {k} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let merge_pod = pod(container(&merge_job), &settings, &secrets, &mounts);
    let output = run(&merge_pod, &[]);
    assert!(
        output.status.success(),
        "the merge pod failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let run_dir = mounts["/runs"].join("20221109");
    let shard_dirs: Vec<PathBuf> = (0..SHARDS)
        .map(|k| run_dir.join(format!("shard-{k}")))
        .collect();
    let shards: Vec<Value> = shard_dirs.iter().map(|d| report(d)).collect();
    let merged = report(&run_dir.join("merged"));
    for (k, s) in shards.iter().enumerate() {
        assert_eq!(s["run"]["shard"]["index"], k as u64);
        assert_eq!(s["run"]["shard"]["count"], SHARDS as u64);
        assert_eq!(
            s["run"]["shard"]["start_at"],
            shards[0]["run"]["shard"]["start_at"]
        );
    }
    let sum = |f: &dyn Fn(&Value) -> u64| shards.iter().map(f).sum::<u64>();
    assert_eq!(
        merged["population"]["learners_peak"].as_u64(),
        Some(SHARDS as u64 * LEARNERS)
    );
    assert_eq!(
        merged["run"]["learners"].as_u64(),
        Some(sum(&|s| s["run"]["learners"].as_u64().expect("learners")))
    );
    assert_eq!(
        merged["run"]["requests"].as_u64(),
        Some(sum(&|s| s["run"]["requests"].as_u64().expect("requests")))
    );
    assert_eq!(
        column_sum(&merged["population"]["ledger"], "learners"),
        sum(&|s| column_sum(&s["population"]["ledger"], "learners"))
    );

    // The merged histograms are the shards' added: counts per operation, and the hold's p99
    // that LD-1 judged, recomputed here from the shards' own interval logs.
    let shape = &merged["population"]["shape"];
    let from = shape["ramp_up_s"].as_f64().expect("ramp");
    let hold = (from, from + shape["hold_s"].as_f64().expect("hold"));
    let mut added = BTreeMap::new();
    for d in &shard_dirs {
        add_log(&d.join("load/latency.hlog"), hold, &mut added);
    }
    let ld1 = requirement(&merged, "LD-1");
    for row in merged["population"]["operations"]
        .as_array()
        .expect("operations")
    {
        let name = row["operation"].as_str().expect("operation");
        let [whole, peak] = &added[name];
        assert_eq!(row["count"].as_u64(), Some(whole.len()), "{name} count");
        let shard_counts: u64 = shards
            .iter()
            .flat_map(|s| s["population"]["operations"].as_array().expect("rows"))
            .filter(|r| r["operation"] == name)
            .map(|r| r["count"].as_u64().expect("count"))
            .sum();
        assert_eq!(whole.len(), shard_counts, "{name}: the shards' requests");
        if !peak.is_empty() {
            let p99 = (peak.value_at_quantile(0.99) as f64 / 10.0).round() / 100.0;
            assert_eq!(
                ld1["figures"]["peak_p99_ms"][name].as_f64(),
                Some(p99),
                "{name}: LD-1 judged the added hold"
            );
        }
    }
    // Judged once, on the whole: every shard's learners, at one peak.
    support::assert_judged_once(&merged, &shards);
    let info = &merged["run"]["merged"];
    assert_eq!(info["shards"].as_array().map(Vec::len), Some(SHARDS));
    assert!(info["start_spread_s"].as_f64().expect("spread") <= 1.0);
    let verify = support::duxue(&[
        "report",
        "verify",
        run_dir.join("merged").to_str().expect("utf-8"),
        "--public-key",
        keys.join("signing.key.pub").to_str().expect("utf-8"),
    ]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "signed with the bureau's key"
    );
}

/// No container engine runs here: the Dockerfile is checked against what can be checked — it
/// builds the binary the pods call, puts it on PATH, runs as the user the manifests require,
/// and with a Rust new enough for the workspace.
#[test]
fn the_dockerfile_builds_the_binary_the_pods_run_as_their_user() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let stages: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "multi-stage: a build and a runtime stage");
    let rust: Vec<u32> = stages[0]
        .split_whitespace()
        .nth(1)
        .and_then(|image| image.strip_prefix("rust:"))
        .expect("the build stage is an official Rust image")
        .split(['.', '-'])
        .take(2)
        .map(|n| n.parse().expect("version"))
        .collect();
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let wanted: Vec<u32> = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version")
        .trim_matches('"')
        .split('.')
        .map(|n| n.parse().expect("version"))
        .collect();
    assert!(
        rust >= wanted,
        "Rust {rust:?} builds a workspace of {wanted:?}"
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_duxue"))
        .file_name()
        .and_then(|n| n.to_str())
        .expect("binary name");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("RUN cargo build --release")
                && l.contains("--locked")
                && l.contains(&format!("--bin {bin}"))),
        "the build stage builds {bin}"
    );
    let copy = format!("COPY --from=build /src/target/release/{bin} /usr/local/bin/{bin}");
    assert!(
        lines.contains(&copy.as_str()),
        "the runtime stage has {bin} on PATH"
    );
    let runtime = &lines[lines.iter().position(|l| l == stages[1]).expect("stage")..];
    assert_eq!(
        runtime.iter().filter(|l| l.starts_with("COPY")).count(),
        1,
        "only the binary is copied in"
    );
    let user = runtime
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER in the runtime stage");
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    assert_ne!(uid, "0", "not root");
    for name in ["indexed-job.yaml", "merge-job.yaml"] {
        let job = manifest(name);
        let security = &job["spec"]["template"]["spec"]["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{name}");
        assert_eq!(
            security["runAsUser"]
                .as_u64()
                .map(|u| u.to_string())
                .as_deref(),
            Some(uid),
            "{name}"
        );
        assert_eq!(
            security["runAsGroup"]
                .as_u64()
                .map(|g| g.to_string())
                .as_deref(),
            Some(gid),
            "{name}"
        );
        let c = container(&job);
        let script = c["args"][0].as_str().expect("args");
        assert!(script.contains(&format!("{bin} ")), "{name} calls {bin}");
        assert_eq!(
            c["command"][0], "/bin/sh",
            "{name}: the runtime image has /bin/sh"
        );
    }
}
