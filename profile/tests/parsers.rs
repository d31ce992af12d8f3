//! Parsers a platform or a user feeds cannot crash the harness (property tests): any answer a
//! platform sends, whatever its status, content type and bytes, decodes or is an error in one
//! line; any policy or application file loads or is an error in one line naming the file (and,
//! for a value of the wrong kind, the field).

use std::path::Path;

use duxue_profile::client::{RawAnswer, decode_answer};
use duxue_profile::*;
use proptest::prelude::*;

/// Decodes `answer` as operation `op` into every answer type of the profile; returns each
/// error's text.
fn decode_as_everything(op: &Operation, answer: &RawAnswer) -> Vec<String> {
    macro_rules! each {
        ($($t:ty),* $(,)?) => {
            vec![$(decode_answer::<$t>(op, answer.clone()).err().map(|e| e.to_string())),*]
        };
    }
    each![
        PlatformMeta,
        CourseList,
        Cohort,
        ClockReading,
        Organisation,
        Course,
        Class,
        Assessment,
        SupervisorCredentials,
        Learner,
        LivenessChallenge,
        LearnerSession,
        Enrolment,
        EnrolmentList,
        Progress,
        Playback,
        HeartbeatAck,
        EventOutcome,
        SupervisorSession,
        LearnerStatusList,
        LearnerRecord,
        Trajectory,
        CaptureList,
        LivenessList,
        SelfCheckReport,
        ClassList,
        CompletionExport,
        ErrorBody,
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn assert_one_line(op: &Operation, errors: &[String]) {
    for error in errors {
        assert!(!error.contains('\n') && !error.contains('\r'), "{error:?}");
        assert!(error.starts_with(op.id), "{error}");
    }
}

/// Every property name of the OpenAPI document's schemas: objects built from these reach the
/// decoders' deeper fields.
fn property_names() -> Vec<String> {
    let doc: serde_json::Value = serde_yaml_ng::from_str(OPENAPI_YAML).expect("openapi.yaml");
    let mut names = std::collections::BTreeSet::new();
    for schema in doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .values()
    {
        if let Some(properties) = schema["properties"].as_object() {
            names.extend(properties.keys().cloned());
        }
    }
    names.into_iter().collect()
}

/// JSON values whose object keys are the profile's own field names.
fn json_value(keys: Vec<String>) -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "[a-z_0-9 ]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("2024-02-29T12:00:00Z"),
            Just("studying"),
            Just("playing"),
            Just("popup"),
            Just("capture"),
            Just("online"),
            Just("seek_forbidden"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        let keys = keys.clone();
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::vec((prop::sample::select(keys), inner), 0..10)
                .prop_map(|pairs| { serde_json::Value::Object(pairs.into_iter().collect()) }),
        ]
    })
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("application/problem+json".to_owned())),
        Just(Some("text/html".to_owned())),
        Just(Some("image/jpeg".to_owned())),
        "[ -~]{0,30}".prop_map(Some),
    ]
}

