//! The platform's domain: the in-memory world (every entity, authoritative while the platform
//! runs, rebuilt from SQLite at startup), its persistence, and the rules, one module per area.
//! Domain functions are plain methods of [`Platform`]; they never block on I/O while holding
//! the world lock (writes go to the batching writer, image and trajectory reads to the read
//! pool, biometrics to blocking threads).

macro_rules! impl_doc {
    ($ty:ty, $kind:literal, $id:ident, $cohort:ident, $at:ident $(, owner = $owner:ident)?) => {
        impl Doc for $ty {
            const KIND: &'static str = $kind;
            fn id(&self) -> &str { &self.$id }
            fn cohort(&self) -> &str { &self.$cohort }
            $(fn owner(&self) -> &str { &self.$owner })?
            fn at(&self) -> f64 { self.$at }
        }
    };
}

pub mod conformance;
pub mod enrolment;
pub mod identity;
pub mod playback;
pub mod production;
pub mod retention;
pub mod selfcheck;
pub mod supervision;

use std::collections::HashMap;

use duxue_profile::{
    ApplicationForm, AssessmentResult, CaptureState, Class, Course, EventKind, LivenessAction,
    OrganisationKind, PlaybackState, Policy, SupervisorKind,
};
use parking_lot::Mutex;
use rand_chacha::ChaCha20Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::{self, CohortClock};
use crate::controls::Controls;
use crate::defects::{Defect, DefectSet};
use crate::error::{PlatformError, Refusal};
use crate::load::LoadMeter;
use crate::store::read::ReadPool;
use crate::store::writer::{DocWrite, EventWrite, ImageWrite, Record, WriteOp, Writer};

/// Heartbeat interval the platform asks for, in cohort-clock seconds: this platform's choice,
/// brought within the policy's `heartbeat_interval_min_seconds`..`heartbeat_interval_max_seconds`
/// ([`Platform::heartbeat_interval`]).
pub const HEARTBEAT_INTERVAL_SECONDS: f64 = 10.0;

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

impl<T: Doc> Record for T {
    fn record_key(&self) -> (&'static str, &str) {
        (T::KIND, self.id())
    }

    fn encode(&self) -> Option<DocWrite> {
        match serde_json::to_string(self) {
            Ok(body) => Some(DocWrite {
                kind: T::KIND,
                id: self.id().to_owned(),
                cohort_id: self.cohort().to_owned(),
                owner: self.owner().to_owned(),
                at: self.at(),
                body,
            }),
            Err(e) => {
                tracing::error!(kind = T::KIND, error = %e, "cannot serialise a record");
                None
            }
        }
    }
}

/// A stored entity: its kind, id, cohort, owner and time for the `documents` table.
pub trait Doc: Serialize + DeserializeOwned + Clone + Send + 'static {
    const KIND: &'static str;
    fn id(&self) -> &str;
    fn cohort(&self) -> &str;
    fn owner(&self) -> &str {
        ""
    }
    fn at(&self) -> f64;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CohortRec {
    pub id: String,
    pub label: String,
    pub clock: CohortClock,
    pub created_at: f64,
    /// The platform's production cohort (made at first start, not through conformance).
    #[serde(default)]
    pub production: bool,
}
impl_doc!(CohortRec, "cohort", id, id, created_at);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrgRec {
    pub id: String,
    pub cohort_id: String,
    pub name: String,
    pub kind: OrganisationKind,
    pub created_at: f64,
}
impl_doc!(OrgRec, "organisation", id, cohort_id, created_at);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CourseRec {
    pub id: String,
    /// Empty: courses belong to the platform, not to a cohort.
    pub cohort_id: String,
    pub course: Course,
    pub created_at: f64,
}
impl_doc!(CourseRec, "course", id, cohort_id, created_at);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassRec {
    pub id: String,
    pub cohort_id: String,
    pub class: Class,
    pub created_at: f64,
}
impl_doc!(ClassRec, "class", id, cohort_id, created_at);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LearnerRec {
    pub id: String,
    pub cohort_id: String,
    pub organisation_id: String,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub password_salt: String,
    pub password_hash: String,
    /// The registered face template, hex.
    pub face_template: String,
    pub face_image_id: String,
    pub id_card_image_id: String,
    pub registered_at: f64,
    /// Cohort time of the learner's last request (for live status).
    #[serde(default)]
    pub last_seen_at: Option<f64>,
}
impl_doc!(
    LearnerRec,
    "learner",
    id,
    cohort_id,
    registered_at,
    owner = id
);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRec {
    pub id: String,
    pub learner_id: String,
    pub cohort_id: String,
    pub token_hash: String,
    pub created_at: f64,
    /// Why the session ended, if it did.
    pub revoked: Option<String>,
    /// The device the client named at login, if any.
    #[serde(default)]
    pub device_id: Option<String>,
}
impl_doc!(
    SessionRec,
    "session",
    id,
    cohort_id,
    created_at,
    owner = learner_id
);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SupervisorRec {
    pub id: String,
    pub cohort_id: String,
    pub kind: SupervisorKind,
    pub organisation_id: Option<String>,
    pub username: String,
    pub password_salt: String,
    pub password_hash: String,
    pub created_at: f64,
}
impl_doc!(SupervisorRec, "supervisor", id, cohort_id, created_at);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SupSessionRec {
    pub id: String,
    pub supervisor_id: String,
    pub cohort_id: String,
    pub token_hash: String,
    pub created_at: f64,
}
impl_doc!(
    SupSessionRec,
    "supervisor_session",
    id,
    cohort_id,
    created_at
);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrolmentRec {
    pub id: String,
    pub learner_id: String,
    pub cohort_id: String,
    pub class_id: String,
    pub course_id: String,
    pub subsidised: bool,
    pub enrolled_at: f64,
}
impl_doc!(
    EnrolmentRec,
    "enrolment",
    id,
    cohort_id,
    enrolled_at,
    owner = learner_id
);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AssessmentRec {
    pub id: String,
    pub enrolment_id: String,
    pub learner_id: String,
    pub cohort_id: String,
    pub result: AssessmentResult,
    pub assessed_at: f64,
}
impl_doc!(
    AssessmentRec,
    "assessment",
    id,
    cohort_id,
    assessed_at,
    owner = learner_id
);

