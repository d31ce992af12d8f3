//! `junit.xml` read by an independent parser (Python's junitparser): one test case per
//! requirement, failures carrying the reason.

mod common;

use std::process::Command;

const READER: &str = r#"
import json, sys
try:
    from junitparser import JUnitXml, Failure, Error, Skipped
except ImportError:
    print("junitparser missing", file=sys.stderr)
    sys.exit(3)
xml = JUnitXml.fromfile(sys.argv[1])
suites = [xml] if xml._tag == "testsuite" else list(xml)
cases = [case for suite in suites for case in suite]
out = {"cases": len(cases), "names": [c.name for c in cases], "failures": {}, "errors": 0, "skipped": 0}
for c in cases:
    for r in c.result:
        if isinstance(r, Failure):
            out["failures"][c.name.split(" ")[0]] = r.message
        elif isinstance(r, Error):
            out["errors"] += 1
        elif isinstance(r, Skipped):
            out["skipped"] += 1
print(json.dumps(out))
"#;

#[test]
fn junitparser_reads_one_case_per_requirement() {
    let run = common::sealed_run();
    let output = Command::new("python3")
        .arg("-c")
        .arg(READER)
        .arg(run.path().join("junit.xml"))
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this test ({e})"));
    assert!(
        output.status.success(),
        "junitparser could not read junit.xml — `python3 -m pip install junitparser` (CI installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the reader prints JSON");
    assert_eq!(result["cases"], 35, "{result}");
    let failures = result["failures"].as_object().expect("failures");
    let mut failed: Vec<&str> = failures.keys().map(String::as_str).collect();
    failed.sort_unstable();
    assert_eq!(failed, common::FAILING.to_vec(), "{result}");
    let report = common::report(None);
    for id in common::FAILING {
        let reason = &report
            .requirements
            .iter()
            .find(|r| r.id == id)
            .expect("requirement")
            .reason;
        assert_eq!(failures[id], reason.as_str(), "failure message = reason");
    }
    assert_eq!(result["errors"], 1, "LD-2 is INCONCLUSIVE: {result}");
    assert_eq!(result["skipped"], 1, "SC-1 is SKIPPED: {result}");
    for id in common::catalog().ids() {
        assert!(
            result["names"]
                .as_array()
                .expect("names")
                .iter()
                .any(|n| n.as_str().is_some_and(|n| n.starts_with(&format!("{id} ")))),
            "{id} has no test case"
        );
    }
}
