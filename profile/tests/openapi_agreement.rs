//! The Rust side of profile v1 (`types.rs`, `operations.rs`) and `openapi.yaml` say the same.
//!
//! The Rust types are the source of truth for the shape of every body. Every schema of the
//! document is checked against representative values of its Rust type, and differentially:
//! every value derived from a valid sample by removing a field, adding an unknown field or
//! changing a value's type or spelling must be accepted by the schema's shape (the schema
//! without its value rules) exactly when serde accepts it. The value rules (lengths, ranges,
//! patterns, item counts, fields that go together) are those the reference platform enforces
//! on a body before anything else; they are checked here on representative values and against
//! the platform itself by Schemathesis (`.ci/schemathesis.sh`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use chrono::{DateTime, Duration, TimeZone, Utc};
use duxue_profile::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const SCHEMA_PREFIX: &str = "#/components/schemas/";
const ERROR_RESPONSE: &str = "#/components/responses/Error";
const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

fn document() -> Value {
    serde_yaml_ng::from_str(OPENAPI_YAML).expect("openapi.yaml is valid YAML")
}

fn schemas(doc: &Value) -> &serde_json::Map<String, Value> {
    doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas is a map")
}

fn schema_names(doc: &Value) -> BTreeSet<String> {
    schemas(doc).keys().cloned().collect()
}

/// Follows a local `$ref` (`#/json/pointer`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// The value itself, or what its `$ref` points at.
fn deref<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            resolve(doc, reference).unwrap_or_else(|| panic!("unresolvable $ref {reference}"))
        }
        None => value,
    }
}

/// One JSON Schema validator per component schema, all resolving `#/components/schemas/...`
/// against the document's own components.
struct Validators {
    components: Value,
    compiled: HashMap<String, jsonschema::Validator>,
}

impl Validators {
    fn new(doc: &Value) -> Self {
        Validators {
            components: json!({ "schemas": doc["components"]["schemas"].clone() }),
            compiled: HashMap::new(),
        }
    }

    /// Validators of the schemas' shape only: every value rule removed (see [`shape_only`]).
    fn shape(doc: &Value) -> Self {
        let mut schemas = doc["components"]["schemas"].clone();
        shape_only(&mut schemas);
        Validators {
            components: json!({ "schemas": schemas }),
            compiled: HashMap::new(),
        }
    }

    fn get(&mut self, name: &str) -> &jsonschema::Validator {
        if !self.compiled.contains_key(name) {
            assert!(
                self.components["schemas"].get(name).is_some(),
                "openapi.yaml has no schema `{name}`"
            );
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://duxue.invalid/profile/v1/openapi.json",
                "components": self.components,
                "$ref": format!("{SCHEMA_PREFIX}{name}"),
            });
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema `{name}` does not compile: {e}"));
            self.compiled.insert(name.to_owned(), validator);
        }
        &self.compiled[name]
    }

    fn errors(&mut self, name: &str, value: &Value) -> Vec<String> {
        self.get(name)
            .iter_errors(value)
            .map(|e| format!("at `{}`: {e}", e.instance_path()))
            .collect()
    }

    fn is_valid(&mut self, name: &str, value: &Value) -> bool {
        self.get(name).is_valid(value)
    }
}

/// Keywords that constrain a value's contents rather than its type.
const VALUE_KEYWORDS: &[&str] = &[
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "if",
    "then",
    "else",
];

/// The bounds of the Rust integer types the schemas mirror (`u32`, `u64`): shape, not value.
fn is_integer_type_bound(keyword: &str, value: &Value) -> bool {
    match keyword {
        "minimum" => value == &json!(0),
        "maximum" => value == &json!(u32::MAX) || value == &json!(u64::MAX),
        _ => false,
    }
}