/// One capture slot of a class hour: a random content position where a capture is requested.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaptureSlot {
    pub position: f64,
    pub state: CaptureState,
    pub event_id: Option<String>,
}

/// One class hour of a lesson for one enrolment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HourProg {
    pub index: u32,
    pub start: f64,
    pub end: f64,
    /// Credit earned in this class hour (counts only when not withheld).
    pub credit: f64,
    /// Content watched in this class hour, credited or not, never reset (for audits).
    pub watched: f64,
    /// The furthest position watched within this class hour (from `start` to `end`).
    pub reached: f64,
    pub withheld: bool,
    /// The failed or missed capture that withheld the class hour, shown until it is released.
    pub last_failure: Option<CaptureState>,
    pub captures: Vec<CaptureSlot>,
}

impl HourProg {
    pub fn effective_credit(&self) -> f64 {
        if self.withheld { 0.0 } else { self.credit }
    }

    /// The state shown for the class hour: the first slot not passed, else passed.
    pub fn capture_state(&self) -> CaptureState {
        if let Some(state) = self.last_failure.filter(|_| self.withheld) {
            return state;
        }
        if let Some(s) = self
            .captures
            .iter()
            .find(|s| matches!(s.state, CaptureState::Failed | CaptureState::Missed))
        {
            return s.state;
        }
        self.captures
            .iter()
            .map(|s| s.state)
            .find(|s| *s != CaptureState::Passed)
            .unwrap_or(CaptureState::Passed)
    }
}

/// A learner's progress in one lesson of one enrolment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LessonProg {
    pub id: String,
    pub enrolment_id: String,
    pub lesson_id: String,
    pub learner_id: String,
    pub cohort_id: String,
    pub lesson_seconds: f64,
    pub furthest: f64,
    /// Cohort time when `furthest` last moved (or the last playback started).
    pub furthest_moved_at: f64,
    pub hours: Vec<HourProg>,
    pub created_at: f64,
}
impl_doc!(
    LessonProg,
    "progress",
    id,
    cohort_id,
    created_at,
    owner = learner_id
);

impl LessonProg {
    pub fn credited(&self) -> f64 {
        self.hours.iter().map(HourProg::effective_credit).sum()
    }

    pub fn watched(&self) -> f64 {
        self.hours.iter().map(|h| h.watched).sum()
    }

    /// Content watched to the end, every class hour released (captures passed, none withheld).
    pub fn completed(&self, captures_required: bool) -> bool {
        self.furthest >= self.lesson_seconds - 1e-6
            && self.hours.iter().all(|h| {
                h.reached >= h.end - 1e-6
                    && !h.withheld
                    && (!captures_required
                        || h.captures.iter().all(|s| s.state == CaptureState::Passed))
            })
    }
}

