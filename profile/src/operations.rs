//! The operations of profile v1 as data: id, method, path and security of each, in the order of
//! `openapi.yaml`. The client, the document-agreement test and the security probes (SC-2, SC-4)
//! all read this one table.

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Security {
    /// No credential (metadata, registration, login).
    Public,
    /// `Authorization: Bearer` with a learner session token.
    Learner,
    /// `Authorization: Bearer` with a supervisor session token.
    Supervisor,
    /// The `X-Conformance-Token` header.
    Conformance,
}

impl Security {
    /// The name of the security scheme in `openapi.yaml`, if any.
    pub fn scheme(self) -> Option<&'static str> {
        match self {
            Security::Public => None,
            Security::Learner => Some("learnerToken"),
            Security::Supervisor => Some("supervisorToken"),
            Security::Conformance => Some("conformanceToken"),
        }
    }
}

/// HTTP methods used by the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
        }
    }
}

/// One operation of the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operation {
    /// The `operationId` in `openapi.yaml`.
    pub id: &'static str,
    pub method: Method,
    /// Path below [`crate::BASE_PATH`], with `{name}` parameters.
    pub path: &'static str,
    pub security: Security,
    /// Schema name of the JSON request body, if any.
    pub request: Option<&'static str>,
    /// Schema name of the success body; `None` for 204, `Some("binary")` for image bytes.
    pub response: Option<&'static str>,
    /// The success status code.
    pub status: u16,
}

macro_rules! op {
    ($id:literal, $method:ident, $path:literal, $sec:ident, $req:expr, $resp:expr, $status:literal) => {
        Operation {
            id: $id,
            method: Method::$method,
            path: $path,
            security: Security::$sec,
            request: $req,
            response: $resp,
            status: $status,
        }
    };
}

