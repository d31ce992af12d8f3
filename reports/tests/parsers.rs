//! The run-folder readers of `report render` and `report verify` cannot be crashed by what a
//! folder holds (property tests): any `report.json`, `manifest.json`, `manifest.sig`, journal
//! or latency log reads or is an error; a `report.json` with one value of the wrong kind is an
//! error in one line naming the file and the field.

mod common;

use duxue_reports::{read_report, render_run, verify_run};
use proptest::prelude::*;
use serde_json::Value;

fn folder_with(file: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
    dir
}

/// Every leaf of a JSON document with its path as serde_path_to_error writes it
/// (`run.target.url`, `requirements[3].verdict`), except inside free-form values.
fn leaves(value: &Value, path: String, out: &mut Vec<(String, Vec<String>)>, pointer: Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                // `figures` and `application` hold any JSON at all.
                if key == "figures" || key == "application" {
                    continue;
                }
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let mut ptr = pointer.clone();
                ptr.push(key.clone());
                leaves(v, p, out, ptr);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut ptr = pointer.clone();
                ptr.push(i.to_string());
                leaves(v, format!("{path}[{i}]"), out, ptr);
            }
        }
        _ => out.push((path, pointer)),
    }
}

fn valid_report() -> Value {
    serde_json::to_value(common::report(Some(common::population(40, 3)))).expect("report encodes")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_report_json_reads_or_fails_in_one_line(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let dir = folder_with("report.json", &bytes);
        if let Err(e) = read_report(dir.path()) {
            let message = e.to_string();
            prop_assert!(!message.contains('\n'), "{}", message);
            prop_assert!(message.contains("report.json"), "{}", message);
        }
        prop_assert!(render_run(dir.path()).is_err() || read_report(dir.path()).is_ok());
    }

    #[test]
    fn a_value_of_the_wrong_kind_names_its_field(
        pick in any::<prop::sample::Index>(),
        wrong in prop_oneof![
            Just(serde_json::json!({"x": [1]})),
            Just(serde_json::json!([[]])),
            Just(serde_json::json!(-1.5)),
            Just(serde_json::json!("not what it should be")),
        ],
    ) {
        let mut report = valid_report();
        let mut all = Vec::new();
        leaves(&report, String::new(), &mut all, Vec::new());
        let (path, pointer) = pick.get(&all).clone();
        let at = format!("/{}", pointer.join("/"));
        *report.pointer_mut(&at).expect("the leaf") = wrong;
        let dir = folder_with("report.json", &serde_json::to_vec(&report).expect("json"));
        if let Err(e) = read_report(dir.path()) {
            let message = e.to_string();
            prop_assert!(!message.contains('\n'), "{}", message);
            prop_assert!(message.contains("report.json"), "{}", message);
            // The field itself, or (a string where any string will do, such as a schema name
            // that is then checked) the check that refused it.
            prop_assert!(
                message.contains(&format!("field `{path}`")) || message.contains("schema"),
                "{} does not name `{}`", message, path
            );
        }
    }

    #[test]
    fn any_manifest_or_signature_verifies_or_fails_without_a_panic(
        manifest in prop::collection::vec(any::<u8>(), 0..512),
        signature in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let dir = folder_with("manifest.json", &manifest);
        std::fs::write(dir.path().join("manifest.sig"), &signature).expect("write");
        if let Ok(outcome) = verify_run(dir.path(), None) {
            prop_assert!(!outcome.is_intact());
            for problem in &outcome.problems {
                prop_assert!(!problem.to_string().contains('\n'));
            }
        }
    }

    #[test]
    fn any_journal_counts_or_fails_in_one_line(
        lines in prop::collection::vec(prop_oneof![
            Just("{\"probe\":\"PB-1\",\"seq\":3}".to_owned()),
            "\\PC{0,40}",
        ], 0..12),
        torn in "\\PC{0,20}",
    ) {
        let mut text = lines.join("\n");
        text.push('\n');
        text.push_str(&torn);
        let dir = folder_with("evidence/journal.jsonl", text.as_bytes());
        let path = dir.path().join("evidence/journal.jsonl");
        match duxue_reports::evidence::count_journal(&path, true) {
            Ok(count) => {
                prop_assert!(count.torn_lines <= 1);
                let after = std::fs::read(&path).expect("read");
                prop_assert!(after.is_empty() || after.ends_with(b"\n"));
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(!message.contains('\n'), "{}", message);
                prop_assert!(message.contains("journal.jsonl:"), "{}", message);
            }
        }
    }

    #[test]
    fn any_latency_log_reads_or_fails(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = duxue_reports::hlog::read(&bytes);
    }

    #[test]
    fn a_latency_log_with_a_mangled_line_reads_or_fails(
        cut in any::<prop::sample::Index>(),
        insert in "\\PC{0,12}",
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("latency.hlog");
        common::write_hlog(&path, 2, 30);
        let mut text = std::fs::read_to_string(&path).expect("read");
        let mut at = cut.index(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, &insert);
        let _ = duxue_reports::hlog::read(text.as_bytes());
    }
}

#[test]
fn a_valid_report_reads() {
    let dir = folder_with(
        "report.json",
        &serde_json::to_vec(&valid_report()).expect("json"),
    );
    read_report(dir.path()).expect("the valid report reads");
}