/// Why a playback stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Learner,
    Superseded,
    PopupMissed,
    CaptureMissed,
    CaptureFailed,
    Silence,
    SessionEnded,
}

/// How a popup or capture request ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Resolution {
    pub passed: bool,
    pub at: f64,
    pub wall: f64,
}

/// A popup or capture request of a playback.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventRec {
    pub id: String,
    pub kind: EventKind,
    pub issued_at: f64,
    pub issued_wall: f64,
    pub deadline: f64,
    pub prompt: Option<String>,
    /// The expected popup answer.
    pub code: Option<String>,
    /// For captures: the class hour and slot.
    pub hour: Option<u32>,
    pub slot: Option<usize>,
    pub resolved: Option<Resolution>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlaybackRec {
    pub id: String,
    pub learner_id: String,
    pub session_id: String,
    pub cohort_id: String,
    pub enrolment_id: String,
    pub lesson_id: String,
    pub progress_id: String,
    pub lesson_seconds: f64,
    pub state: PlaybackState,
    pub stop_reason: Option<StopReason>,
    pub started_at: f64,
    pub start_position: f64,
    pub last_hb: f64,
    pub last_hb_wall: f64,
    /// Presence counts from here (start, last heartbeat, last event resolved).
    pub credit_from: f64,
    pub next_popup_at: f64,
    /// Popups issued so far in this playback.
    #[serde(default)]
    pub popups_issued: u32,
    /// The position of the last heartbeat accepted (the player's, not the furthest watched).
    #[serde(default)]
    pub last_position: f64,
    pub events: Vec<EventRec>,
    /// A capture failed under this playback and it went on (`capture-miss-continues`): the
    /// class hour's frontier was rewound, and the next heartbeat re-anchors the player there.
    #[serde(default)]
    pub rewound: bool,
}
impl_doc!(
    PlaybackRec,
    "playback",
    id,
    cohort_id,
    started_at,
    owner = learner_id
);

impl PlaybackRec {
    pub fn active(&self) -> bool {
        self.state != PlaybackState::Stopped
    }

    pub fn pending(&self) -> impl Iterator<Item = &EventRec> {
        self.events.iter().filter(|e| e.resolved.is_none())
    }
}

/// A liveness challenge (kept in memory only: it lives for two minutes of cohort time).
#[derive(Clone, Debug)]
pub struct ChallengeRec {
    pub id: String,
    pub learner_id: String,
    pub nonce: String,
    pub actions: Vec<LivenessAction>,
    pub expires_at: f64,
    pub used: bool,
    /// The session the challenge's login opened.
    pub session_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

/// Every entity, with its indexes.
#[derive(Default)]
pub struct World {
    pub cohorts: HashMap<String, CohortRec>,
    pub orgs: HashMap<String, OrgRec>,
    pub courses: HashMap<String, CourseRec>,
    pub classes: HashMap<String, ClassRec>,
    pub learners: HashMap<String, LearnerRec>,
    pub learner_by_id_number: HashMap<String, String>,
    pub sessions: HashMap<String, SessionRec>,
    pub session_by_token: HashMap<String, String>,
    /// The learner's live sessions.
    pub live_sessions: HashMap<String, Vec<String>>,
    pub supervisors: HashMap<String, SupervisorRec>,
    pub supervisor_by_username: HashMap<String, String>,
    pub sup_sessions: HashMap<String, SupSessionRec>,
    pub enrolments: HashMap<String, EnrolmentRec>,
    pub enrolments_by_learner: HashMap<String, Vec<String>>,
    pub enrolments_by_class: HashMap<String, Vec<String>>,
    pub assessments: HashMap<String, Vec<AssessmentRec>>,
    pub progress: HashMap<String, LessonProg>,
    pub playbacks: HashMap<String, PlaybackRec>,
    /// The learner's active playbacks.
    pub active_playbacks: HashMap<String, Vec<String>>,
    pub challenges: HashMap<String, ChallengeRec>,
}

/// The id of the progress document of an enrolment's lesson.
pub fn progress_id(enrolment_id: &str, lesson_id: &str) -> String {
    format!("{enrolment_id}/{lesson_id}")
}

impl World {
    pub fn cohort_now(&self, cohort_id: &str) -> f64 {
        self.cohorts
            .get(cohort_id)
            .map_or_else(clock::wall_now, |c| c.clock.now())
    }