/// Every operation of profile v1.
pub const OPERATIONS: &[Operation] = &[
    // metadata
    op!(
        "getMeta",
        Get,
        "/meta",
        Public,
        None,
        Some("PlatformMeta"),
        200
    ),
    op!(
        "listCourses",
        Get,
        "/courses",
        Public,
        None,
        Some("CourseList"),
        200
    ),
    // conformance control
    op!(
        "createCohort",
        Post,
        "/conformance/cohorts",
        Conformance,
        Some("CohortRequest"),
        Some("Cohort"),
        201
    ),
    op!(
        "readClock",
        Get,
        "/conformance/cohorts/{cohort_id}/clock",
        Conformance,
        None,
        Some("ClockReading"),
        200
    ),
    op!(
        "advanceClock",
        Post,
        "/conformance/cohorts/{cohort_id}/clock/advance",
        Conformance,
        Some("ClockAdvance"),
        Some("ClockReading"),
        200
    ),
    op!(
        "createOrganisation",
        Post,
        "/conformance/organisations",
        Conformance,
        Some("OrganisationRequest"),
        Some("Organisation"),
        201
    ),
    op!(
        "proposeCourse",
        Post,
        "/conformance/courses",
        Conformance,
        Some("CourseProposal"),
        Some("Course"),
        201
    ),
    op!(
        "createClass",
        Post,
        "/conformance/classes",
        Conformance,
        Some("ClassRequest"),
        Some("Class"),
        201
    ),
    op!(
        "recordAssessment",
        Post,
        "/conformance/assessments",
        Conformance,
        Some("AssessmentRequest"),
        Some("Assessment"),
        201
    ),
    op!(
        "createSupervisor",
        Post,
        "/conformance/supervisors",
        Conformance,
        Some("SupervisorRequest"),
        Some("SupervisorCredentials"),
        201
    ),
    // learners
    op!(
        "registerLearner",
        Post,
        "/learners",
        Public,
        Some("RegistrationRequest"),
        Some("Learner"),
        201
    ),
    op!(
        "requestChallenge",
        Post,
        "/auth/challenges",
        Public,
        Some("ChallengeRequest"),
        Some("LivenessChallenge"),
        201
    ),
    op!(
        "login",
        Post,
        "/auth/login",
        Public,
        Some("LoginRequest"),
        Some("LearnerSession"),
        200
    ),
    op!("logout", Post, "/auth/logout", Learner, None, None, 204),
    op!("getMe", Get, "/me", Learner, None, Some("Learner"), 200),
    op!(
        "enrol",
        Post,
        "/enrolments",
        Learner,
        Some("EnrolmentRequest"),
        Some("Enrolment"),
        201
    ),
    op!(
        "listEnrolments",
        Get,
        "/enrolments",
        Learner,
        None,
        Some("EnrolmentList"),
        200
    ),
    op!(
        "getProgress",
        Get,
        "/enrolments/{enrolment_id}/progress",
        Learner,
        None,
        Some("Progress"),
        200
    ),
    // study
    op!(
        "startPlayback",
        Post,
        "/playbacks",
        Learner,
        Some("PlaybackRequest"),
        Some("Playback"),
        201
    ),
    op!(
        "heartbeat",
        Post,
        "/playbacks/{playback_id}/heartbeats",
        Learner,
        Some("HeartbeatRequest"),
        Some("HeartbeatAck"),
        200
    ),
    op!(
        "answerPopup",
        Post,
        "/playbacks/{playback_id}/popups/{event_id}",
        Learner,
        Some("PopupAnswer"),
        Some("EventOutcome"),
        200
    ),
    op!(
        "uploadCapture",
        Post,
        "/playbacks/{playback_id}/captures/{event_id}",
        Learner,
        Some("CaptureUpload"),
        Some("EventOutcome"),
        200
    ),
    op!(
        "stopPlayback",
        Post,
        "/playbacks/{playback_id}/stop",
        Learner,
        None,
        Some("Playback"),
        200
    ),
    // supervision
    op!(
        "supervisorLogin",
        Post,
        "/supervision/login",
        Public,
        Some("SupervisorLogin"),
        Some("SupervisorSession"),
        200
    ),
    op!(
        "listLearners",
        Get,
        "/supervision/learners",
        Supervisor,
        None,
        Some("LearnerStatusList"),
        200
    ),
    op!(
        "getLearner",
        Get,
        "/supervision/learners/{learner_id}",
        Supervisor,
        None,
        Some("LearnerRecord"),
        200
    ),
    op!(
        "getTrajectory",
        Get,
        "/supervision/learners/{learner_id}/trajectory",
        Supervisor,
        None,
        Some("Trajectory"),
        200
    ),
    op!(
        "listCaptures",
        Get,
        "/supervision/learners/{learner_id}/captures",
        Supervisor,
        None,
        Some("CaptureList"),
        200
    ),
    op!(
        "listLiveness",
        Get,
        "/supervision/learners/{learner_id}/liveness",
        Supervisor,
        None,
        Some("LivenessList"),
        200
    ),
    op!(
        "getImage",
        Get,
        "/supervision/images/{image_id}",
        Supervisor,
        None,
        Some("binary"),
        200
    ),
    op!(
        "selfCheck",
        Get,
        "/supervision/self-check",
        Supervisor,
        None,
        Some("SelfCheckReport"),
        200
    ),
    op!(
        "listClasses",
        Get,
        "/supervision/classes",
        Supervisor,
        None,
        Some("ClassList"),
        200
    ),
    op!(
        "exportCompletion",
        Get,
        "/supervision/classes/{class_id}/completion",
        Supervisor,
        None,
        Some("CompletionExport"),
        200
    ),
];

/// Looks an operation up by its `operationId`.
pub fn operation(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

impl Operation {
    /// The path with its `{name}` parameters replaced, in order, by `args`.
    pub fn fill(&self, args: &[&str]) -> String {
        let mut out = String::with_capacity(self.path.len() + 32);
        let mut rest = self.path;
        let mut args = args.iter();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            out.push_str(&percent_encode_segment(args.next().copied().unwrap_or("")));
            rest = &rest[close..];
        }
        out.push_str(rest);
        out
    }

    /// Names of the path parameters, in order.
    pub fn parameters(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            let Some(len) = rest[open..].find('}') else {
                break;
            };
            names.push(&rest[open + 1..open + len]);
            rest = &rest[open + len + 1..];
        }
        names
    }
}

/// Ids come from the platform; never let one change the shape of a path.
fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_paths_fill() {
        let mut ids: Vec<_> = OPERATIONS.iter().map(|op| op.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), OPERATIONS.len());
        let op = operation("answerPopup").expect("answerPopup exists");
        assert_eq!(op.parameters(), ["playback_id", "event_id"]);
        assert_eq!(op.fill(&["p 1", "e/2"]), "/playbacks/p%201/popups/e%2F2");
    }
}
