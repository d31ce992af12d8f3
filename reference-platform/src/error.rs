//! Errors: [`Refusal`] is a profile refusal (an `ErrorBody` with its HTTP status) that every
//! domain function returns; [`PlatformError`] is what can stop the platform itself.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use duxue_profile::{ErrorBody, ErrorCode};

/// Why the platform could not start, run or stop.
#[derive(thiserror::Error, Debug)]
pub enum PlatformError {
    #[error("database {path}: {source}")]
    Database {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored record `{kind}/{id}` is unreadable: {message}")]
    CorruptRecord {
        kind: String,
        id: String,
        message: String,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("the database writer stopped: {0}")]
    WriterGone(String),
    #[error("the server task failed: {0}")]
    Server(String),
}

/// A refusal in the profile's error shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

/// The HTTP status profile v1 gives each code (`ErrorCode` in `openapi.yaml`).
pub fn status_of(code: &ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        Unauthorized | SessionRevoked | BadCredentials => StatusCode::UNAUTHORIZED,
        Forbidden | ReadOnly => StatusCode::FORBIDDEN,
        NotFound | ChallengeUnknown | EventUnknown | ConformanceDisabled => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        InvalidRequest => StatusCode::BAD_REQUEST,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        InvalidImage
        | InvalidIdNumber
        | FaceMismatch
        | NoFace
        | LivenessFailed
        | OccupationNotPureOnline
        | OccupationNotApproved
        | OrganiserNotAllowed
        | CompositionInvalid
        | LessonOffline
        | SeekForbidden
        | RateForbidden
        | WrongAnswer => StatusCode::UNPROCESSABLE_ENTITY,
        DuplicateLearner | ChallengeExpired | ChallengeUsed | SessionConflict | AlreadyEnrolled
        | CooldownActive | LessonLocked | ConcurrentPlayback | PlaybackSuperseded
        | PlaybackStopped | EventExpired | ClockBackwards => StatusCode::CONFLICT,
        Internal | Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            status: status_of(&code),
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Refusal::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Refusal::new(ErrorCode::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(%message, "internal error");
        Refusal::new(ErrorCode::Internal, message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.clone(),
            message: self.message.clone(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Shorthand for domain results.
pub type Outcome<T> = Result<T, Refusal>;