    /// Learners of `cohort_id` with a live session: the cohort's load as the load defects
    /// see it (a peak is many learners studying at once, whatever the request rate).
    pub fn learners_online_in(&self, cohort_id: &str) -> usize {
        self.live_sessions
            .iter()
            .filter(|(id, sessions)| {
                !sessions.is_empty()
                    && self
                        .learners
                        .get(*id)
                        .is_some_and(|l| l.cohort_id == cohort_id)
            })
            .count()
    }

    fn index_session(&mut self, s: &SessionRec) {
        self.session_by_token
            .insert(s.token_hash.clone(), s.id.clone());
        if s.revoked.is_none() {
            let live = self.live_sessions.entry(s.learner_id.clone()).or_default();
            if !live.contains(&s.id) {
                live.push(s.id.clone());
            }
        }
    }

    fn index_enrolment(&mut self, e: &EnrolmentRec) {
        let v = self
            .enrolments_by_learner
            .entry(e.learner_id.clone())
            .or_default();
        if !v.contains(&e.id) {
            v.push(e.id.clone());
        }
        let v = self
            .enrolments_by_class
            .entry(e.class_id.clone())
            .or_default();
        if !v.contains(&e.id) {
            v.push(e.id.clone());
        }
    }

    fn index_playback(&mut self, p: &PlaybackRec) {
        if p.active() {
            let v = self
                .active_playbacks
                .entry(p.learner_id.clone())
                .or_default();
            if !v.contains(&p.id) {
                v.push(p.id.clone());
            }
        }
    }

    /// Loads every document from the database.
    pub fn load(conn: &rusqlite::Connection) -> Result<World, PlatformError> {
        fn all<T: Doc>(conn: &rusqlite::Connection) -> Result<Vec<T>, PlatformError> {
            let rows = crate::store::load_kind(conn, T::KIND)?;
            rows.into_iter()
                .map(|(id, body)| {
                    serde_json::from_str(&body).map_err(|e| PlatformError::CorruptRecord {
                        kind: T::KIND.into(),
                        id,
                        message: e.to_string(),
                    })
                })
                .collect()
        }
        let mut w = World::default();
        for c in all::<CohortRec>(conn)? {
            w.cohorts.insert(c.id.clone(), c);
        }
        for o in all::<OrgRec>(conn)? {
            w.orgs.insert(o.id.clone(), o);
        }
        for c in all::<CourseRec>(conn)? {
            w.courses.insert(c.id.clone(), c);
        }
        for c in all::<ClassRec>(conn)? {
            w.classes.insert(c.id.clone(), c);
        }
        for l in all::<LearnerRec>(conn)? {
            w.learner_by_id_number
                .insert(l.id_number.clone(), l.id.clone());
            w.learners.insert(l.id.clone(), l);
        }
        for s in all::<SessionRec>(conn)? {
            w.index_session(&s);
            w.sessions.insert(s.id.clone(), s);
        }
        for s in all::<SupervisorRec>(conn)? {
            w.supervisor_by_username
                .insert(s.username.clone(), s.id.clone());
            w.supervisors.insert(s.id.clone(), s);
        }
        for s in all::<SupSessionRec>(conn)? {
            w.sup_sessions.insert(s.token_hash.clone(), s);
        }
        for e in all::<EnrolmentRec>(conn)? {
            w.index_enrolment(&e);
            w.enrolments.insert(e.id.clone(), e);
        }
        for a in all::<AssessmentRec>(conn)? {
            w.assessments
                .entry(a.enrolment_id.clone())
                .or_default()
                .push(a);
        }
        for p in all::<LessonProg>(conn)? {
            w.progress.insert(p.id.clone(), p);
        }
        for p in all::<PlaybackRec>(conn)? {
            w.index_playback(&p);
            w.playbacks.insert(p.id.clone(), p);
        }
        Ok(w)
    }
}

// ---------------------------------------------------------------------------------------------
// The platform
// ---------------------------------------------------------------------------------------------

/// Everything a request handler needs: the configuration, the world and the storage.
pub struct Platform {
    pub policy: Policy,
    pub application: ApplicationForm,
    pub approved_occupations: Vec<String>,
    pub operator: String,
    pub conformance_token: Option<String>,
    pub defects: DefectSet,
    /// The strategy of each control with alternatives (the reference's, a variant's, or the
    /// one a defect forces).
    pub controls: Controls,
    pub world: Mutex<World>,
    /// The platform's own randomness (popup and capture times, nonces).
    pub rng: Mutex<ChaCha20Rng>,
    pub writer: Writer,
    pub reads: ReadPool,
    pub load: LoadMeter,
    /// Defect `stale-monitoring`: cached live views by supervisor, with their wall time.
    pub stale_views: Mutex<HashMap<String, (f64, duxue_profile::LearnerStatusList)>>,
    /// The production cohort's id, once it exists.
    pub production_cohort: std::sync::OnceLock<String>,
}

/// One trajectory event about to be written.
pub struct Traj<'a> {
    pub learner: &'a str,
    pub cohort: &'a str,
    pub at: f64,
    pub kind: &'static str,
    pub lesson: Option<&'a str>,
    pub position: Option<f64>,
    pub reference: Option<&'a str>,
    pub detail: Option<String>,
}