fn raw(status: u16, content_type: Option<String>, body: Vec<u8>) -> RawAnswer {
    RawAnswer {
        status,
        content_type,
        retry_after: None,
        remote_addr: None,
        body,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_decode_or_fail_in_one_line(
        op in prop::sample::select(OPERATIONS.to_vec()),
        status in prop_oneof![Just(200u16), Just(201), Just(204), 100u16..600],
        content_type in content_type(),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let errors = decode_as_everything(&op, &raw(status, content_type, body));
        assert_one_line(&op, &errors);
    }

    #[test]
    fn json_shaped_answers_decode_or_fail_in_one_line(
        op in prop::sample::select(OPERATIONS.to_vec()),
        status in prop_oneof![Just(200u16), Just(201), 400u16..600],
        value in json_value(property_names()),
    ) {
        let body = serde_json::to_vec(&value).expect("encodes");
        let answer = raw(status, Some("application/json".into()), body);
        let errors = decode_as_everything(&op, &answer);
        assert_one_line(&op, &errors);
        // A refusal is recognised by its status and its code together.
        if let Err(e) = decode_answer::<serde_json::Value>(&op, answer)
            && e.is_refusal()
        {
            let status = e.status().expect("a refusal has a status");
            prop_assert!((400..500).contains(&status) && status != 408 && status != 429);
            prop_assert!(!matches!(e.code(), Some(ErrorCode::Other(_)) | Some(ErrorCode::Internal) | None));
        }
    }

    #[test]
    fn any_policy_text_loads_or_fails_in_one_line_naming_the_file(text in "\\PC{0,400}") {
        if let Err(e) = Policy::parse(Path::new("bad-policy.toml"), &text) {
            let message = e.to_string();
            prop_assert!(!message.contains('\n'), "{}", message);
            prop_assert!(message.starts_with("bad-policy.toml"), "{}", message);
        }
    }

    #[test]
    fn a_mutated_policy_loads_or_fails_in_one_line_naming_the_file(
        cut in 0usize..POLICY.len(),
        insert in "\\PC{0,8}",
        delete in 0usize..16,
    ) {
        let mut text = POLICY.to_owned();
        let cut = floor_char_boundary(&text, cut);
        let end = floor_char_boundary(&text, (cut + delete).min(text.len()));
        text.replace_range(cut..end, &insert);
        if let Err(e) = Policy::parse(Path::new("p.toml"), &text) {
            let message = e.to_string();
            prop_assert!(!message.contains('\n'), "{}", message);
            prop_assert!(message.starts_with("p.toml"), "{}", message);
        }
    }

    #[test]
    fn any_application_text_loads_or_fails_in_one_line_naming_the_file(
        cut in 0usize..APPLICATION.len(),
        insert in "\\PC{0,8}",
        delete in 0usize..16,
    ) {
        let mut text = APPLICATION.to_owned();
        let cut = floor_char_boundary(&text, cut);
        let end = floor_char_boundary(&text, (cut + delete).min(text.len()));
        text.replace_range(cut..end, &insert);
        if let Err(e) = ApplicationForm::parse(Path::new("form.toml"), &text) {
            let message = e.to_string();
            prop_assert!(!message.contains('\n'), "{}", message);
            prop_assert!(message.starts_with("form.toml"), "{}", message);
        }
    }
}

const POLICY: &str = include_str!("../policies/xuchang-2022.toml");
const APPLICATION: &str = include_str!("../applications/reference.toml");

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Each `key = value` line of `text` with its value replaced by a malformed one: the error
/// names the file, the line and that field.
fn malformed_value_names_the_field(
    file: &str,
    text: &str,
    parse: impl Fn(&str) -> Result<(), DataFileError>,
) {
    let mut table = String::new();
    let mut checked = 0;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            table = trimmed.trim_matches(|c| c == '[' || c == ']').to_owned();
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let balanced =
            |open: char, close: char| value.matches(open).count() == value.matches(close).count();
        // Only values complete on their line (a broken first line of a longer value would
        // point at a later line).
        if trimmed.starts_with('#')
            || key.is_empty()
            || key.contains(' ')
            || !balanced('[', ']')
            || !balanced('{', '}')
            || value.contains("\"\"\"")
        {
            continue;
        }
        let mut lines: Vec<&str> = text.lines().collect();
        let replaced = format!("{key} = 2022-13-45");
        lines[index] = &replaced;
        let Err(e) = parse(&lines.join("\n")) else {
            continue;
        };
        let message = e.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.starts_with(&format!("{file}:")), "{message}");
        assert_eq!(e.line(), Some(index + 1), "{message}");
        let field = e.field().unwrap_or("");
        assert!(
            field.ends_with(key),
            "`{key}` under [{table}] broken: the error names `{field}`: {message}"
        );
        checked += 1;
    }
    assert!(checked >= 5, "{file}: only {checked} fields checked");
}

#[test]
fn a_malformed_value_names_its_field() {
    malformed_value_names_the_field("p.toml", POLICY, |t| {
        Policy::parse(Path::new("p.toml"), t).map(drop)
    });
    malformed_value_names_the_field("form.toml", APPLICATION, |t| {
        ApplicationForm::parse(Path::new("form.toml"), t).map(drop)
    });
}
