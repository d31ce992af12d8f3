//! A typed async client for every operation of profile v1. It separates the ways a call can go
//! wrong (the network, a refusal in the profile's error shape, a failure that decided nothing,
//! an answer that does not match the schema) and lets an [`Observer`] see every exchange, so a
//! harness can keep evidence.
//!
//! A refusal is recognised by its status and its code together: a 4xx answer (other than 408
//! and 429) carrying a code profile v1 defines. A 5xx, 408 or 429 decided nothing, whatever its
//! body says; so does any answer the client could not read (cut off, over the body cap, not
//! JSON, the wrong content type, a redirect: the client follows none).

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
    #[error("{operation}: transport failure: {}", one_line(.message))]
    Transport {
        operation: &'static str,
        message: String,
        timed_out: bool,
    },
    /// The platform refused: a 4xx answer (not 408 or 429) with a code profile v1 defines.
    #[error("{operation}: refused with HTTP {status} `{}`: {}", platform_text(.error.code.as_str()), platform_text(&.error.message))]
    Refused {
        operation: &'static str,
        status: u16,
        error: ErrorBody,
    },
    /// The platform answered but decided nothing: a server error (5xx), a request timeout
    /// (408) or too many requests (429), whatever its body says.
    #[error("{operation}: the platform failed to answer (HTTP {status}{}){}", retry_after_note(.retry_after), body_note(.body))]
    Failed {
        operation: &'static str,
        status: u16,
        /// The `Retry-After` header, verbatim, when the platform sent one.
        retry_after: Option<String>,
        /// The body as text, cut to [`BODY_EXCERPT`] characters.
        body: String,
    },
    /// The platform answered, but not with what the profile promises; the raw body is kept.
    #[error("{operation}: malformed answer (HTTP {status}): {}", one_line(.reason))]
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
            ClientError::Refused { status, .. }
            | ClientError::Failed { status, .. }
            | ClientError::Malformed { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the platform refused with exactly this code.
    pub fn is(&self, code: &ErrorCode) -> bool {
        self.code() == Some(code)
    }

    /// True when the platform refused with this HTTP status and one of these codes.
    pub fn is_with(&self, status: u16, codes: &[ErrorCode]) -> bool {
        self.status() == Some(status) && self.code().is_some_and(|c| codes.contains(c))
    }

    /// True for a refusal: a 4xx answer with a profile code (as opposed to a transport failure,
    /// a failure that decided nothing, or an answer that could not be read).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Refused { .. })
    }

    /// True when the client could not read an answer to this call at all (no answer, a
    /// failure that decided nothing, or an answer it could not read); false for a refusal and
    /// for a call the client never sent.
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            ClientError::Transport { .. }
                | ClientError::Failed { .. }
                | ClientError::Malformed { .. }
        )
    }
}

/// How many characters of an unreadable body an error keeps.
pub const BODY_EXCERPT: usize = 200;

fn retry_after_note(retry_after: &Option<String>) -> String {
    retry_after
        .as_deref()
        .map(|r| format!(", Retry-After {}", platform_text(r)))
        .unwrap_or_default()
}

/// Text made fit for one line of a message: control characters become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text a platform sent, fit for one line and cut to [`BODY_EXCERPT`] characters.
fn platform_text(text: &str) -> String {
    let mut line = one_line(&text.chars().take(BODY_EXCERPT).collect::<String>());
    if text.chars().nth(BODY_EXCERPT).is_some() {
        line.push('…');
    }
    line
}

fn body_note(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", platform_text(body))
    }
}

/// The first [`BODY_EXCERPT`] characters of a body, as text.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT * 4)]);
    let mut cut: String = text.chars().take(BODY_EXCERPT).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
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
    /// Why there is no (whole) answer: the connection failed, or the body was cut off or over
    /// the cap (then `status` may be set and `response_body` is empty).
    pub transport_error: Option<&'a str>,
    /// The answer's `Content-Type`, when there was an answer.
    pub content_type: Option<&'a str>,
}

