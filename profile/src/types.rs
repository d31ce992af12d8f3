//! Wire types of profile v1: every request and response body of `openapi.yaml`, one Rust type
//! per schema, with the same names. Requests refuse unknown fields (a platform must not guess
//! what a client meant); responses accept extra fields so that a platform may say more.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The profile version this crate speaks.
pub const PROFILE_VERSION: &str = "v1";
/// Every operation path starts with this prefix.
pub const BASE_PATH: &str = "/profile/v1";

/// A platform's base URL as profile v1 means it (everything before [`BASE_PATH`]): trailing
/// slashes and a trailing `/profile/v1` a user may have copied along are removed.
pub fn base_url(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    url.strip_suffix(BASE_PATH)
        .map_or(url, |u| u.trim_end_matches('/'))
}
/// Header that carries the conformance token.
pub const CONFORMANCE_HEADER: &str = "x-conformance-token";

/// A point on a cohort clock (the platform's clock for that cohort), RFC 3339 in UTC.
pub type VirtualTime = DateTime<Utc>;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

macro_rules! error_codes {
    ($($variant:ident => $code:literal: $doc:literal,)*) => {
        /// The stable machine code of a refusal. Unknown codes from a newer platform are kept
        /// verbatim in [`ErrorCode::Other`].
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
            /// A code this version of the profile does not define.
            Other(String),
        }

        impl ErrorCode {
            /// Every code profile v1 defines, in document order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Other(code) => code,
                }
            }

            /// What the code means, as documented in `openapi.yaml`.
            pub fn meaning(&self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $doc,)*
                    ErrorCode::Other(_) => "a code profile v1 does not define",
                }
            }
        }

        impl From<&str> for ErrorCode {
            fn from(code: &str) -> Self {
                match code {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    Unauthorized => "unauthorized": "no credential, or one the platform does not know",
    SessionRevoked => "session_revoked": "the learner's session was ended (logout, or a newer login replaced it)",
    Forbidden => "forbidden": "the credential is valid but may not touch this resource",
    ReadOnly => "read_only": "a supervisor account attempted a write",
    NotFound => "not_found": "no such resource (or not visible to this credential)",
    MethodNotAllowed => "method_not_allowed": "the path exists but not with this method",
    InvalidRequest => "invalid_request": "the body is not valid JSON, misses a field, or has an unknown field",
    PayloadTooLarge => "payload_too_large": "the body exceeds the platform's upload limit",
    InvalidImage => "invalid_image": "an image field is not a decodable JPEG or PNG of usable size",
    InvalidIdNumber => "invalid_id_number": "the ID number fails GB 11643 (length, date or check digit)",
    DuplicateLearner => "duplicate_learner": "a learner with this ID number is already registered",
    FaceMismatch => "face_mismatch": "the face does not match the reference face",
    NoFace => "no_face": "no face could be found in the image",
    BadCredentials => "bad_credentials": "unknown account or wrong password",
    ChallengeUnknown => "challenge_unknown": "no such liveness challenge",
    ChallengeExpired => "challenge_expired": "the liveness challenge expired before it was answered",
    ChallengeUsed => "challenge_used": "the liveness challenge was already answered once",
    LivenessFailed => "liveness_failed": "the frames do not show a live person performing the challenge",
    SessionConflict => "session_conflict": "the account already has a live session elsewhere",
    AlreadyEnrolled => "already_enrolled": "the learner is already enrolled in this class",
    CooldownActive => "cooldown_active": "the last training project is unassessed or was assessed less than the cooldown ago",
    OccupationNotPureOnline => "occupation_not_pure_online": "the occupation may not be trained purely online",
    OccupationNotApproved => "occupation_not_approved": "the occupation is not among the platform's approved occupations",
    OrganiserNotAllowed => "organiser_not_allowed": "this organisation may not organise this kind of training, or be supervised by this kind of account",
    CompositionInvalid => "composition_invalid": "the course's class-hour composition breaks the policy",
    LessonLocked => "lesson_locked": "earlier professional lessons are not completed yet",
    LessonOffline => "lesson_offline": "the lesson is taught offline and cannot be played",
    ConcurrentPlayback => "concurrent_playback": "another playback of this learner is active",
    PlaybackSuperseded => "playback_superseded": "a newer playback of this learner replaced this one",
    PlaybackStopped => "playback_stopped": "the playback was stopped (by the learner, a missed popup or capture, or silence)",
    SeekForbidden => "seek_forbidden": "the position moved forward past what was watched",
    RateForbidden => "rate_forbidden": "the playback rate is above 1",
    EventUnknown => "event_unknown": "no such popup or capture request on this playback",
    EventExpired => "event_expired": "the popup or capture was answered after its deadline",
    WrongAnswer => "wrong_answer": "the popup answer is not the one asked for",
    ClockBackwards => "clock_backwards": "a cohort clock only moves forward",
    ConformanceDisabled => "conformance_disabled": "conformance endpoints are switched off on this platform",
    Internal => "internal": "the platform failed; the request may be retried",
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(ErrorCode::from(code.as_str()))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one error shape of every refusal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Metadata and course catalog
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlatformMeta {
    /// Always `"v1"` for this profile.
    pub profile_version: String,
    pub platform_name: String,
    pub platform_url: String,
    /// The organisation operating the platform (机构名称).
    pub operator: String,
    /// Occupations the platform claims approval for (Annex 1).
    pub approved_occupations: Vec<String>,
    /// Whether the conformance endpoints are switched on.
    pub conformance_enabled: bool,
    /// The platform's wall clock when it answered.
    pub server_time: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// 纯线上: every class hour online.
    PureOnline,
    /// 线上+线下: online theory plus offline practice.
    Blended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonCategory {
    /// 综合性培训: ethics, safety, law, health…
    General,
    /// 专业性理论学习 or practice: occupation-specific, taken in order.
    Professional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonMode {
    Online,
    Offline,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lesson {
    pub lesson_id: String,
    /// 1-based position in the course's content order.
    pub ordinal: u32,
    pub title: String,
    pub minutes: u32,
    pub category: LessonCategory,
    pub mode: LessonMode,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Course {
    pub course_id: String,
    pub title: String,
    /// 职业（工种）, as named in the policy's lists.
    pub occupation: String,
    /// 等级, e.g. "五级".
    pub level: String,
    pub delivery: Delivery,
    pub subsidised: bool,
    pub lessons: Vec<Lesson>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CourseList {
    pub courses: Vec<Course>,
}

// ---------------------------------------------------------------------------------------------
// Conformance control
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortRequest {
    /// Free text for the platform's logs.
    pub label: String,
    /// Virtual seconds per wall second (60: a 45-minute class hour passes in 45 s).
    pub clock_scale: f64,
    /// Where the cohort clock starts; the platform's wall clock when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<VirtualTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClockReading {
    pub cohort_id: String,
    pub virtual_now: VirtualTime,
    pub scale: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    pub cohort_id: String,
    pub label: String,
    pub clock: ClockReading,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    /// Virtual seconds to jump forward; must be positive.
    pub seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    /// 企业: an employer.
    Enterprise,
    /// 专营劳务派遣的企业: a labour-dispatch firm.
    LabourDispatch,
    /// 培训机构: a training institution.
    Institution,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationRequest {
    pub cohort_id: String,
    pub name: String,
    pub kind: OrganisationKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub organisation_id: String,
    pub cohort_id: String,
    pub name: String,
    pub kind: OrganisationKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonSpec {
    pub title: String,
    #[serde(deserialize_with = "whole_u32")]
    pub minutes: u32,
    pub category: LessonCategory,
    pub mode: LessonMode,
}

/// A whole number in a request: JSON Schema's `integer` is any number without a fraction, so
/// `45.0` is the integer 45 as much as `45` is (serde's `u32` alone takes only the latter).
fn whole_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    use serde::de::{Error, Unexpected};
    let x = f64::deserialize(d)?;
    if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) {
        Ok(x as u32)
    } else {
        Err(D::Error::invalid_value(
            Unexpected::Float(x),
            &"a whole number from 0 to 4294967295",
        ))
    }
}

/// A course the harness asks the platform to publish; the platform applies its catalog rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseProposal {
    pub title: String,
    pub occupation: String,
    pub level: String,
    pub delivery: Delivery,
    pub subsidised: bool,
    /// In content order.
    pub lessons: Vec<LessonSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassRequest {
    pub course_id: String,
    /// The enterprise (pure online) or institution (blended) that organises the class.
    pub organiser_id: String,
    pub name: String,
}

/// A training class (培训班): one course organised by one organisation in one cohort.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Class {
    pub class_id: String,
    pub cohort_id: String,
    pub course_id: String,
    pub organiser_id: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentResult {
    Passed,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentRequest {
    pub enrolment_id: String,
    pub result: AssessmentResult,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub assessment_id: String,
    pub enrolment_id: String,
    pub result: AssessmentResult,
    /// On the learner's cohort clock.
    pub assessed_at: VirtualTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorKind {
    /// 人社部门: the training authority; sees every learner of its cohort.
    Authority,
    /// 审计部门: audit; sees every learner of its cohort.
    Audit,
    /// An enterprise; sees only its own learners.
    Enterprise,
    /// An institution; sees only its own learners.
    Institution,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorRequest {
    pub cohort_id: String,
    pub kind: SupervisorKind,
    /// Required for `enterprise` and `institution`; the organisation whose learners it sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupervisorCredentials {
    pub supervisor_id: String,
    pub kind: SupervisorKind,
    pub username: String,
    pub password: String,
}

// ---------------------------------------------------------------------------------------------
// Learners: registration, liveness, login, enrolment
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    pub name: String,
    /// 18-character resident ID number.
    pub id_number: String,
    pub phone: String,
    pub password: String,
    /// The enterprise employing, or institution training, the learner; sets the cohort.
    pub organisation_id: String,
    /// Base64 JPEG/PNG of the front of the ID card.
    pub id_card_image: String,
    /// Base64 JPEG/PNG of the learner's face.
    pub face_image: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Learner {
    pub learner_id: String,
    pub name: String,
    /// The ID number with all but the first 6 and last 4 characters masked.
    pub id_number_masked: String,
    pub organisation_id: String,
    pub cohort_id: String,
    pub registered_at: VirtualTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    pub id_number: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessAction {
    Blink,
    TurnLeft,
    TurnRight,
    OpenMouth,
    Nod,
}

impl LivenessAction {
    pub const ALL: [LivenessAction; 5] = [
        LivenessAction::Blink,
        LivenessAction::TurnLeft,
        LivenessAction::TurnRight,
        LivenessAction::OpenMouth,
        LivenessAction::Nod,
    ];

    /// The wire name, as in `openapi.yaml`.
    pub fn name(self) -> &'static str {
        match self {
            LivenessAction::Blink => "blink",
            LivenessAction::TurnLeft => "turn_left",
            LivenessAction::TurnRight => "turn_right",
            LivenessAction::OpenMouth => "open_mouth",
            LivenessAction::Nod => "nod",
        }
    }

    /// The action with this wire name.
    pub fn from_name(name: &str) -> Option<LivenessAction> {
        LivenessAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivenessChallenge {
    pub challenge_id: String,
    /// Unpredictable; the frames must answer this nonce (it sets the screen-flash colours).
    pub nonce: String,
    /// Actions to perform, in this order.
    pub actions: Vec<LivenessAction>,
    pub expires_at: VirtualTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub id_number: String,
    pub password: String,
    pub challenge_id: String,
    /// Base64 JPEG frames answering the challenge, in capture order.
    pub frames: Vec<String>,
    /// The client's name for the device it runs on (1–64 characters, stable per device). The
    /// one-account-one-place rule is the same whatever it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerSession {
    pub token: String,
    pub session_id: String,
    pub learner_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRequest {
    pub class_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enrolment {
    pub enrolment_id: String,
    pub learner_id: String,
    pub class_id: String,
    pub course_id: String,
    pub enrolled_at: VirtualTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnrolmentList {
    pub enrolments: Vec<Enrolment>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureState {
    /// The class hour has not reached its capture yet.
    NotDue,
    /// A capture was requested and not answered yet.
    Pending,
    Passed,
    Failed,
    /// The deadline passed without an upload.
    Missed,
}

/// One class hour (课时) of a lesson: a span of content with its own random capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassHourProgress {
    /// 0-based within the lesson.
    pub index: u32,
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub credited_seconds: f64,
    pub capture: CaptureState,
    /// Credit of this class hour is withheld because its capture failed or was missed.
    pub withheld: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LessonProgress {
    pub lesson_id: String,
    pub credited_seconds: f64,
    /// The furthest content position watched in order.
    pub furthest_position: f64,
    pub completed: bool,
    pub locked: bool,
    pub class_hours: Vec<ClassHourProgress>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub enrolment_id: String,
    pub credited_seconds: f64,
    pub lessons: Vec<LessonProgress>,
}

// ---------------------------------------------------------------------------------------------
// Study
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybackRequest {
    pub enrolment_id: String,
    pub lesson_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaybackState {
    Playing,
    /// Waiting for a popup answer or a capture upload; no credit accrues.
    Paused,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Playback {
    pub playback_id: String,
    pub enrolment_id: String,
    pub lesson_id: String,
    pub lesson_seconds: f64,
    /// Where playback resumes: the furthest position watched in order.
    pub start_position: f64,
    /// How often (cohort-clock seconds) the client must send a heartbeat.
    pub heartbeat_interval_seconds: f64,
    pub state: PlaybackState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The player's content position in seconds.
    pub position_seconds: f64,
    /// The player's playback rate (1 = normal speed).
    pub rate: f64,
    /// Whether the player window has focus.
    pub focused: bool,
    /// The client's own clock; informational, never used for credit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_time: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// 弹窗: an attention popup.
    Popup,
    /// 随机抓拍: a face capture request.
    Capture,
}

/// Something the learner must answer before its deadline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingEvent {
    pub event_id: String,
    pub kind: EventKind,
    pub issued_at: VirtualTime,
    pub deadline: VirtualTime,
    /// For popups: what the learner is asked; the answer is the prompt's only run of ASCII digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub playback_id: String,
    pub state: PlaybackState,
    /// The cohort clock when the heartbeat was taken.
    pub virtual_time: VirtualTime,
    /// The position the platform accepted (the furthest watched in order).
    pub accepted_position: f64,
    /// Credited seconds of this lesson for this learner, after withholding.
    pub credited_seconds: f64,
    pub events: Vec<PendingEvent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopupAnswer {
    pub answer: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureUpload {
    /// Base64 JPEG from the learner's camera.
    pub image: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventOutcome {
    pub event_id: String,
    pub kind: EventKind,
    /// For popups: answered correctly in time. For captures: the face matched in time.
    pub passed: bool,
    pub answered_at: VirtualTime,
}

// ---------------------------------------------------------------------------------------------
// Supervision (read-only)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorLogin {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupervisorSession {
    pub token: String,
    pub supervisor_id: String,
    pub kind: SupervisorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    /// A playback is running.
    Studying,
    /// Logged in, no playback running.
    Online,
    Offline,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerStatus {
    pub learner_id: String,
    pub name: String,
    pub organisation_id: String,
    pub status: LiveStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<VirtualTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerStatusList {
    pub learners: Vec<LearnerStatus>,
}

/// A learner as a supervisor sees it, with the registration images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerRecord {
    pub learner: Learner,
    pub face_image_id: String,
    pub id_card_image_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryEvent {
    pub at: VirtualTime,
    /// e.g. `login`, `playback_started`, `heartbeat`, `seek_refused`, `popup_issued`, `popup_answered`, `capture_passed`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub learner_id: String,
    pub events: Vec<TrajectoryEvent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptureRecord {
    pub event_id: String,
    pub lesson_id: String,
    pub class_hour: u32,
    pub requested_at: VirtualTime,
    pub state: CaptureState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<VirtualTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptureList {
    pub learner_id: String,
    pub captures: Vec<CaptureRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivenessRecord {
    pub challenge_id: String,
    pub at: VirtualTime,
    pub accepted: bool,
    pub reason: String,
    pub frame_image_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivenessList {
    pub learner_id: String,
    pub attempts: Vec<LivenessRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrushingSignal {
    /// e.g. `round_the_clock`, `machine_regular_heartbeats`, `uniform_popup_latency`, `failed_captures`, `refused_cheats`.
    pub kind: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrushingFlag {
    pub learner_id: String,
    pub signals: Vec<BrushingSignal>,
}

/// The platform's course-brushing self-check (合规性自查) over the learners in scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelfCheckReport {
    pub generated_at: DateTime<Utc>,
    pub learners_checked: u64,
    pub flagged: Vec<BrushingFlag>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassList {
    pub classes: Vec<Class>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubsidyPayee {
    pub organisation_id: String,
    pub name: String,
    pub kind: OrganisationKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompletionLine {
    pub learner_id: String,
    pub name: String,
    pub id_number_masked: String,
    pub credited_seconds: f64,
    /// Credited class hours (credited seconds over the class-hour length, rounded down).
    pub class_hours: u32,
    pub completed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<AssessmentResult>,
}

/// 结业信息: the per-class record submitted for review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompletionExport {
    pub class_id: String,
    pub course_id: String,
    pub delivery: Delivery,
    pub organiser_id: String,
    pub payee: SubsidyPayee,
    pub generated_at: VirtualTime,
    pub learners: Vec<CompletionLine>,
}

/// Registration face or ID-card image, capture or liveness frame as stored by the platform.
pub type ImageBytes = Vec<u8>;

#[cfg(test)]
mod base_url_tests {
    #[test]
    fn a_base_url_is_everything_before_the_prefix() {
        for given in [
            "https://p.example.cn",
            "https://p.example.cn/",
            "https://p.example.cn/profile/v1",
            "https://p.example.cn/profile/v1/",
        ] {
            assert_eq!(super::base_url(given), "https://p.example.cn", "{given}");
        }
        assert_eq!(
            super::base_url("https://p.example.cn/api/profile/v1"),
            "https://p.example.cn/api"
        );
        assert_eq!(
            super::base_url("https://p.example.cn/profile/v2"),
            "https://p.example.cn/profile/v2"
        );
    }
}
