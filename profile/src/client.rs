//! A typed async client for every operation of profile v1. It separates the three ways a call
//! can go wrong (the network, a refusal in the profile's error shape, an answer that does not
//! match the schema) and lets an [`Observer`] see every exchange, so a harness can keep evidence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::operations::{Method, Operation, Security, operation};
use crate::types::*;

/// Why a call did not produce the expected success body.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No HTTP answer: connection refused, reset, timed out, TLS failure.
    #[error("{operation}: transport failure: {message}")]
    Transport {
        operation: &'static str,
        message: String,
        timed_out: bool,
    },
    /// The platform answered with the profile's error shape.
    #[error("{operation}: refused with HTTP {status} `{}`: {}", .error.code, .error.message)]
    Refused {
        operation: &'static str,
        status: u16,
        error: ErrorBody,
    },
    /// The platform answered, but not with what the profile promises; the raw body is kept.
    #[error("{operation}: malformed answer (HTTP {status}): {reason}")]
    Malformed {
        operation: &'static str,
        status: u16,
        reason: String,
        body: String,
    },
    /// The caller asked for something the client cannot send (for example no conformance token).
    #[error("{operation}: {reason}")]
    Usage {
        operation: &'static str,
        reason: String,
    },
}

impl ClientError {
    /// The profile error code when the platform refused, else `None`.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            ClientError::Refused { error, .. } => Some(&error.code),
            _ => None,
        }
    }

    /// The HTTP status when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } | ClientError::Malformed { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// True when the platform refused with exactly this code.
    pub fn is(&self, code: &ErrorCode) -> bool {
        self.code() == Some(code)
    }

    /// True for a refusal (as opposed to a transport failure or a malformed answer).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Refused { .. })
    }
}

/// One request and its answer, as seen on the wire.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub operation: &'static str,
    pub method: &'static str,
    /// Path below the base URL, parameters filled in.
    pub path: &'a str,
    pub request_body: Option<&'a [u8]>,
    /// `None` when there was no HTTP answer.
    pub status: Option<u16>,
    pub response_body: &'a [u8],
    pub started_at: DateTime<Utc>,
    /// The caller's own estimate of the platform clock (a cohort clock) when it was sent.
    pub virtual_at: Option<DateTime<Utc>>,
    pub elapsed: Duration,
    pub transport_error: Option<&'a str>,
}

/// The caller's model of the platform clock its requests run on (for evidence).
pub type VirtualClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Sees every exchange the client makes (a harness's evidence journal).
pub trait Observer: Send + Sync {
    fn exchange(&self, exchange: &Exchange<'_>);
}

/// The credential a call is made with.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    /// Whatever the operation's security requires, from the client's own settings.
    Default,
    /// No credential at all, whatever the operation requires.
    Anonymous,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `X-Conformance-Token: <token>`.
    ConformanceToken(&'a str),
}

/// What an answer looked like before any interpretation.
#[derive(Clone, Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The User-Agent a client sends unless told otherwise: a common desktop browser's, so that
/// nothing in the traffic names the tool (a platform must not be able to single out a test).
pub const BROWSER_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

/// Settings of a [`ProfileClient`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The platform's base URL, without the `/profile/v1` suffix.
    pub base_url: String,
    pub conformance_token: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The `User-Agent` header of every request.
    pub user_agent: String,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            conformance_token: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            user_agent: BROWSER_USER_AGENT.to_owned(),
        }
    }
}

/// A profile v1 client. Cheap to clone; clones share the connection pool and observer.
#[derive(Clone)]
pub struct ProfileClient {
    http: reqwest::Client,
    base: Arc<str>,
    conformance_token: Option<Arc<str>>,
    observer: Option<Arc<dyn Observer>>,
    virtual_clock: Option<VirtualClock>,
}