/// The caller's model of the platform clock its requests run on (for evidence).
pub type VirtualClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Sees every exchange the client makes (a harness's evidence journal).
pub trait Observer: Send + Sync {
    fn exchange(&self, exchange: &Exchange<'_>);

    /// A call of a typed operation ended without an answer the client could read (see
    /// [`ClientError::is_unreadable`]); called after [`Observer::exchange`] for the same call.
    fn unreadable(&self, _error: &ClientError) {}
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
    /// The `Retry-After` header, verbatim.
    pub retry_after: Option<String>,
    /// The address the answer came from (after name resolution), when the connection knows it.
    pub remote_addr: Option<std::net::SocketAddr>,
    pub body: Vec<u8>,
}

/// The User-Agent a client sends unless told otherwise: a common desktop browser's, so that
/// nothing in the traffic names the tool (a platform must not be able to single out a test).
pub const BROWSER_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

impl RawAnswer {
    /// The error this answer means for operation `id` when it is not the operation's success:
    /// a refusal (4xx with a profile code), a failure that decided nothing (5xx, 408, 429), or
    /// a malformed answer.
    pub fn failure(self, id: &'static str) -> ClientError {
        interpret_failure(id, self)
    }
}

/// The largest response body the client reads by default: 16 MiB. The largest answer profile
/// v1 defines is a stored image (uploads are at most a few MiB) or a supervisor's list of a
/// whole cohort; an answer over the cap is an error naming it, and is not read past the cap.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Settings of a [`ProfileClient`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The platform's base URL, without the `/profile/v1` suffix.
    pub base_url: String,
    pub conformance_token: Option<String>,
    /// The longest one request may take, connecting and reading the whole answer included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The `User-Agent` header of every request.
    pub user_agent: String,
    /// Answers with a longer body are refused at this many bytes (see [`MAX_RESPONSE_BYTES`]).
    pub max_response_bytes: usize,
    /// Certificate authorities trusted besides the system's roots (a test CA).
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            conformance_token: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            user_agent: BROWSER_USER_AGENT.to_owned(),
            max_response_bytes: MAX_RESPONSE_BYTES,
            extra_roots: Vec::new(),
        }
    }

    /// The same transport settings for another base URL.
    pub fn for_url(&self, base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            conformance_token: None,
            ..self.clone()
        }
    }

    /// A `reqwest` builder with these settings: timeouts, the User-Agent, the system's roots plus
    /// `extra_roots`, no redirects followed (a profile answer is never a redirect, and a
    /// redirect would carry the conformance token to wherever it points).
    pub fn http_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.user_agent.clone())
            .tls_certs_merge(self.extra_roots.iter().cloned())
    }
}

/// Reads the certificate authorities of a PEM file (one or more `BEGIN CERTIFICATE` blocks).
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, BuildError> {
    let pem = std::fs::read(path)
        .map_err(|e| BuildError(format!("{}: cannot read: {e}", path.display())))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| BuildError(format!("{}: not a PEM certificate: {e}", path.display())))?;
    if certificates.is_empty() {
        return Err(BuildError(format!(
            "{}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certificates)
}

/// The host part of an http(s) URL as a browser parses it: user information dropped, IPv6
/// without brackets, IPv4 in any of its spellings (`127.1`, `0x7f.0.0.1`) made an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlHost {
    Ip(std::net::IpAddr),
    Name(String),
}

/// The host of `url`, or `None` when it is not an http(s) URL with a host.
pub fn url_host(url: &str) -> Option<UrlHost> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    // The parser writes an IPv4 host in dotted form and an IPv6 host in brackets.
    let host = parsed.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => UrlHost::Ip(ip),
        Err(_) => UrlHost::Name(bare.to_ascii_lowercase()),
    })
}

