//! The catalog, the shipped policy and the application form load; corrupted variants fail with
//! one line naming the file, the line and the field.

use std::path::Path;

use duxue_profile::{ApplicationForm, Catalog, DataFileError, Policy};

/// PRODUCT.md §5, in order.
const PRODUCT_IDS: [&str; 35] = [
    "ID-1", "ID-2", "ID-3", "ID-4", "ID-5", "PB-1", "PB-2", "PB-3", "PB-4", "PB-5", "PB-6", "BC-1",
    "BC-2", "BC-3", "EN-1", "EN-2", "EN-3", "EN-4", "CD-1", "CD-2", "SV-1", "SV-2", "SV-3", "SV-4",
    "SV-5", "SV-6", "SV-7", "SV-8", "RT-1", "LD-1", "LD-2", "SC-1", "SC-2", "SC-3", "SC-4",
];

const POLICY: &str = include_str!("../policies/xuchang-2022.toml");
const NOTICE: &str = include_str!("../notice/xuchang-2022.md");

#[test]
fn catalog_holds_exactly_the_35_requirements_of_the_design() {
    let catalog = Catalog::builtin().expect("the shipped catalog loads");
    let ids: Vec<&str> = catalog.ids().collect();
    assert_eq!(ids, PRODUCT_IDS);
    assert!(catalog.requirements.iter().all(|r| r.mandatory));
    assert_eq!(catalog.sha256.len(), 64);
}

#[test]
fn catalog_quotes_are_the_notices_words() {
    let catalog = Catalog::builtin().expect("the shipped catalog loads");
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let notice = squash(NOTICE);
    for req in &catalog.requirements {
        for part in req.quote_zh.split("……").filter(|p| !p.is_empty()) {
            assert!(
                notice.contains(&squash(part)),
                "{}: quote `{part}` is not in the notice",
                req.id
            );
        }
    }
}

#[test]
fn corrupted_catalogs_name_the_requirement() {
    let shipped = duxue_profile::catalog::BUILTIN_CATALOG;
    let duplicated = shipped.replacen("id = \"ID-2\"", "id = \"ID-1\"", 1);
    let err = Catalog::parse(Path::new("c.toml"), &duplicated).expect_err("duplicate id");
    assert!(err.to_string().contains("`ID-1` appears twice"), "{err}");
    assert_eq!(err.field(), Some("requirement[1].id"));

    let no_text = shipped.replacen("text_en = \"The registration face", "text_xx = \"", 1);
    let err = Catalog::parse(Path::new("c.toml"), &no_text).expect_err("unknown field");
    assert!(err.to_string().starts_with("c.toml:"), "{err}");
}

#[test]
fn shipped_policy_has_the_notices_numbers() {
    let policy = Policy::builtin("xuchang-2022")
        .expect("built in")
        .expect("the shipped policy loads");
    assert_eq!(policy.rules.popup_max_gap_seconds.value, 300);
    assert_eq!(policy.rules.captures_per_class_hour_min.value, 1);
    assert_eq!(policy.rules.retention_years.value, 3);
    assert_eq!(policy.rules.cooldown_months.value, 1);
    assert_eq!(policy.rules.class_hour_minutes.value, 45);
    assert!((policy.rules.blended_online_share_max.value - 0.40).abs() < 1e-9);
    assert!((policy.rules.general_share_min.value - 0.20).abs() < 1e-9);
    assert!((policy.rules.general_share_max.value - 0.35).abs() < 1e-9);
    assert_eq!(policy.pure_online.occupations.len(), 30);
    assert_eq!(policy.annex1.len(), 38);
    assert!(policy.allows_pure_online("收银员"));
    assert!(!policy.allows_pure_online("电工"));
    let no7 = policy.annex1_entry(7).expect("Annex 1 No. 7");
    assert!(no7.occupations.iter().any(|o| o == "电子商务师"));
    for view in policy.rule_views() {
        assert!(
            view.source == "harness-default" || view.source.starts_with('§'),
            "{}.{} has source {}",
            view.table,
            view.key,
            view.source
        );
    }
}

#[test]
fn no_phone_number_is_shipped() {
    let digits: Vec<&str> = POLICY
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 10)
        .collect();
    assert!(
        digits.is_empty(),
        "long digit runs in the policy: {digits:?}"
    );
}

fn corrupt(from: &str, to: &str) -> DataFileError {
    assert!(
        POLICY.contains(from),
        "fixture text `{from}` not in the policy"
    );
    let text = POLICY.replacen(from, to, 1);
    Policy::parse(Path::new("policies/bad.toml"), &text).expect_err("a corrupted policy fails")
}

fn line_of(needle: &str) -> usize {
    POLICY
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .expect("needle in policy")
}