/// Removes every value rule from a schema tree: the keywords of [`VALUE_KEYWORDS`], and
/// `minimum`/`maximum` except on integers, where a narrower range gives way to the range of
/// the Rust type (every integer of profile v1 is a `u32` or `u64`).
fn shape_only(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let is_integer = map.get("type") == Some(&json!("integer"));
            map.retain(|key, _| !VALUE_KEYWORDS.contains(&key.as_str()));
            for key in ["minimum", "maximum"] {
                let Some(value) = map.get(key).cloned() else {
                    continue;
                };
                if !is_integer {
                    map.remove(key);
                } else if !is_integer_type_bound(key, &value) {
                    let widened = if key == "minimum" {
                        json!(0)
                    } else {
                        json!(u32::MAX)
                    };
                    map.insert(key.to_owned(), widened);
                }
            }
            for (key, child) in map.iter_mut() {
                // Property names and enum values are data, not schemas.
                if key != "enum" {
                    shape_only(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(shape_only),
        _ => {}
    }
}

/// Every value rule of the document's schemas: (schema, property path, keyword, value).
fn value_rules(doc: &Value) -> BTreeSet<(String, String, String, String)> {
    fn walk(
        schema: &str,
        at: &str,
        node: &Value,
        out: &mut BTreeSet<(String, String, String, String)>,
    ) {
        let Some(map) = node.as_object() else {
            return;
        };
        let is_integer = map.get("type") == Some(&json!("integer"));
        for (key, value) in map {
            let rule = VALUE_KEYWORDS.contains(&key.as_str())
                || (key == "minimum" || key == "maximum")
                    && !(is_integer && is_integer_type_bound(key, value));
            if rule {
                let shown = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                out.insert((schema.into(), at.into(), key.clone(), shown));
            }
        }
        if let Some(properties) = map.get("properties").and_then(Value::as_object) {
            for (name, child) in properties {
                walk(schema, &format!("{at}/{name}"), child, out);
            }
        }
        if let Some(items) = map.get("items") {
            walk(schema, &format!("{at}/[]"), items, out);
        }
    }
    let mut out = BTreeSet::new();
    for (name, schema) in schemas(doc) {
        walk(name, "", schema, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Samples: Rust values of every schema, and what serde thinks of a JSON value
// ---------------------------------------------------------------------------------------------

/// A serialized Rust value with the schema it belongs to and serde's own verdict on variations.
struct Sample {
    schema: &'static str,
    value: Value,
    /// Whether every `Option` is `Some` (so the value shows every field of the type).
    full: bool,
    /// Whether serde accepts a JSON value as this sample's Rust type.
    rust_accepts: fn(&Value) -> bool,
}

fn rust_accepts<T: DeserializeOwned>(value: &Value) -> bool {
    serde_json::from_value::<T>(value.clone()).is_ok()
}

fn sample_of<T>(schema: &'static str, value: &T, full: bool) -> Sample
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_value(value).expect("serializes");
    let back: T = serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("{schema}: serde does not read back its own output: {e}"));
    assert_eq!(&back, value, "{schema}: round trip changed the value");
    Sample {
        schema,
        value: json,
        full,
        rust_accepts: rust_accepts::<T>,
    }
}

/// A value whose `Option`s are all `Some` (or that has none).
fn full<T>(schema: &'static str, value: &T) -> Sample
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    sample_of(schema, value, true)
}

/// A value with its `Option`s `None`.
fn minimal<T>(schema: &'static str, value: &T) -> Sample
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    sample_of(schema, value, false)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 1, 8, 30, 0).unwrap()
}

fn t(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

/// With a fractional second, to exercise `date-time` with fractions.
fn t_frac() -> DateTime<Utc> {
    t0() + Duration::milliseconds(1_250)
}

const JPEG_B64: &str =
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwg";

// Every variant of every enum. The exhaustive `match` breaks the build when a variant is added,
// so these lists cannot silently fall behind the types.

fn deliveries() -> Vec<Delivery> {
    let all = vec![Delivery::PureOnline, Delivery::Blended];
    for v in &all {
        match v {
            Delivery::PureOnline | Delivery::Blended => {}
        }
    }
    all
}

fn lesson_categories() -> Vec<LessonCategory> {
    let all = vec![LessonCategory::General, LessonCategory::Professional];
    for v in &all {
        match v {
            LessonCategory::General | LessonCategory::Professional => {}
        }
    }
    all
}

fn lesson_modes() -> Vec<LessonMode> {
    let all = vec![LessonMode::Online, LessonMode::Offline];
    for v in &all {
        match v {
            LessonMode::Online | LessonMode::Offline => {}
        }
    }
    all
}

fn organisation_kinds() -> Vec<OrganisationKind> {
    let all = vec![
        OrganisationKind::Enterprise,
        OrganisationKind::LabourDispatch,
        OrganisationKind::Institution,
    ];
    for v in &all {
        match v {
            OrganisationKind::Enterprise
            | OrganisationKind::LabourDispatch
            | OrganisationKind::Institution => {}
        }
    }
    all
}

fn assessment_results() -> Vec<AssessmentResult> {
    let all = vec![AssessmentResult::Passed, AssessmentResult::Failed];
    for v in &all {
        match v {
            AssessmentResult::Passed | AssessmentResult::Failed => {}
        }
    }
    all
}

fn supervisor_kinds() -> Vec<SupervisorKind> {
    let all = vec![
        SupervisorKind::Authority,
        SupervisorKind::Audit,
        SupervisorKind::Enterprise,
        SupervisorKind::Institution,
    ];
    for v in &all {
        match v {
            SupervisorKind::Authority
            | SupervisorKind::Audit
            | SupervisorKind::Enterprise
            | SupervisorKind::Institution => {}
        }
    }
    all
}

fn liveness_actions() -> Vec<LivenessAction> {
    let all = vec![
        LivenessAction::Blink,
        LivenessAction::TurnLeft,
        LivenessAction::TurnRight,
        LivenessAction::OpenMouth,
        LivenessAction::Nod,
    ];
    for v in &all {
        match v {
            LivenessAction::Blink
            | LivenessAction::TurnLeft
            | LivenessAction::TurnRight
            | LivenessAction::OpenMouth
            | LivenessAction::Nod => {}
        }
    }
    all
}

fn playback_states() -> Vec<PlaybackState> {
    let all = vec![
        PlaybackState::Playing,
        PlaybackState::Paused,
        PlaybackState::Stopped,
    ];
    for v in &all {
        match v {
            PlaybackState::Playing | PlaybackState::Paused | PlaybackState::Stopped => {}
        }
    }
    all
}

fn event_kinds() -> Vec<EventKind> {
    let all = vec![EventKind::Popup, EventKind::Capture];
    for v in &all {
        match v {
            EventKind::Popup | EventKind::Capture => {}
        }
    }
    all
}

fn capture_states() -> Vec<CaptureState> {
    let all = vec![
        CaptureState::NotDue,
        CaptureState::Pending,
        CaptureState::Passed,
        CaptureState::Failed,
        CaptureState::Missed,
    ];
    for v in &all {
        match v {
            CaptureState::NotDue
            | CaptureState::Pending
            | CaptureState::Passed
            | CaptureState::Failed
            | CaptureState::Missed => {}
        }
    }
    all
}

fn live_statuses() -> Vec<LiveStatus> {
    let all = vec![
        LiveStatus::Studying,
        LiveStatus::Online,
        LiveStatus::Offline,
    ];
    for v in &all {
        match v {
            LiveStatus::Studying | LiveStatus::Online | LiveStatus::Offline => {}
        }
    }
    all
}

/// Every variant of an enum as a sample, plus the wire strings in declaration order.
fn enum_samples<T>(schema: &'static str, all: Vec<T>, out: &mut Vec<Sample>) -> Vec<String>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let mut wire = Vec::new();
    for variant in &all {
        let sample = full(schema, variant);
        wire.push(
            sample
                .value
                .as_str()
                .unwrap_or_else(|| panic!("{schema} serializes as a string"))
                .to_owned(),
        );
        out.push(sample);
    }
    wire
}

/// The wire strings of every enum schema, as the Rust types spell them.
fn enum_wire_values(out: &mut Vec<Sample>) -> BTreeMap<&'static str, Vec<String>> {
    let mut enums = BTreeMap::new();
    enums.insert("Delivery", enum_samples("Delivery", deliveries(), out));
    enums.insert(
        "LessonCategory",
        enum_samples("LessonCategory", lesson_categories(), out),
    );
    enums.insert(
        "LessonMode",
        enum_samples("LessonMode", lesson_modes(), out),
    );
    enums.insert(
        "OrganisationKind",
        enum_samples("OrganisationKind", organisation_kinds(), out),
    );
    enums.insert(
        "AssessmentResult",
        enum_samples("AssessmentResult", assessment_results(), out),
    );
    enums.insert(
        "SupervisorKind",
        enum_samples("SupervisorKind", supervisor_kinds(), out),
    );
    enums.insert(
        "LivenessAction",
        enum_samples("LivenessAction", liveness_actions(), out),
    );
    enums.insert(
        "PlaybackState",
        enum_samples("PlaybackState", playback_states(), out),
    );
    enums.insert("EventKind", enum_samples("EventKind", event_kinds(), out));
    enums.insert(
        "CaptureState",
        enum_samples("CaptureState", capture_states(), out),
    );
    enums.insert(
        "LiveStatus",
        enum_samples("LiveStatus", live_statuses(), out),
    );
    let codes: Vec<ErrorCode> = ErrorCode::ALL.to_vec();
    enums.insert("ErrorCode", enum_samples("ErrorCode", codes, out));
    enums
}

fn lesson(ordinal: u32, category: LessonCategory, mode: LessonMode) -> Lesson {
    Lesson {
        lesson_id: format!("lesson-{ordinal}"),
        ordinal,
        title: format!("第{ordinal}课 安全用电"),
        minutes: 45,
        category,
        mode,
    }
}

fn course() -> Course {
    Course {
        course_id: "course-1".into(),
        title: "电工（五级）".into(),
        occupation: "电工".into(),
        level: "五级".into(),
        delivery: Delivery::PureOnline,
        subsidised: true,
        lessons: vec![
            lesson(1, LessonCategory::General, LessonMode::Online),
            lesson(2, LessonCategory::Professional, LessonMode::Online),
            lesson(3, LessonCategory::Professional, LessonMode::Offline),
        ],
    }
}

fn clock_reading() -> ClockReading {
    ClockReading {
        cohort_id: "cohort-1".into(),
        virtual_now: t_frac(),
        scale: 60.0,
    }
}

fn learner() -> Learner {
    Learner {
        learner_id: "learner-1".into(),
        name: "张三".into(),
        id_number_masked: "411002********1234".into(),
        organisation_id: "org-1".into(),
        cohort_id: "cohort-1".into(),
        registered_at: t(60),
    }
}

fn enrolment() -> Enrolment {
    Enrolment {
        enrolment_id: "enrolment-1".into(),
        learner_id: "learner-1".into(),
        class_id: "class-1".into(),
        course_id: "course-1".into(),
        enrolled_at: t(120),
    }
}

fn class() -> Class {
    Class {
        class_id: "class-1".into(),
        cohort_id: "cohort-1".into(),
        course_id: "course-1".into(),
        organiser_id: "org-1".into(),
        name: "2022年第一期电工班".into(),
    }
}

fn class_hour(index: u32, capture: CaptureState) -> ClassHourProgress {
    ClassHourProgress {
        index,
        start_seconds: f64::from(index) * 2700.0,
        end_seconds: f64::from(index + 1) * 2700.0,
        credited_seconds: 1234.5,
        capture,
        withheld: capture == CaptureState::Failed || capture == CaptureState::Missed,
    }
}

fn lesson_progress() -> LessonProgress {
    LessonProgress {
        lesson_id: "lesson-2".into(),
        credited_seconds: 2700.0,
        furthest_position: 2712.25,
        completed: false,
        locked: false,
        class_hours: vec![
            class_hour(0, CaptureState::Passed),
            class_hour(1, CaptureState::Pending),
        ],
    }
}

fn pending_event(prompt: Option<String>) -> PendingEvent {
    PendingEvent {
        event_id: "event-1".into(),
        kind: if prompt.is_some() {
            EventKind::Popup
        } else {
            EventKind::Capture
        },
        issued_at: t(300),
        deadline: t(360),
        prompt,
    }
}

fn learner_status(full: bool) -> LearnerStatus {
    LearnerStatus {
        learner_id: "learner-1".into(),
        name: "张三".into(),
        organisation_id: "org-1".into(),
        status: if full {
            LiveStatus::Studying
        } else {
            LiveStatus::Offline
        },
        lesson_id: full.then(|| "lesson-2".into()),
        position_seconds: full.then_some(612.5),
        last_seen_at: full.then(|| t(612)),
    }
}

fn trajectory_event(full: bool) -> TrajectoryEvent {
    TrajectoryEvent {
        at: t(30),
        kind: if full { "seek_refused" } else { "login" }.into(),
        lesson_id: full.then(|| "lesson-2".into()),
        position_seconds: full.then_some(1800.0),
        detail: full.then(|| "position 1800 past 600".into()),
    }
}

fn capture_record(full: bool) -> CaptureRecord {
    CaptureRecord {
        event_id: "event-2".into(),
        lesson_id: "lesson-2".into(),
        class_hour: 1,
        requested_at: t(3000),
        state: if full {
            CaptureState::Passed
        } else {
            CaptureState::Missed
        },
        answered_at: full.then(|| t(3020)),
        score: full.then_some(0.93),
        image_id: full.then(|| "image-7".into()),
    }
}

fn liveness_record(accepted: bool) -> LivenessRecord {
    LivenessRecord {
        challenge_id: "challenge-1".into(),
        at: t(10),
        accepted,
        reason: if accepted { "ok" } else { "replayed frames" }.into(),
        frame_image_ids: if accepted {
            vec!["image-1".into(), "image-2".into()]
        } else {
            Vec::new()
        },
    }
}

fn brushing_flag() -> BrushingFlag {
    BrushingFlag {
        learner_id: "learner-9".into(),
        signals: vec![
            BrushingSignal {
                kind: "round_the_clock".into(),
                detail: "studied 23 h of 24".into(),
            },
            BrushingSignal {
                kind: "uniform_popup_latency".into(),
                detail: "every popup answered in 1.0 s".into(),
            },
        ],
    }
}

fn payee() -> SubsidyPayee {
    SubsidyPayee {
        organisation_id: "org-1".into(),
        name: "许昌某电力有限公司".into(),
        kind: OrganisationKind::Enterprise,
    }
}

fn completion_line(assessment: Option<AssessmentResult>) -> CompletionLine {
    CompletionLine {
        learner_id: "learner-1".into(),
        name: "张三".into(),
        id_number_masked: "411002********1234".into(),
        credited_seconds: 16_200.0,
        class_hours: 6,
        completed: assessment.is_some(),
        assessment,
    }
}

/// Representative values of every Rust type with a schema: fully populated and, where the type
/// has `Option`s, minimal.
fn samples() -> (Vec<Sample>, BTreeMap<&'static str, Vec<String>>) {
    let mut s = Vec::new();
    let enums = enum_wire_values(&mut s);

    // errors
    for code in ErrorCode::ALL {
        s.push(full(
            "ErrorBody",
            &ErrorBody {
                code: code.clone(),
                message: code.meaning().into(),
            },
        ));
    }

    // metadata and catalog
    s.push(full(
        "PlatformMeta",
        &PlatformMeta {
            profile_version: PROFILE_VERSION.into(),
            platform_name: "许昌职业技能在线培训平台".into(),
            platform_url: "https://training.example.com".into(),
            operator: "许昌某教育科技有限公司".into(),
            approved_occupations: vec!["电工".into(), "收银员".into()],
            conformance_enabled: true,
            server_time: t_frac(),
        },
    ));
    s.push(full(
        "PlatformMeta",
        &PlatformMeta {
            profile_version: PROFILE_VERSION.into(),
            platform_name: String::new(),
            platform_url: String::new(),
            operator: String::new(),
            approved_occupations: Vec::new(),
            conformance_enabled: false,
            server_time: t0(),
        },
    ));
    for category in lesson_categories() {
        for mode in lesson_modes() {
            s.push(full("Lesson", &lesson(u32::MAX, category, mode)));
        }
    }
    s.push(full("Course", &course()));
    s.push(full(
        "Course",
        &Course {
            delivery: Delivery::Blended,
            subsidised: false,
            lessons: Vec::new(),
            ..course()
        },
    ));
    s.push(full(
        "CourseList",
        &CourseList {
            courses: vec![course()],
        },
    ));
    s.push(full(
        "CourseList",
        &CourseList {
            courses: Vec::new(),
        },
    ));

    // conformance control
    s.push(full(
        "CohortRequest",
        &CohortRequest {
            label: "ci run 42".into(),
            clock_scale: 60.0,
            start_at: Some(t0()),
        },
    ));
    s.push(minimal(
        "CohortRequest",
        &CohortRequest {
            label: "spot check".into(),
            clock_scale: 1.0,
            start_at: None,
        },
    ));
    s.push(full("ClockReading", &clock_reading()));
    s.push(full(
        "Cohort",
        &Cohort {
            cohort_id: "cohort-1".into(),
            label: "ci run 42".into(),
            clock: clock_reading(),
        },
    ));
    s.push(full(
        "ClockAdvance",
        &ClockAdvance {
            seconds: 31.0 * 86_400.0,
        },
    ));
    s.push(full("ClockAdvance", &ClockAdvance { seconds: 0.5 }));
    for kind in organisation_kinds() {
        s.push(full(
            "OrganisationRequest",
            &OrganisationRequest {
                cohort_id: "cohort-1".into(),
                name: "许昌某电力有限公司".into(),
                kind,
            },
        ));
        s.push(full(
            "Organisation",
            &Organisation {
                organisation_id: "org-1".into(),
                cohort_id: "cohort-1".into(),
                name: "许昌某电力有限公司".into(),
                kind,
            },
        ));
    }
    let lesson_spec = LessonSpec {
        title: "职业道德".into(),
        minutes: 90,
        category: LessonCategory::General,
        mode: LessonMode::Online,
    };
    s.push(full("LessonSpec", &lesson_spec));
    s.push(full(
        "CourseProposal",
        &CourseProposal {
            title: "电工（五级）".into(),
            occupation: "电工".into(),
            level: "五级".into(),
            delivery: Delivery::PureOnline,
            subsidised: true,
            lessons: vec![
                lesson_spec.clone(),
                LessonSpec {
                    category: LessonCategory::Professional,
                    mode: LessonMode::Offline,
                    ..lesson_spec.clone()
                },
            ],
        },
    ));
    s.push(full(
        "ClassRequest",
        &ClassRequest {
            course_id: "course-1".into(),
            organiser_id: "org-1".into(),
            name: "2022年第一期电工班".into(),
        },
    ));
    s.push(full("Class", &class()));
    for result in assessment_results() {
        s.push(full(
            "AssessmentRequest",
            &AssessmentRequest {
                enrolment_id: "enrolment-1".into(),
                result,
            },
        ));
        s.push(full(
            "Assessment",
            &Assessment {
                assessment_id: "assessment-1".into(),
                enrolment_id: "enrolment-1".into(),
                result,
                assessed_at: t(86_400),
            },
        ));
    }
    s.push(full(
        "SupervisorRequest",
        &SupervisorRequest {
            cohort_id: "cohort-1".into(),
            kind: SupervisorKind::Enterprise,
            organisation_id: Some("org-1".into()),
        },
    ));
    s.push(minimal(
        "SupervisorRequest",
        &SupervisorRequest {
            cohort_id: "cohort-1".into(),
            kind: SupervisorKind::Authority,
            organisation_id: None,
        },
    ));
    for kind in supervisor_kinds() {
        s.push(full(
            "SupervisorCredentials",
            &SupervisorCredentials {
                supervisor_id: "supervisor-1".into(),
                kind,
                username: "audit-1".into(),
                password: "s3cret!".into(),
            },
        ));
    }

    // learners
    s.push(full(
        "RegistrationRequest",
        &RegistrationRequest {
            name: "张三".into(),
            id_number: "11010519491231002X".into(),
            phone: "13800138000".into(),
            password: "correct horse".into(),
            organisation_id: "org-1".into(),
            id_card_image: JPEG_B64.into(),
            face_image: JPEG_B64.into(),
        },
    ));
    s.push(full("Learner", &learner()));
    s.push(full(
        "ChallengeRequest",
        &ChallengeRequest {
            id_number: "11010519491231002X".into(),
        },
    ));
    s.push(full(
        "LivenessChallenge",
        &LivenessChallenge {
            challenge_id: "challenge-1".into(),
            nonce: "9f86d081884c7d65".into(),
            actions: liveness_actions(),
            expires_at: t(90),
        },
    ));
    s.push(full(
        "LoginRequest",
        &LoginRequest {
            id_number: "11010519491231002X".into(),
            password: "correct horse".into(),
            challenge_id: "challenge-1".into(),
            frames: vec![JPEG_B64.into(), JPEG_B64.into()],
            device_id: Some("a1b2c3d4e5f60718".into()),
        },
    ));
    s.push(minimal(
        "LoginRequest",
        &LoginRequest {
            id_number: "11010519491231002X".into(),
            password: "correct horse".into(),
            challenge_id: "challenge-1".into(),
            frames: vec![JPEG_B64.into()],
            device_id: None,
        },
    ));
    s.push(full(
        "LearnerSession",
        &LearnerSession {
            token: "tok-abc".into(),
            session_id: "session-1".into(),
            learner_id: "learner-1".into(),
        },
    ));
    s.push(full(
        "EnrolmentRequest",
        &EnrolmentRequest {
            class_id: "class-1".into(),
        },
    ));
    s.push(full("Enrolment", &enrolment()));
    s.push(full(
        "EnrolmentList",
        &EnrolmentList {
            enrolments: vec![enrolment()],
        },
    ));
    for state in capture_states() {
        s.push(full("ClassHourProgress", &class_hour(0, state)));
    }
    s.push(full("LessonProgress", &lesson_progress()));
    s.push(full(
        "Progress",
        &Progress {
            enrolment_id: "enrolment-1".into(),
            credited_seconds: 2700.0,
            lessons: vec![lesson_progress()],
        },
    ));

    // study
    s.push(full(
        "PlaybackRequest",
        &PlaybackRequest {
            enrolment_id: "enrolment-1".into(),
            lesson_id: "lesson-2".into(),
        },
    ));
    for state in playback_states() {
        s.push(full(
            "Playback",
            &Playback {
                playback_id: "playback-1".into(),
                enrolment_id: "enrolment-1".into(),
                lesson_id: "lesson-2".into(),
                lesson_seconds: 2700.0,
                start_position: 0.0,
                heartbeat_interval_seconds: 15.0,
                state,
            },
        ));
    }
    s.push(full(
        "HeartbeatRequest",
        &HeartbeatRequest {
            position_seconds: 615.5,
            rate: 1.0,
            focused: true,
            client_time: Some(t_frac()),
        },
    ));
    s.push(minimal(
        "HeartbeatRequest",
        &HeartbeatRequest {
            position_seconds: 0.0,
            rate: 4.0,
            focused: false,
            client_time: None,
        },
    ));
    s.push(full(
        "PendingEvent",
        &pending_event(Some("请输入 4711".into())),
    ));
    s.push(minimal("PendingEvent", &pending_event(None)));
    s.push(full(
        "HeartbeatAck",
        &HeartbeatAck {
            playback_id: "playback-1".into(),
            state: PlaybackState::Paused,
            virtual_time: t(315),
            accepted_position: 600.0,
            credited_seconds: 585.25,
            events: vec![pending_event(Some("4711".into())), pending_event(None)],
        },
    ));
    s.push(full(
        "HeartbeatAck",
        &HeartbeatAck {
            playback_id: "playback-1".into(),
            state: PlaybackState::Playing,
            virtual_time: t(15),
            accepted_position: 15.0,
            credited_seconds: 15.0,
            events: Vec::new(),
        },
    ));
    s.push(full(
        "PopupAnswer",
        &PopupAnswer {
            answer: "4711".into(),
        },
    ));
    s.push(full(
        "CaptureUpload",
        &CaptureUpload {
            image: JPEG_B64.into(),
        },
    ));
    for kind in event_kinds() {
        s.push(full(
            "EventOutcome",
            &EventOutcome {
                event_id: "event-1".into(),
                kind,
                passed: kind == EventKind::Popup,
                answered_at: t(330),
            },
        ));
    }

    // supervision
    s.push(full(
        "SupervisorLogin",
        &SupervisorLogin {
            username: "audit-1".into(),
            password: "s3cret!".into(),
        },
    ));
    for kind in supervisor_kinds() {
        s.push(full(
            "SupervisorSession",
            &SupervisorSession {
                token: "tok-sup".into(),
                supervisor_id: "supervisor-1".into(),
                kind,
            },
        ));
    }
    s.push(full("LearnerStatus", &learner_status(true)));
    s.push(minimal("LearnerStatus", &learner_status(false)));
    s.push(full(
        "LearnerStatusList",
        &LearnerStatusList {
            learners: vec![learner_status(true), learner_status(false)],
        },
    ));
    s.push(full(
        "LearnerRecord",
        &LearnerRecord {
            learner: learner(),
            face_image_id: "image-1".into(),
            id_card_image_id: "image-2".into(),
        },
    ));
    s.push(full("TrajectoryEvent", &trajectory_event(true)));
    s.push(minimal("TrajectoryEvent", &trajectory_event(false)));
    s.push(full(
        "Trajectory",
        &Trajectory {
            learner_id: "learner-1".into(),
            events: vec![trajectory_event(false), trajectory_event(true)],
        },
    ));
    s.push(full("CaptureRecord", &capture_record(true)));
    s.push(minimal("CaptureRecord", &capture_record(false)));
    s.push(full(
        "CaptureList",
        &CaptureList {
            learner_id: "learner-1".into(),
            captures: vec![capture_record(true), capture_record(false)],
        },
    ));
    s.push(full("LivenessRecord", &liveness_record(true)));
    s.push(full("LivenessRecord", &liveness_record(false)));
    s.push(full(
        "LivenessList",
        &LivenessList {
            learner_id: "learner-1".into(),
            attempts: vec![liveness_record(false), liveness_record(true)],
        },
    ));
    s.push(full(
        "BrushingSignal",
        &BrushingSignal {
            kind: "refused_cheats".into(),
            detail: "12 seeks refused".into(),
        },
    ));
    s.push(full("BrushingFlag", &brushing_flag()));
    s.push(full(
        "SelfCheckReport",
        &SelfCheckReport {
            generated_at: t_frac(),
            learners_checked: u64::from(u32::MAX) + 1,
            flagged: vec![brushing_flag()],
        },
    ));
    s.push(full(
        "ClassList",
        &ClassList {
            classes: vec![class()],
        },
    ));
    s.push(full("SubsidyPayee", &payee()));
    s.push(full(
        "CompletionLine",
        &completion_line(Some(AssessmentResult::Passed)),
    ));
    s.push(minimal("CompletionLine", &completion_line(None)));
    s.push(full(
        "CompletionExport",
        &CompletionExport {
            class_id: "class-1".into(),
            course_id: "course-1".into(),
            delivery: Delivery::Blended,
            organiser_id: "org-2".into(),
            payee: SubsidyPayee {
                kind: OrganisationKind::Institution,
                ..payee()
            },
            generated_at: t(90 * 86_400),
            learners: vec![
                completion_line(Some(AssessmentResult::Failed)),
                completion_line(None),
            ],
        },
    ));

    (s, enums)
}

/// The Rust types that have no schema of their own (type aliases and the raw image body).
fn is_schema_free_rust_name(name: &str) -> bool {
    matches!(name, "VirtualTime" | "ImageBytes")
}

// ---------------------------------------------------------------------------------------------
// Mutations: variations of a valid value, to compare the schema's verdict with serde's
// ---------------------------------------------------------------------------------------------

/// A variation of a sample, with a description for failure messages.
struct Mutation {
    what: String,
    value: Value,
}

fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every variation of `root`: each object key removed, an unknown key added to each object, and
/// each value replaced by values of other types or spellings.
fn mutations(root: &Value) -> Vec<Mutation> {
    let mut out = Vec::new();
    collect_mutations(root, "", &mut out, root);
    out
}

fn replaced(root: &Value, pointer: &str, with: Value) -> Value {
    if pointer.is_empty() {
        return with;
    }
    let mut copy = root.clone();
    *copy.pointer_mut(pointer).expect("pointer exists") = with;
    copy
}

fn collect_mutations(node: &Value, pointer: &str, out: &mut Vec<Mutation>, root: &Value) {
    let alternatives: Vec<(&str, Value)> = match node {
        Value::String(_) => vec![
            ("a number instead of a string", json!(42)),
            ("an unexpected spelling", json!("zz-Not-A-Valid-Variant")),
        ],
        Value::Number(n) if n.is_u64() || n.is_i64() => vec![
            ("a string instead of a number", json!("7")),
            ("a negative integer", json!(-1)),
            ("a fraction", json!(1.5)),
            ("an integer above u32::MAX", json!(u64::from(u32::MAX) + 1)),
        ],
        Value::Number(_) => vec![
            ("a string instead of a number", json!("7.5")),
            ("a negative integer", json!(-1)),
            ("a fraction", json!(1.5)),
        ],
        Value::Bool(_) => vec![("a string instead of a boolean", json!("true"))],
        Value::Array(_) => vec![("a string instead of an array", json!("[]"))],
        Value::Object(_) => vec![("a string instead of an object", json!("{}"))],
        Value::Null => Vec::new(),
    };
    for (what, with) in alternatives {
        out.push(Mutation {
            what: format!("`{pointer}` replaced by {what}"),
            value: replaced(root, pointer, with),
        });
    }
    match node {
        Value::Object(map) => {
            for key in map.keys() {
                let mut without = map.clone();
                without.remove(key);
                out.push(Mutation {
                    what: format!("`{pointer}/{key}` removed"),
                    value: replaced(root, pointer, Value::Object(without)),
                });
            }
            let mut extra = map.clone();
            extra.insert("zz_unknown_field".into(), json!("surprise"));
            out.push(Mutation {
                what: format!("unknown field added at `{pointer}`"),
                value: replaced(root, pointer, Value::Object(extra)),
            });
            for (key, child) in map {
                collect_mutations(
                    child,
                    &format!("{pointer}/{}", escape_pointer(key)),
                    out,
                    root,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_mutations(child, &format!("{pointer}/{i}"), out, root);
            }
        }
        _ => {}
    }
}

/// `ErrorCode` deliberately keeps unknown codes (`ErrorCode::Other`) while the document lists
/// the closed set of v1 codes; that one difference is expected.
fn is_open_error_code(schema: &str, mutation: &Mutation) -> bool {
    let unknown_spelling = mutation
        .what
        .ends_with("replaced by an unexpected spelling");
    unknown_spelling
        && (schema == "ErrorCode" && mutation.what.starts_with("`` ")
            || schema == "ErrorBody" && mutation.what.starts_with("`/code` "))
}

// ---------------------------------------------------------------------------------------------
// Tests: schemas
// ---------------------------------------------------------------------------------------------

#[test]
fn every_schema_accepts_representative_rust_values() {
    let doc = document();
    let mut validators = Validators::new(&doc);
    let (samples, _) = samples();
    let mut failures = Vec::new();
    let mut exercised = BTreeSet::new();
    for sample in &samples {
        exercised.insert(sample.schema.to_owned());
        let errors = validators.errors(sample.schema, &sample.value);
        if !errors.is_empty() {
            failures.push(format!(
                "{} rejects {}:\n    {}",
                sample.schema,
                sample.value,
                errors.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let documented = schema_names(&doc);
    let untested: Vec<_> = documented.difference(&exercised).collect();
    assert!(
        untested.is_empty(),
        "schemas of openapi.yaml without a Rust sample in this test: {untested:?}"
    );
    let undocumented: Vec<_> = exercised.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "Rust types without a schema in openapi.yaml: {undocumented:?}"
    );
    assert!(
        documented
            .iter()
            .all(|name| !is_schema_free_rust_name(name)),
        "type aliases are inlined, not schemas"
    );
}

#[test]
fn object_schemas_list_exactly_the_fields_of_their_rust_type() {
    let doc = document();
    let (samples, _) = samples();
    let mut fully_shown = BTreeSet::new();
    let mut failures = Vec::new();
    for sample in samples.iter().filter(|s| s.value.is_object()) {
        let schema = &schemas(&doc)[sample.schema];
        assert_eq!(
            schema["type"], "object",
            "{} is an object schema",
            sample.schema
        );
        let properties: BTreeSet<&str> = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{} has properties", sample.schema))
            .keys()
            .map(String::as_str)
            .collect();
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let keys: BTreeSet<&str> = sample
            .value
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        if !required.is_subset(&properties) {
            failures.push(format!(
                "{}: required {:?} not all among properties",
                sample.schema,
                required.difference(&properties).collect::<Vec<_>>()
            ));
        }
        if !required.is_subset(&keys) {
            failures.push(format!(
                "{}: required {:?} missing from a serialized value",
                sample.schema,
                required.difference(&keys).collect::<Vec<_>>()
            ));
        }
        if sample.full {
            fully_shown.insert(sample.schema);
            if keys != properties {
                failures.push(format!(
                    "{}: Rust fields {keys:?} but schema properties {properties:?}",
                    sample.schema
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (name, schema) in schemas(&doc) {
        if schema["type"] == "object" {
            assert!(
                fully_shown.contains(name.as_str()),
                "{name}: no fully populated sample"
            );
        }
    }
}

#[test]
fn schemas_and_serde_agree_on_every_variation_of_the_samples() {
    let doc = document();
    let mut validators = Validators::shape(&doc);
    let (samples, _) = samples();
    let mut disagreements = Vec::new();
    let mut checked = 0usize;
    let mut refused_by_both = 0usize;
    for sample in &samples {
        for mutation in mutations(&sample.value) {
            if is_open_error_code(sample.schema, &mutation) {
                continue;
            }
            checked += 1;
            let serde_ok = (sample.rust_accepts)(&mutation.value);
            let schema_ok = validators.is_valid(sample.schema, &mutation.value);
            if !serde_ok && !schema_ok {
                refused_by_both += 1;
            }
            if serde_ok != schema_ok {
                disagreements.push(format!(
                    "{}: {} — serde {}, schema {}: {}",
                    sample.schema,
                    mutation.what,
                    if serde_ok { "accepts" } else { "refuses" },
                    if schema_ok { "accepts" } else { "refuses" },
                    mutation.value
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {checked} variations disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(
        checked > 1_000 && refused_by_both > 500,
        "too few variations checked ({checked}, {refused_by_both} refused)"
    );
}

#[test]
fn request_schemas_refuse_unknown_fields_and_response_schemas_allow_them() {
    let doc = document();
    let mut validators = Validators::shape(&doc);
    let (samples, _) = samples();
    for sample in samples.iter().filter(|s| s.value.is_object()) {
        let schema = &schemas(&doc)[sample.schema];
        let mut extra = sample.value.clone();
        extra["zz_unknown_field"] = json!(1);
        let serde_denies = !(sample.rust_accepts)(&extra);
        match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => assert!(
                serde_denies,
                "{}: additionalProperties false, but the Rust type accepts unknown fields",
                sample.schema
            ),
            None => assert!(
                !serde_denies,
                "{}: the Rust type denies unknown fields, the schema must say additionalProperties: false",
                sample.schema
            ),
            Some(other) => panic!("{}: unexpected additionalProperties {other}", sample.schema),
        }
        assert_eq!(
            validators.is_valid(sample.schema, &extra),
            !serde_denies,
            "{}: unknown field",
            sample.schema
        );
    }
}

#[test]
fn validation_can_fail() {
    let doc = document();
    let mut validators = Validators::new(&doc);

    // A request with an extra field.
    let mut cohort = serde_json::to_value(CohortRequest {
        label: "x".into(),
        clock_scale: 60.0,
        start_at: None,
    })
    .unwrap();
    assert!(validators.is_valid("CohortRequest", &cohort));
    cohort["clock_offset"] = json!(5);
    assert!(!validators.is_valid("CohortRequest", &cohort));
    assert!(serde_json::from_value::<CohortRequest>(cohort).is_err());

    // A response missing a required field.
    let mut reading = serde_json::to_value(clock_reading()).unwrap();
    reading.as_object_mut().unwrap().remove("virtual_now");
    assert!(!validators.is_valid("ClockReading", &reading));
    assert!(serde_json::from_value::<ClockReading>(reading).is_err());

    // A wrong enum value, alone and nested.
    assert!(!validators.is_valid("PlaybackState", &json!("rewinding")));
    let mut playback = json!({
        "playback_id": "p", "enrolment_id": "e", "lesson_id": "l", "lesson_seconds": 1.0,
        "start_position": 0.0, "heartbeat_interval_seconds": 15.0, "state": "playing"
    });
    assert!(validators.is_valid("Playback", &playback));
    playback["state"] = json!("rewinding");
    assert!(!validators.is_valid("Playback", &playback));
    assert!(serde_json::from_value::<Playback>(playback).is_err());
    assert!(!validators.is_valid("ErrorCode", &json!("teapot")));

    // A time that is not RFC 3339, a negative u32, a missing optional field's wrong type.
    assert!(!validators.is_valid(
        "HeartbeatRequest",
        &json!({"position_seconds": 1.0, "rate": 1.0, "focused": true, "client_time": "yesterday"})
    ));
    assert!(!validators.is_valid(
        "LessonSpec",
        &json!({"title": "t", "minutes": -45, "category": "general", "mode": "online"})
    ));
    assert!(!validators.is_valid(
        "LearnerStatus",
        &json!({"learner_id": "l", "name": "n", "organisation_id": "o", "status": "online", "position_seconds": "3"})
    ));
}

/// The value rules are exactly the reference platform's body checks (each refused there with
/// 400 `invalid_request`), only on request bodies, and each refuses what it should and accepts
/// the values duxue sends.
#[test]
fn value_rules_are_the_platforms_body_checks() {
    let doc = document();
    fn text(
        schema: &'static str,
        path: &'static str,
        max: u32,
    ) -> [(&'static str, &'static str, &'static str, String); 3] {
        let nb = r"[^\t\n\x0b\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
        [
            (schema, path, "minLength", "1".to_owned()),
            (schema, path, "maxLength", max.to_string()),
            (schema, path, "pattern", nb.to_owned()),
        ]
    }
    let mut expected: Vec<(&str, &str, &str, String)> = vec![
        ("CohortRequest", "/label", "maxLength", "200".into()),
        ("CohortRequest", "/clock_scale", "exclusiveMinimum", "0".into()),
        ("CohortRequest", "/clock_scale", "maximum", "1000000".into()),
        ("ClockAdvance", "/seconds", "maximum", "6324480000".into()),
        ("LessonSpec", "/minutes", "minimum", "1".into()),
        ("LessonSpec", "/minutes", "maximum", "1440".into()),
        ("CourseProposal", "/lessons", "minItems", "1".into()),
        ("CourseProposal", "/lessons", "maxItems", "500".into()),
        ("RegistrationRequest", "/phone", "minLength", "11".into()),
        ("RegistrationRequest", "/phone", "maxLength", "11".into()),
        ("RegistrationRequest", "/phone", "pattern", "^1[0-9]{10}".into()),
        ("RegistrationRequest", "/password", "minLength", "1".into()),
        ("RegistrationRequest", "/password", "maxLength", "256".into()),
        ("LoginRequest", "/frames", "maxItems", "64".into()),
        ("LoginRequest", "/device_id", "minLength", "1".into()),
        ("LoginRequest", "/device_id", "maxLength", "64".into()),
        ("HeartbeatRequest", "/position_seconds", "minimum", "0".into()),
        ("HeartbeatRequest", "/rate", "minimum", "0".into()),
        ("HeartbeatRequest", "/rate", "maximum", "100".into()),
        (
            "SupervisorRequest",
            "",
            "if",
            r#"{"properties":{"kind":{"enum":["enterprise","institution"]}},"required":["kind"]}"#
                .into(),
        ),
        (
            "SupervisorRequest",
            "",
            "then",
            r#"{"properties":{"organisation_id":{"type":"string"}},"required":["organisation_id"]}"#
                .into(),
        ),
    ];
    for (schema, path, max) in [
        ("OrganisationRequest", "/name", 200),
        ("LessonSpec", "/title", 200),
        ("CourseProposal", "/title", 200),
        ("CourseProposal", "/occupation", 200),
        ("CourseProposal", "/level", 200),
        ("ClassRequest", "/name", 200),
        ("RegistrationRequest", "/name", 50),
    ] {
        expected.extend(text(schema, path, max));
    }
    let expected: BTreeSet<(String, String, String, String)> = expected
        .into_iter()
        .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d))
        .collect();
    let found = value_rules(&doc);
    assert_eq!(
        found.difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String, String, String)>::new(),
        "value rules in openapi.yaml that the platform does not check (or not listed here)"
    );
    assert_eq!(
        expected.difference(&found).collect::<Vec<_>>(),
        Vec::<&(String, String, String, String)>::new(),
        "platform body checks missing from openapi.yaml"
    );

    let mut validators = Validators::new(&doc);
    let (samples, _) = samples();
    for sample in &samples {
        assert!(
            validators.is_valid(sample.schema, &sample.value),
            "{}: a representative value breaks a value rule: {}",
            sample.schema,
            sample.value
        );
    }
    let refused = [
        ("CohortRequest", json!({"label": "x", "clock_scale": 0})),
        (
            "CohortRequest",
            json!({"label": "x".repeat(201), "clock_scale": 1}),
        ),
        ("ClockAdvance", json!({"seconds": 7e9})),
        (
            "OrganisationRequest",
            json!({"cohort_id": "c", "name": "", "kind": "enterprise"}),
        ),
        (
            "OrganisationRequest",
            json!({"cohort_id": "c", "name": " \u{3000}\t", "kind": "enterprise"}),
        ),
        (
            "LessonSpec",
            json!({"title": "t", "minutes": 0, "category": "general", "mode": "online"}),
        ),
        (
            "LessonSpec",
            json!({"title": "t", "minutes": 1441, "category": "general", "mode": "online"}),
        ),
        (
            "ClassRequest",
            json!({"course_id": "c", "organiser_id": "o", "name": "  "}),
        ),
        (
            "RegistrationRequest",
            json!({"name": "张三", "id_number": "x", "phone": " 13800000000", "password": "p",
                   "organisation_id": "o", "id_card_image": "", "face_image": ""}),
        ),
        (
            "RegistrationRequest",
            json!({"name": "张三", "id_number": "x", "phone": "23800000000", "password": "p",
                   "organisation_id": "o", "id_card_image": "", "face_image": ""}),
        ),
        (
            "RegistrationRequest",
            json!({"name": "张".repeat(51), "id_number": "x", "phone": "13800000000", "password": "p",
                   "organisation_id": "o", "id_card_image": "", "face_image": ""}),
        ),
        (
            "HeartbeatRequest",
            json!({"position_seconds": -1, "rate": 1, "focused": true}),
        ),
        (
            "HeartbeatRequest",
            json!({"position_seconds": 1, "rate": 101, "focused": true}),
        ),
        (
            "SupervisorRequest",
            json!({"cohort_id": "c", "kind": "enterprise"}),
        ),
        (
            "SupervisorRequest",
            json!({"cohort_id": "c", "kind": "institution", "organisation_id": null}),
        ),
    ];
    for (schema, value) in refused {
        assert!(
            !validators.is_valid(schema, &value),
            "{schema} accepts {value}"
        );
    }
    let accepted = [
        ("CohortRequest", json!({"label": "", "clock_scale": 1e6})),
        (
            "OrganisationRequest",
            json!({"cohort_id": "c", "name": " 企业 ", "kind": "enterprise"}),
        ),
        (
            "SupervisorRequest",
            json!({"cohort_id": "c", "kind": "authority"}),
        ),
        (
            "SupervisorRequest",
            json!({"cohort_id": "c", "kind": "audit", "organisation_id": null}),
        ),
        (
            "CohortRequest",
            json!({"label": "x", "clock_scale": 1, "start_at": null}),
        ),
        (
            "LessonSpec",
            json!({"title": "t", "minutes": 45.0, "category": "general", "mode": "online"}),
        ),
        (
            "HeartbeatRequest",
            json!({"position_seconds": 0, "rate": 0, "focused": false}),
        ),
    ];
    for (schema, value) in accepted {
        let errors = validators.errors(schema, &value);
        assert!(errors.is_empty(), "{schema} refuses {value}: {errors:?}");
    }
    // What the document allows beyond the types' own spelling, the types read too.
    let minutes = json!({"title": "t", "minutes": 45.0, "category": "general", "mode": "online"});
    assert_eq!(
        serde_json::from_value::<LessonSpec>(minutes)
            .map(|l| l.minutes)
            .ok(),
        Some(45)
    );
    let half = json!({"title": "t", "minutes": 45.5, "category": "general", "mode": "online"});
    assert!(serde_json::from_value::<LessonSpec>(half).is_err());
    let cohort = json!({"label": "x", "clock_scale": 1, "start_at": null});
    assert!(serde_json::from_value::<CohortRequest>(cohort).is_ok());
    let audit = json!({"cohort_id": "c", "kind": "audit", "organisation_id": null});
    assert!(serde_json::from_value::<SupervisorRequest>(audit).is_ok());
}

#[test]
fn enum_schemas_list_the_rust_wire_values_in_order() {
    let doc = document();
    let mut scratch = Vec::new();
    let enums = enum_wire_values(&mut scratch);
    let documented_enums: BTreeSet<&str> = schemas(&doc)
        .iter()
        .filter(|(_, s)| s.get("enum").is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        documented_enums,
        enums.keys().copied().collect::<BTreeSet<_>>(),
        "enum schemas"
    );
    for (name, wire) in &enums {
        let schema = &schemas(&doc)[*name];
        assert_eq!(schema["type"], "string", "{name} is a string enum");
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().expect("string enum value"))
            .collect();
        assert_eq!(listed, *wire, "{name}: wire values");
        let description = schema["description"].as_str().unwrap_or_default();
        assert!(!description.is_empty(), "{name} has a description");
    }
}

#[test]
fn error_code_enum_is_error_code_all_with_meanings() {
    let doc = document();
    let schema = &schemas(&doc)["ErrorCode"];
    let listed: Vec<&str> = schema["enum"]
        .as_array()
        .expect("ErrorCode has an enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
    assert_eq!(listed, all);

    let statuses = documented_statuses(&doc);
    let description = schema["description"].as_str().unwrap();
    for code in ErrorCode::ALL {
        let line = description
            .lines()
            .find(|l| l.starts_with(&format!("- `{}` (", code.as_str())))
            .unwrap_or_else(|| panic!("ErrorCode description has no line for `{code}`"));
        assert!(
            line.ends_with(&format!("): {}", code.meaning())),
            "`{code}`: the description must give the meaning {:?}, has {line:?}",
            code.meaning()
        );
        assert!(statuses.contains_key(code.as_str()));
    }
    assert_eq!(statuses.len(), ErrorCode::ALL.len());

    // The one intended difference: Rust keeps codes from a newer profile, v1 lists its own.
    let body: ErrorBody =
        serde_json::from_value(json!({"code": "teapot", "message": "short and stout"})).unwrap();
    assert_eq!(body.code, ErrorCode::Other("teapot".into()));
}

/// `code` → HTTP status, from the lines "- `code` (NNN): meaning" of the ErrorCode description.
fn documented_statuses(doc: &Value) -> BTreeMap<String, String> {
    let description = schemas(doc)["ErrorCode"]["description"]
        .as_str()
        .expect("ErrorCode has a description");
    description
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("- `")?;
            let (code, rest) = rest.split_once("` (")?;
            let (status, _) = rest.split_once("):")?;
            Some((code.to_owned(), status.to_owned()))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests: operations
// ---------------------------------------------------------------------------------------------

/// An operation as the document describes it, in the shape of [`Operation`].
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Described {
    id: String,
    method: String,
    path: String,
    scheme: Option<String>,
    request: Option<String>,
    response: Option<String>,
    status: u16,
}

fn from_table(op: &Operation) -> Described {
    Described {
        id: op.id.into(),
        method: op.method.as_str().into(),
        path: op.path.into(),
        scheme: op.security.scheme().map(Into::into),
        request: op.request.map(Into::into),
        response: op.response.map(Into::into),
        status: op.status,
    }
}

fn schema_ref_name(value: &Value) -> Option<String> {
    value
        .get("$ref")?
        .as_str()?
        .strip_prefix(SCHEMA_PREFIX)
        .map(Into::into)
}

fn described_operations(doc: &Value) -> Vec<Described> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            out.push(describe(path, method, op));
        }
    }
    out
}

fn describe(path: &str, method: &str, op: &Value) -> Described {
    let id = op["operationId"].as_str().expect("operationId").to_owned();
    let security = op["security"]
        .as_array()
        .unwrap_or_else(|| panic!("{id}: every operation states its security"));
    let scheme = match security.as_slice() {
        [] => None,
        [one] => {
            let map = one.as_object().unwrap();
            assert_eq!(map.len(), 1, "{id}: one scheme per requirement");
            let (name, scopes) = map.iter().next().unwrap();
            assert_eq!(scopes, &json!([]), "{id}: no scopes");
            Some(name.clone())
        }
        more => panic!("{id}: {} alternative security requirements", more.len()),
    };
    let request = op.get("requestBody").map(|body| {
        assert_eq!(body["required"], true, "{id}: request body is required");
        let content = body["content"].as_object().unwrap();
        assert_eq!(
            content.keys().collect::<Vec<_>>(),
            ["application/json"],
            "{id}: JSON request body only"
        );
        schema_ref_name(&content["application/json"]["schema"])
            .unwrap_or_else(|| panic!("{id}: request body is a $ref to a component schema"))
    });
    let responses = op["responses"].as_object().expect("responses");
    let successes: Vec<_> = responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .collect();
    assert_eq!(successes.len(), 1, "{id}: exactly one success status");
    let (status, success) = successes[0];
    let response = match success.get("content").and_then(Value::as_object) {
        None => None,
        Some(content) if content.contains_key("application/json") => {
            assert_eq!(content.len(), 1, "{id}: JSON success body only");
            Some(
                schema_ref_name(&content["application/json"]["schema"])
                    .unwrap_or_else(|| panic!("{id}: success body is a $ref")),
            )
        }
        Some(content) => {
            let types: BTreeSet<&str> = content.keys().map(String::as_str).collect();
            assert_eq!(
                types,
                BTreeSet::from(["image/jpeg", "image/png"]),
                "{id}: binary body"
            );
            for (media, body) in content {
                assert_eq!(body["schema"]["type"], "string", "{id} {media}");
                assert_eq!(body["schema"]["format"], "binary", "{id} {media}");
                assert_eq!(body["schema"]["contentMediaType"], media.as_str(), "{id}");
            }
            Some("binary".into())
        }
    };
    Described {
        id,
        method: method.into(),
        path: path.into(),
        scheme,
        request,
        response,
        status: status.parse().expect("numeric status"),
    }
}

#[test]
fn operations_equal_the_operations_table() {
    let doc = document();
    let described = described_operations(&doc);
    let table: Vec<Described> = OPERATIONS.iter().map(from_table).collect();

    let documented: BTreeSet<_> = described.iter().cloned().collect();
    let expected: BTreeSet<_> = table.iter().cloned().collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "in OPERATIONS but not as such in openapi.yaml: {missing:#?}\nin openapi.yaml but not in OPERATIONS: {extra:#?}"
    );
    assert_eq!(described.len(), OPERATIONS.len(), "no duplicates");
    assert!(
        doc.get("security").is_none(),
        "no global security: each operation states its own"
    );
    for op in OPERATIONS {
        if let Some(name) = op.response.filter(|r| *r != "binary") {
            assert!(schemas(&doc).contains_key(name), "{}: schema {name}", op.id);
        }
        if let Some(name) = op.request {
            assert!(schemas(&doc).contains_key(name), "{}: schema {name}", op.id);
        }
        if op.response.is_none() {
            assert_eq!(op.status, 204, "{}: no body means 204", op.id);
        }
    }
}

#[test]
fn operations_appear_in_the_order_of_the_table() {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(OPENAPI_YAML).unwrap();
    let paths = yaml["paths"].as_mapping().expect("paths");
    let mut ids = Vec::new();
    for (_, item) in paths {
        for (method, op) in item.as_mapping().expect("path item") {
            if HTTP_METHODS.contains(&method.as_str().unwrap_or_default()) {
                ids.push(op["operationId"].as_str().unwrap().to_owned());
            }
        }
    }
    let table: Vec<&str> = OPERATIONS.iter().map(|op| op.id).collect();
    assert_eq!(ids, table);
}

#[test]
fn path_parameters_are_declared() {
    let doc = document();
    for op in OPERATIONS {
        let item = &doc["paths"][op.path];
        let operation = &item[op.method.as_str()];
        let mut declared = Vec::new();
        for level in [item, operation] {
            for parameter in level["parameters"].as_array().into_iter().flatten() {
                let parameter = deref(&doc, parameter);
                assert_eq!(parameter["in"], "path", "{}: only path parameters", op.id);
                assert_eq!(parameter["required"], true, "{}", op.id);
                assert_eq!(parameter["schema"]["type"], "string", "{}", op.id);
                declared.push(parameter["name"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(declared, op.parameters(), "{}: path parameters", op.id);
    }
}

#[test]
fn every_operation_lists_its_refusals_in_the_error_shape() {
    let doc = document();
    let statuses = documented_statuses(&doc);
    let error = resolve(&doc, ERROR_RESPONSE).expect("components.responses.Error");
    assert_eq!(
        error["content"]["application/json"]["schema"]["$ref"],
        format!("{SCHEMA_PREFIX}ErrorBody")
    );
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        BTreeSet::from([
            "metadata",
            "conformance",
            "learners",
            "study",
            "supervision"
        ])
    );
    for op in OPERATIONS {
        let operation = &doc["paths"][op.path][op.method.as_str()];
        let op_tags = operation["tags"].as_array().expect("tags");
        assert_eq!(op_tags.len(), 1, "{}: one tag", op.id);
        assert!(
            tags.contains(op_tags[0].as_str().unwrap()),
            "{}: known tag",
            op.id
        );
        assert!(operation["summary"].is_string(), "{}: summary", op.id);

        let responses = operation["responses"].as_object().unwrap();
        let mut errors = BTreeSet::new();
        for (status, response) in responses {
            if status.starts_with('2') {
                continue;
            }
            assert_eq!(
                response["$ref"], ERROR_RESPONSE,
                "{} {status}: refusals use the shared Error response",
                op.id
            );
            errors.insert(status.as_str());
            if status == "default" {
                continue;
            }
            // Every code named for a status is a v1 code documented with that status.
            let description = response["description"]
                .as_str()
                .unwrap_or_else(|| panic!("{} {status}: says which codes", op.id));
            let codes: Vec<&str> = description.split('`').skip(1).step_by(2).collect();
            assert!(!codes.is_empty(), "{} {status}: names its codes", op.id);
            for code in codes {
                assert_eq!(
                    statuses.get(code).map(String::as_str),
                    Some(status.as_str()),
                    "{} {status}: `{code}` is a v1 code answered with {status}",
                    op.id
                );
            }
        }
        assert!(errors.contains("default"), "{}: default refusal", op.id);
        if op.request.is_some() {
            assert!(errors.contains("400"), "{}: 400 invalid_request", op.id);
            assert!(errors.contains("413"), "{}: 413 payload_too_large", op.id);
        }
        if op.security != Security::Public {
            assert!(
                errors.contains("401"),
                "{}: 401 without a credential",
                op.id
            );
        }
        if op.security == Security::Conformance {
            assert!(
                errors.contains("404"),
                "{}: 404 conformance_disabled",
                op.id
            );
        }
        if !op.parameters().is_empty() {
            assert!(errors.contains("404"), "{}: 404 for an unknown id", op.id);
        }
    }
}

#[test]
fn security_schemes_match_the_table() {
    let doc = document();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(
        schemes.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["learnerToken", "supervisorToken", "conformanceToken"])
    );
    for security in [Security::Learner, Security::Supervisor] {
        let scheme = &schemes[security.scheme().unwrap()];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
    }
    let conformance = &schemes[Security::Conformance.scheme().unwrap()];
    assert_eq!(conformance["type"], "apiKey");
    assert_eq!(conformance["in"], "header");
    assert_eq!(
        conformance["name"].as_str().unwrap().to_ascii_lowercase(),
        CONFORMANCE_HEADER
    );
}

#[test]
fn document_header_names_the_profile() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["info"]["title"],
        "duxue profile v1 — online skills training platform API"
    );
    assert_eq!(doc["info"]["version"], "1.0.0");
    let servers: Vec<&str> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert!(servers.contains(&"http://127.0.0.1:8080/profile/v1"));
    for url in &servers {
        assert!(url.ends_with(BASE_PATH), "{url} ends with {BASE_PATH}");
    }
    assert!(servers.iter().any(|url| url.starts_with("https://")));
}

// ---------------------------------------------------------------------------------------------
// Tests: references
// ---------------------------------------------------------------------------------------------

fn collect_refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    out.push((at.clone(), child.as_str().expect("$ref is a string")));
                } else {
                    collect_refs(child, format!("{at}/{}", escape_pointer(key)), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves_and_every_component_is_used() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, String::new(), &mut refs);
    assert!(
        refs.len() > 100,
        "the document uses $ref ({} found)",
        refs.len()
    );
    for (at, reference) in &refs {
        assert!(
            reference.starts_with("#/components/"),
            "{at}: {reference} is local to components"
        );
        assert!(
            resolve(&doc, reference).is_some(),
            "{at}: {reference} does not resolve"
        );
    }
    let used: BTreeSet<&str> = refs.iter().map(|(_, r)| *r).collect();
    for kind in ["schemas", "parameters", "responses"] {
        for name in doc["components"][kind].as_object().unwrap().keys() {
            let reference = format!("#/components/{kind}/{name}");
            assert!(
                used.contains(reference.as_str()),
                "{reference} is never used"
            );
        }
    }
}