/// A profile v1 client. Cheap to clone; clones share the connection pool and observer.
#[derive(Clone)]
pub struct ProfileClient {
    http: reqwest::Client,
    base: Arc<str>,
    conformance_token: Option<Arc<str>>,
    observer: Option<Arc<dyn Observer>>,
    virtual_clock: Option<VirtualClock>,
    config: Arc<ClientConfig>,
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
        let http = config
            .http_builder()
            .build()
            .map_err(|e| BuildError(describe_error_chain(&e)))?;
        Ok(Self::with_http(http, config))
    }

    /// Uses an existing `reqwest::Client` (shared pools); build it from
    /// [`ClientConfig::http_builder`] so that it keeps the same transport settings.
    pub fn with_http(http: reqwest::Client, config: ClientConfig) -> Self {
        let base = format!("{}{}", crate::types::base_url(&config.base_url), BASE_PATH);
        ProfileClient {
            http,
            base: base.into(),
            conformance_token: config.conformance_token.clone().map(Into::into),
            observer: None,
            virtual_clock: None,
            config: Arc::new(config),
        }
    }

    /// The settings this client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
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
        let outcome = read_answer(request, self.config.max_response_bytes).await;
        let elapsed = started.elapsed();
        if let Some(observer) = &self.observer {
            let (status, content_type, error) = match &outcome {
                Ok(a) => (Some(a.status), a.content_type.as_deref(), None),
                Err(failure) => (
                    failure.status(),
                    failure.content_type(),
                    Some(failure.describe()),
                ),
            };
            observer.exchange(&Exchange {
                operation: operation_id,
                method,
                path,
                request_body: body.as_deref(),
                status,
                response_body: outcome.as_ref().map(|a| a.body.as_slice()).unwrap_or(&[]),
                started_at,
                virtual_at,
                elapsed,
                transport_error: error.as_deref(),
                content_type,
            });
        }
        outcome.map_err(|failure| failure.into_error(operation_id))
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        id: &'static str,
        args: &[&str],
        auth: Auth<'_>,
        body: Option<&Req>,
    ) -> Result<Resp, ClientError> {
        let answer = self.exchange(id, args, auth, body).await?;
        decode_json(id, &answer).inspect_err(|e| self.note_unreadable(e))
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
        let answer = self.send_raw(op, args, auth, body).await;
        answer
            .and_then(|answer| expect_success(op, answer))
            .inspect_err(|e| self.note_unreadable(e))
    }

    fn note_unreadable(&self, error: &ClientError) {
        if let Some(observer) = &self.observer
            && error.is_unreadable()
        {
            observer.unreadable(error);
        }
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
        Ok(answer.body)
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

/// Why an answer could not be read.
enum ReadFailure {
    /// No answer: the connection failed or timed out before a status came.
    NoAnswer(reqwest::Error),
    /// A status came, but the body was cut off or timed out.
    Body {
        status: u16,
        content_type: Option<String>,
        error: reqwest::Error,
    },
    /// The body is longer than the cap; it was not read past it.
    TooLarge {
        status: u16,
        content_type: Option<String>,
        cap: usize,
        declared: Option<u64>,
    },
}

impl ReadFailure {
    fn status(&self) -> Option<u16> {
        match self {
            ReadFailure::NoAnswer(_) => None,
            ReadFailure::Body { status, .. } | ReadFailure::TooLarge { status, .. } => {
                Some(*status)
            }
        }
    }

    fn content_type(&self) -> Option<&str> {
        match self {
            ReadFailure::NoAnswer(_) => None,
            ReadFailure::Body { content_type, .. } | ReadFailure::TooLarge { content_type, .. } => {
                content_type.as_deref()
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            ReadFailure::NoAnswer(e) => describe_error_chain(e),
            ReadFailure::Body { status, error, .. } => format!(
                "the body of an HTTP {status} answer could not be read: {}",
                describe_error_chain(error)
            ),
            ReadFailure::TooLarge {
                status,
                cap,
                declared,
                ..
            } => format!(
                "the body of an HTTP {status} answer is over the client's cap of {} on response bodies ({}); not read past the cap",
                bytes_text(*cap as u64),
                match declared {
                    Some(n) => format!("Content-Length {n}"),
                    None => "no Content-Length".to_owned(),
                }
            ),
        }
    }

    fn into_error(self, operation: &'static str) -> ClientError {
        let message = self.describe();
        match self {
            ReadFailure::NoAnswer(e) | ReadFailure::Body { error: e, .. } => {
                ClientError::Transport {
                    operation,
                    timed_out: e.is_timeout(),
                    message,
                }
            }
            ReadFailure::TooLarge { status, .. } => ClientError::Malformed {
                operation,
                status,
                reason: message,
                body: String::new(),
            },
        }
    }
}

fn bytes_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Sends a request and reads its answer, at most `cap` bytes of body: a longer body (declared
/// or streamed) is abandoned at the cap, so an endless answer costs at most `cap` of memory.
async fn read_answer(
    request: reqwest::RequestBuilder,
    cap: usize,
) -> Result<RawAnswer, ReadFailure> {
    let mut response = request.send().await.map_err(ReadFailure::NoAnswer)?;
    let status = response.status().as_u16();
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let retry_after = header(reqwest::header::RETRY_AFTER);
    let remote_addr = response.remote_addr();
    let declared = response.content_length();
    let too_large = |content_type: Option<String>| ReadFailure::TooLarge {
        status,
        content_type,
        cap,
        declared,
    };
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large(content_type));
    }
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(too_large(content_type));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                return Err(ReadFailure::Body {
                    status,
                    content_type,
                    error,
                });
            }
        }
    }
    Ok(RawAnswer {
        status,
        content_type,
        retry_after,
        remote_addr,
        body,
    })
}