impl std::fmt::Debug for ProfileClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileClient")
            .field("base", &self.base)
            .field(
                "conformance_token",
                &self.conformance_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The client could not be built from its settings.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(String);

impl ProfileClient {
    pub fn new(config: ClientConfig) -> Result<Self, BuildError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Self::with_http(http, config))
    }

    /// Uses an existing `reqwest::Client` (shared pools, custom TLS).
    pub fn with_http(http: reqwest::Client, config: ClientConfig) -> Self {
        let base = format!("{}{}", config.base_url.trim_end_matches('/'), BASE_PATH);
        ProfileClient {
            http,
            base: base.into(),
            conformance_token: config.conformance_token.map(Into::into),
            observer: None,
            virtual_clock: None,
        }
    }

    /// A clone that reports every exchange to `observer`.
    pub fn observed(&self, observer: Arc<dyn Observer>) -> Self {
        ProfileClient {
            observer: Some(observer),
            ..self.clone()
        }
    }

    /// A clone whose exchanges carry `clock()` as their virtual send time.
    pub fn with_virtual_clock(&self, clock: VirtualClock) -> Self {
        ProfileClient {
            virtual_clock: Some(clock),
            ..self.clone()
        }
    }

    /// The base URL including `/profile/v1`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one operation with any body and credential and returns the raw answer; used by
    /// probes that must send what a well-behaved client never would.
    pub async fn send_raw(
        &self,
        op: &'static Operation,
        args: &[&str],
        auth: Auth<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<RawAnswer, ClientError> {
        let path = op.fill(args);
        self.send_path(op.id, op.method, &path, auth_for(op, auth), body)
            .await
    }

    /// Sends a request to any path below the base URL with any method; for probes of what the
    /// profile does not define (for example a write to a read-only resource).
    pub async fn send_path(
        &self,
        operation_id: &'static str,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<RawAnswer, ClientError> {
        self.send_method(operation_id, method.as_str(), path, auth, body)
            .await
    }

    /// Like [`ProfileClient::send_path`] with any HTTP method name (`PUT`, `DELETE`, `PATCH`…).
    pub async fn send_method(
        &self,
        operation_id: &'static str,
        method: &'static str,
        path: &str,
        auth: Auth<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<RawAnswer, ClientError> {
        let url = format!("{}{}", self.base, path);
        let http_method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|e| ClientError::Usage {
                operation: operation_id,
                reason: format!("bad HTTP method {method}: {e}"),
            })?;
        let mut request = self.http.request(http_method, &url);
        match auth {
            Auth::Bearer(token) => request = request.bearer_auth(token),
            Auth::ConformanceToken(token) => request = request.header(CONFORMANCE_HEADER, token),
            Auth::Default => {
                if let Some(token) = &self.conformance_token {
                    request = request.header(CONFORMANCE_HEADER, token.as_ref());
                }
            }
            Auth::Anonymous => {}
        }
        if let Some(body) = &body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started_at = Utc::now();
        let virtual_at = self.virtual_clock.as_ref().map(|clock| clock());
        let started = Instant::now();
        let outcome = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>(RawAnswer {
                status,
                content_type,
                body: bytes.to_vec(),
            })
        }
        .await;
        let elapsed = started.elapsed();
        let transport_error = outcome.as_ref().err().map(describe_transport_error);
        if let Some(observer) = &self.observer {
            observer.exchange(&Exchange {
                operation: operation_id,
                method,
                path,
                request_body: body.as_deref(),
                status: outcome.as_ref().ok().map(|a| a.status),
                response_body: outcome.as_ref().map(|a| a.body.as_slice()).unwrap_or(&[]),
                started_at,
                virtual_at,
                elapsed,
                transport_error: transport_error.as_deref(),
            });
        }
        outcome.map_err(|e| ClientError::Transport {
            operation: operation_id,
            timed_out: e.is_timeout(),
            message: transport_error.unwrap_or_default(),
        })
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        id: &'static str,
        args: &[&str],
        auth: Auth<'_>,
        body: Option<&Req>,
    ) -> Result<Resp, ClientError> {
        let answer = self.exchange(id, args, auth, body).await?;
        serde_json::from_slice(&answer.body).map_err(|e| ClientError::Malformed {
            operation: id,
            status: answer.status,
            reason: format!("body does not match the schema: {e}"),
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        })
    }

    /// Sends a typed operation and checks the status; returns the raw success answer.
    async fn exchange<Req: Serialize>(
        &self,
        id: &'static str,
        args: &[&str],
        auth: Auth<'_>,
        body: Option<&Req>,
    ) -> Result<RawAnswer, ClientError> {
        let op = operation(id).ok_or_else(|| ClientError::Usage {
            operation: id,
            reason: "not an operation of profile v1".into(),
        })?;
        if op.security == Security::Conformance
            && matches!(auth, Auth::Default)
            && self.conformance_token.is_none()
        {
            return Err(ClientError::Usage {
                operation: id,
                reason: "this operation needs a conformance token and none was configured".into(),
            });
        }
        let body = match body {
            Some(body) => Some(serde_json::to_vec(body).map_err(|e| ClientError::Usage {
                operation: id,
                reason: format!("cannot encode the request: {e}"),
            })?),
            None => None,
        };
        let answer = self.send_raw(op, args, auth, body).await?;
        if answer.status == op.status {
            return Ok(answer);
        }
        Err(interpret_failure(id, answer))
    }

    // --- metadata ---------------------------------------------------------------------------

    pub async fn get_meta(&self) -> Result<PlatformMeta, ClientError> {
        self.call::<(), _>("getMeta", &[], Auth::Anonymous, None)
            .await
    }

    pub async fn list_courses(&self) -> Result<CourseList, ClientError> {
        self.call::<(), _>("listCourses", &[], Auth::Anonymous, None)
            .await
    }

    // --- conformance control ------------------------------------------------------------------

    pub async fn create_cohort(&self, request: &CohortRequest) -> Result<Cohort, ClientError> {
        self.call("createCohort", &[], Auth::Default, Some(request))
            .await
    }

    pub async fn read_clock(&self, cohort_id: &str) -> Result<ClockReading, ClientError> {
        self.call::<(), _>("readClock", &[cohort_id], Auth::Default, None)
            .await
    }

    pub async fn advance_clock(
        &self,
        cohort_id: &str,
        seconds: f64,
    ) -> Result<ClockReading, ClientError> {
        self.call(
            "advanceClock",
            &[cohort_id],
            Auth::Default,
            Some(&ClockAdvance { seconds }),
        )
        .await
    }

    pub async fn create_organisation(
        &self,
        request: &OrganisationRequest,
    ) -> Result<Organisation, ClientError> {
        self.call("createOrganisation", &[], Auth::Default, Some(request))
            .await
    }

    pub async fn propose_course(&self, request: &CourseProposal) -> Result<Course, ClientError> {
        self.call("proposeCourse", &[], Auth::Default, Some(request))
            .await
    }

    pub async fn create_class(&self, request: &ClassRequest) -> Result<Class, ClientError> {
        self.call("createClass", &[], Auth::Default, Some(request))
            .await
    }

    pub async fn record_assessment(
        &self,
        request: &AssessmentRequest,
    ) -> Result<Assessment, ClientError> {
        self.call("recordAssessment", &[], Auth::Default, Some(request))
            .await
    }

    pub async fn create_supervisor(
        &self,
        request: &SupervisorRequest,
    ) -> Result<SupervisorCredentials, ClientError> {
        self.call("createSupervisor", &[], Auth::Default, Some(request))
            .await
    }

    // --- learners -----------------------------------------------------------------------------

    pub async fn register_learner(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Learner, ClientError> {
        self.call("registerLearner", &[], Auth::Anonymous, Some(request))
            .await
    }

    pub async fn request_challenge(
        &self,
        id_number: &str,
    ) -> Result<LivenessChallenge, ClientError> {
        let body = ChallengeRequest {
            id_number: id_number.to_owned(),
        };
        self.call("requestChallenge", &[], Auth::Anonymous, Some(&body))
            .await
    }

    pub async fn login(&self, request: &LoginRequest) -> Result<LearnerSession, ClientError> {
        self.call("login", &[], Auth::Anonymous, Some(request))
            .await
    }

    pub async fn logout(&self, token: &str) -> Result<(), ClientError> {
        self.exchange::<()>("logout", &[], Auth::Bearer(token), None)
            .await
            .map(drop)
    }

    pub async fn get_me(&self, token: &str) -> Result<Learner, ClientError> {
        self.call::<(), _>("getMe", &[], Auth::Bearer(token), None)
            .await
    }

    pub async fn enrol(&self, token: &str, class_id: &str) -> Result<Enrolment, ClientError> {
        let body = EnrolmentRequest {
            class_id: class_id.to_owned(),
        };
        self.call("enrol", &[], Auth::Bearer(token), Some(&body))
            .await
    }

    pub async fn list_enrolments(&self, token: &str) -> Result<EnrolmentList, ClientError> {
        self.call::<(), _>("listEnrolments", &[], Auth::Bearer(token), None)
            .await
    }

    pub async fn get_progress(
        &self,
        token: &str,
        enrolment_id: &str,
    ) -> Result<Progress, ClientError> {
        self.call::<(), _>("getProgress", &[enrolment_id], Auth::Bearer(token), None)
            .await
    }

    // --- study --------------------------------------------------------------------------------

    pub async fn start_playback(
        &self,
        token: &str,
        request: &PlaybackRequest,
    ) -> Result<Playback, ClientError> {
        self.call("startPlayback", &[], Auth::Bearer(token), Some(request))
            .await
    }

    pub async fn heartbeat(
        &self,
        token: &str,
        playback_id: &str,
        request: &HeartbeatRequest,
    ) -> Result<HeartbeatAck, ClientError> {
        self.call(
            "heartbeat",
            &[playback_id],
            Auth::Bearer(token),
            Some(request),
        )
        .await
    }

    pub async fn answer_popup(
        &self,
        token: &str,
        playback_id: &str,
        event_id: &str,
        answer: &str,
    ) -> Result<EventOutcome, ClientError> {
        let body = PopupAnswer {
            answer: answer.to_owned(),
        };
        self.call(
            "answerPopup",
            &[playback_id, event_id],
            Auth::Bearer(token),
            Some(&body),
        )
        .await
    }

    pub async fn upload_capture(
        &self,
        token: &str,
        playback_id: &str,
        event_id: &str,
        image_base64: String,
    ) -> Result<EventOutcome, ClientError> {
        let body = CaptureUpload {
            image: image_base64,
        };
        self.call(
            "uploadCapture",
            &[playback_id, event_id],
            Auth::Bearer(token),
            Some(&body),
        )
        .await
    }

    pub async fn stop_playback(
        &self,
        token: &str,
        playback_id: &str,
    ) -> Result<Playback, ClientError> {
        self.call::<(), _>("stopPlayback", &[playback_id], Auth::Bearer(token), None)
            .await
    }

    // --- supervision --------------------------------------------------------------------------

    pub async fn supervisor_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<SupervisorSession, ClientError> {
        let body = SupervisorLogin {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        self.call("supervisorLogin", &[], Auth::Anonymous, Some(&body))
            .await
    }

    pub async fn list_learners(&self, token: &str) -> Result<LearnerStatusList, ClientError> {
        self.call::<(), _>("listLearners", &[], Auth::Bearer(token), None)
            .await
    }

    pub async fn get_learner(
        &self,
        token: &str,
        learner_id: &str,
    ) -> Result<LearnerRecord, ClientError> {
        self.call::<(), _>("getLearner", &[learner_id], Auth::Bearer(token), None)
            .await
    }

    pub async fn get_trajectory(
        &self,
        token: &str,
        learner_id: &str,
    ) -> Result<Trajectory, ClientError> {
        self.call::<(), _>("getTrajectory", &[learner_id], Auth::Bearer(token), None)
            .await
    }

    pub async fn list_captures(
        &self,
        token: &str,
        learner_id: &str,
    ) -> Result<CaptureList, ClientError> {
        self.call::<(), _>("listCaptures", &[learner_id], Auth::Bearer(token), None)
            .await
    }

    pub async fn list_liveness(
        &self,
        token: &str,
        learner_id: &str,
    ) -> Result<LivenessList, ClientError> {
        self.call::<(), _>("listLiveness", &[learner_id], Auth::Bearer(token), None)
            .await
    }

    /// The stored bytes of an image (JPEG or PNG).
    pub async fn get_image(&self, token: &str, image_id: &str) -> Result<ImageBytes, ClientError> {
        let answer = self
            .exchange::<()>("getImage", &[image_id], Auth::Bearer(token), None)
            .await?;
        match answer.content_type.as_deref() {
            Some(ct) if ct.starts_with("image/") => Ok(answer.body),
            other => Err(ClientError::Malformed {
                operation: "getImage",
                status: answer.status,
                reason: format!("expected an image content type, got {other:?}"),
                body: String::new(),
            }),
        }
    }

    pub async fn self_check(&self, token: &str) -> Result<SelfCheckReport, ClientError> {
        self.call::<(), _>("selfCheck", &[], Auth::Bearer(token), None)
            .await
    }

    pub async fn list_classes(&self, token: &str) -> Result<ClassList, ClientError> {
        self.call::<(), _>("listClasses", &[], Auth::Bearer(token), None)
            .await
    }

    pub async fn export_completion(
        &self,
        token: &str,
        class_id: &str,
    ) -> Result<CompletionExport, ClientError> {
        self.call::<(), _>("exportCompletion", &[class_id], Auth::Bearer(token), None)
            .await
    }
}

fn auth_for<'a>(op: &Operation, auth: Auth<'a>) -> Auth<'a> {
    match (auth, op.security) {
        (Auth::Default, Security::Public) => Auth::Anonymous,
        (other, _) => other,
    }
}

fn describe_transport_error(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

fn interpret_failure(id: &'static str, answer: RawAnswer) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(error) if answer.status >= 400 => ClientError::Refused {
            operation: id,
            status: answer.status,
            error,
        },
        Ok(_) => ClientError::Malformed {
            operation: id,
            status: answer.status,
            reason: "an error body with a success status".into(),
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        },
        Err(e) => ClientError::Malformed {
            operation: id,
            status: answer.status,
            reason: format!("unexpected status and no profile error body: {e}"),
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        },
    }
}