impl<'a> Traj<'a> {
    pub fn new(learner: &'a str, cohort: &'a str, at: f64, kind: &'static str) -> Self {
        Traj {
            learner,
            cohort,
            at,
            kind,
            lesson: None,
            position: None,
            reference: None,
            detail: None,
        }
    }

    pub fn lesson(mut self, lesson: &'a str) -> Self {
        self.lesson = Some(lesson);
        self
    }

    pub fn position(mut self, position: f64) -> Self {
        self.position = Some(position);
        self
    }

    pub fn reference(mut self, reference: &'a str) -> Self {
        self.reference = Some(reference);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl Platform {
    pub fn has(&self, defect: Defect) -> bool {
        self.defects.has(defect)
    }

    /// Whether a control is off for learners of `cohort_id`: its defect is switched on, or
    /// the defect `lax-outside-conformance` switches it off for the production cohort.
    pub fn has_in(&self, defect: Defect, cohort_id: &str) -> bool {
        self.has(defect)
            || (self.has(Defect::LaxOutsideConformance)
                && crate::defects::LAX_OUTSIDE_CONFORMANCE.contains(&defect)
                && self.is_production(cohort_id))
    }

    /// The controls learners of `cohort_id` meet: the platform's, with the non-conforming
    /// value of each control `lax-outside-conformance` switches off in the production cohort.
    pub fn controls_in(&self, cohort_id: &str) -> Controls {
        let mut c = self.controls;
        if self.has_in(Defect::MultiLogin, cohort_id) {
            c.second_login = crate::controls::SecondLogin::KeepBoth;
        }
        if self.has_in(Defect::MultiWindow, cohort_id) {
            c.second_window = crate::controls::SecondWindow::Allow;
        }
        if self.has_in(Defect::CaptureFailureIgnored, cohort_id) {
            c.failed_capture = crate::controls::FailedCapture::Ignore;
        }
        c
    }

    /// Whether `cohort_id` is the production cohort.
    pub fn is_production(&self, cohort_id: &str) -> bool {
        self.production_cohort.get().is_some_and(|c| c == cohort_id)
    }

    /// Persists a document (through the batching writer, which encodes it off the world lock).
    pub fn save<T: Doc>(&self, doc: &T) {
        self.writer.send(WriteOp::Record(Box::new(doc.clone())));
    }

    /// Appends a trajectory event.
    pub fn trace(&self, t: Traj<'_>) {
        self.writer.send(WriteOp::Event(EventWrite {
            learner_id: t.learner.to_owned(),
            cohort_id: t.cohort.to_owned(),
            at: t.at,
            wall: clock::wall_now(),
            kind: t.kind,
            lesson_id: t.lesson.map(str::to_owned),
            position: t.position,
            ref_id: t.reference.map(str::to_owned),
            detail: t.detail,
        }));
    }

    /// Stores an image; returns its id.
    pub fn store_image(&self, learner: &str, cohort: &str, at: f64, bytes: Vec<u8>) -> String {
        let id = crate::ids::new_id("img");
        let mime = crate::biometrics::image_mime(&bytes).unwrap_or("application/octet-stream");
        self.writer.send(WriteOp::Image(ImageWrite {
            id: id.clone(),
            learner_id: learner.to_owned(),
            cohort_id: cohort.to_owned(),
            at,
            mime,
            bytes,
        }));
        id
    }

    /// Waits until every write sent so far is committed (read-your-writes for DB reads).
    pub async fn flush(&self) -> Result<(), Refusal> {
        self.writer
            .flush()
            .await
            .map_err(|e| Refusal::internal(e.to_string()))
    }

    pub fn class_hour_seconds(&self) -> f64 {
        self.policy.class_hour_seconds()
    }
}