#[test]
fn policy_syntax_error_names_file_and_line() {
    let err = corrupt(
        "popup_max_gap_seconds = { value = 300,",
        "popup_max_gap_seconds = { value = 300 source",
    );
    let text = err.to_string();
    assert!(text.starts_with("policies/bad.toml:"), "{text}");
    assert_eq!(err.line(), Some(line_of("popup_max_gap_seconds")));
    assert_eq!(err.field(), Some("rules.popup_max_gap_seconds"));
    assert!(!text.contains('\n'), "one line: {text}");
}

#[test]
fn policy_missing_source_names_the_field() {
    let err = corrupt(
        "popup_max_gap_seconds = { value = 300, source = \"§三\", ",
        "popup_max_gap_seconds = { value = 300, ",
    );
    assert_eq!(err.line(), Some(line_of("popup_max_gap_seconds")));
    assert_eq!(err.field(), Some("rules.popup_max_gap_seconds.source"));
    assert!(err.to_string().contains("missing field `source`"), "{err}");
}

#[test]
fn policy_wrong_type_names_the_field() {
    let err = corrupt(
        "retention_years = { value = 3,",
        "retention_years = { value = \"three\",",
    );
    assert_eq!(err.line(), Some(line_of("retention_years")));
    assert_eq!(err.field(), Some("rules.retention_years"));
}

#[test]
fn policy_missing_rule_names_the_table_and_rule() {
    let start = POLICY.find("cooldown_months =").expect("rule present");
    let end = start + POLICY[start..].find('\n').expect("line end");
    let text = format!("{}{}", &POLICY[..start], &POLICY[end + 1..]);
    let err = Policy::parse(Path::new("p.toml"), &text).expect_err("missing rule");
    assert_eq!(err.field(), Some("rules.cooldown_months"));
    assert_eq!(err.line(), Some(line_of("[rules]")));
}

#[test]
fn policy_harness_default_needs_a_reason() {
    let err = corrupt(
        "popup_answer_window_seconds = { value = 60, source = \"harness-default\", reason = \"the notice sets no answer window; one minute lets a person notice and answer a popup\" }",
        "popup_answer_window_seconds = { value = 60, source = \"harness-default\" }",
    );
    assert_eq!(err.field(), Some("rules.popup_answer_window_seconds"));
    assert_eq!(err.line(), Some(line_of("popup_answer_window_seconds")));
    assert!(err.to_string().contains("must say why"), "{err}");
}

#[test]
fn policy_inconsistent_values_are_refused() {
    let err = corrupt(
        "general_share_min = { value = 0.20,",
        "general_share_min = { value = 0.50,",
    );
    assert_eq!(err.field(), Some("rules.general_share_min"));
    assert!(err.to_string().contains("above general_share_max"), "{err}");

    let err = corrupt("barred_years = { value = 3,", "barred_years = { value = 0,");
    assert_eq!(err.field(), Some("rules.barred_years"));

    let err = corrupt(
        "error_rate_max = { value = 0.001,",
        "error_rate_max = { value = 5,",
    );
    assert!(err.to_string().contains("between 0 and 1"), "{err}");
}

#[test]
fn policy_unknown_field_is_refused() {
    let err = corrupt("[budgets]\n", "[budgets]\nheartbeat_p50_ms = 3\n");
    assert_eq!(err.field(), Some("budgets.heartbeat_p50_ms"));
    assert_eq!(err.line(), Some(line_of("[budgets]") + 1));
}

#[test]
fn unknown_policy_name_lists_builtins() {
    let err = Policy::resolve("atlantis-2030").expect_err("no such policy");
    assert!(err.to_string().contains("xuchang-2022"), "{err}");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.toml");
    std::fs::write(&path, POLICY).expect("write");
    let policy = Policy::resolve(path.to_str().expect("utf-8 path")).expect("loads from a file");
    assert_eq!(policy.id, "xuchang-2022");
}

#[test]
fn reference_application_form_loads_and_is_checked() {
    let form = ApplicationForm::reference().expect("reference form loads");
    assert_eq!(form.platform.annex1_entry, 7);
    assert_eq!(form.total_headcount(), 450);

    let text = duxue_profile::application::REFERENCE_APPLICATION;
    let start = text.find("[institution]").expect("institution table");
    let end = start + text[start..].find("\n\n").expect("table end");
    let without = format!("{}{}", &text[..start], &text[end + 2..]);
    let err = ApplicationForm::parse(Path::new("a.toml"), &without).expect_err("blended needs one");
    assert!(err.to_string().contains("培训机构名称"), "{err}");

    let zero = text.replacen("headcount = 200", "headcount = 0", 1);
    let err = ApplicationForm::parse(Path::new("a.toml"), &zero).expect_err("headcount 0");
    assert_eq!(err.field(), Some("training.headcount"));
}