fn auth_for<'a>(op: &Operation, auth: Auth<'a>) -> Auth<'a> {
    match (auth, op.security) {
        (Auth::Default, Security::Public) => Auth::Anonymous,
        (other, _) => other,
    }
}

fn describe_error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// Whether a `Content-Type` is JSON (`application/json` or `application/<anything>+json`,
/// any parameters).
fn is_json_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// The answer to `op` when it is the operation's success, else the error it means. A success
/// with a JSON schema must say it is JSON.
pub fn expect_success(op: &Operation, answer: RawAnswer) -> Result<RawAnswer, ClientError> {
    if answer.status != op.status {
        return Err(interpret_failure(op.id, answer));
    }
    let content_type = answer.content_type.as_deref();
    let expected = match op.response {
        None => return Ok(answer),
        Some("binary") if content_type.is_some_and(|ct| ct.starts_with("image/")) => {
            return Ok(answer);
        }
        Some("binary") => "an image type",
        Some(_) if is_json_type(content_type) => return Ok(answer),
        Some(_) => "application/json",
    };
    Err(ClientError::Malformed {
        operation: op.id,
        status: answer.status,
        reason: format!(
            "content type {:?}, where profile v1 answers {expected}",
            content_type.unwrap_or("(none)")
        ),
        body: excerpt(&answer.body),
    })
}

/// Decodes the JSON success body of operation `id`.
pub fn decode_json<T: DeserializeOwned>(
    id: &'static str,
    answer: &RawAnswer,
) -> Result<T, ClientError> {
    serde_json::from_slice(&answer.body).map_err(|e| ClientError::Malformed {
        operation: id,
        status: answer.status,
        reason: format!("body does not match the schema: {e}"),
        body: excerpt(&answer.body),
    })
}

/// What an answer to operation `op` means: its decoded success body, or the error it is.
/// Whatever the bytes, this returns; it never panics.
pub fn decode_answer<T: DeserializeOwned>(
    op: &Operation,
    answer: RawAnswer,
) -> Result<T, ClientError> {
    let answer = expect_success(op, answer)?;
    decode_json(op.id, &answer)
}

/// Whether a status is a refusal's: a client error other than 408 (request timeout) and 429
/// (too many requests), which decide nothing about the request itself.
fn is_refusal_status(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

fn interpret_failure(id: &'static str, answer: RawAnswer) -> ClientError {
    if answer.status >= 500 || answer.status == 408 || answer.status == 429 {
        return ClientError::Failed {
            operation: id,
            status: answer.status,
            retry_after: answer.retry_after,
            body: excerpt(&answer.body),
        };
    }
    let malformed = |reason: String| ClientError::Malformed {
        operation: id,
        status: answer.status,
        reason,
        body: excerpt(&answer.body),
    };
    if !is_refusal_status(answer.status) {
        return malformed(match answer.status {
            300..=399 => {
                "a redirect, which profile v1 never answers (the client follows none)".to_owned()
            }
            _ => "a status the operation does not answer with".to_owned(),
        });
    }
    if !is_json_type(answer.content_type.as_deref()) {
        return malformed(format!(
            "content type {:?}, where a profile refusal is application/json",
            answer.content_type.as_deref().unwrap_or("(none)")
        ));
    }
    match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(ErrorBody {
            code: ErrorCode::Other(code),
            ..
        }) => malformed(format!(
            "a refusal with code `{code}`, which profile v1 does not define"
        )),
        Ok(ErrorBody {
            code: ErrorCode::Internal,
            ..
        }) => malformed("a refusal with code `internal`, which is a 5xx failure's".to_owned()),
        Ok(error) => ClientError::Refused {
            operation: id,
            status: answer.status,
            error,
        },
        Err(e) => malformed(format!("no profile error body: {e}")),
    }
}
