//! Request extraction that never leaks axum's plain-text rejections: bodies (413 over the
//! limit, 400 `invalid_request` for bad JSON or unknown fields), path parameters and bearer
//! tokens, and the conformance-token guard.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use duxue_profile::{CONFORMANCE_HEADER, ErrorCode};
use serde::de::DeserializeOwned;

use crate::defects::Defect;
use crate::domain::Platform;
use crate::domain::SupervisorRec;
use crate::domain::identity::Principal;
use crate::domain::playback::Actor;
use crate::error::{Outcome, Refusal};
use crate::ids::constant_time_eq;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The raw request body; parsed by [`parse`] after authentication.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Refusal::new(
                        ErrorCode::PayloadTooLarge,
                        format!("the body exceeds {BODY_LIMIT} bytes"),
                    )
                } else {
                    Refusal::invalid(format!("unreadable body: {}", e.body_text()))
                }
            })
    }
}

/// Parses a JSON body into a request type (unknown fields are refused by the types).
pub fn parse<T: DeserializeOwned>(body: &RawBody) -> Outcome<T> {
    if body.0.is_empty() {
        return Err(Refusal::invalid("a JSON body is required"));
    }
    serde_json::from_slice(&body.0).map_err(|e| Refusal::invalid(format!("body: {e}")))
}

/// Path parameters, with rejections in the profile's error shape.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| Refusal::not_found(format!("bad path: {}", e.body_text())))
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// SC-4: conformance endpoints need the conformance token (404 when switched off).
pub fn conformance(p: &Platform, headers: &HeaderMap) -> Outcome<()> {
    let Some(expected) = &p.conformance_token else {
        return Err(Refusal::new(
            ErrorCode::ConformanceDisabled,
            "conformance endpoints are switched off on this platform",
        ));
    };
    if p.has(Defect::ConformanceOpen) {
        return Ok(());
    }
    let given = headers
        .get(CONFORMANCE_HEADER)
        .and_then(|v| v.to_str().ok());
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(Refusal::new(
            ErrorCode::Unauthorized,
            "wrong conformance token",
        )),
        None => Err(Refusal::new(
            ErrorCode::Unauthorized,
            "the X-Conformance-Token header is required",
        )),
    }
}

/// A learner session: `(learner_id, session_id)`. Supervisor tokens are refused: 403
/// `read_only` on writes, 401 `unauthorized` on reads.
pub fn learner(p: &Platform, headers: &HeaderMap, write: bool) -> Outcome<(String, String)> {
    match p.authenticate(bearer(headers))? {
        Principal::Learner {
            learner_id,
            session_id,
            ..
        } => Ok((learner_id, session_id)),
        Principal::Supervisor(_) if write => Err(Refusal::new(
            ErrorCode::ReadOnly,
            "supervisor accounts are read-only",
        )),
        Principal::Supervisor(_) => Err(Refusal::new(
            ErrorCode::Unauthorized,
            "a supervisor token is not a learner token",
        )),
    }
}

/// Who acts on a playback: a learner, or (defect `supervisor-can-write`) a supervisor.
pub fn actor(p: &Platform, headers: &HeaderMap) -> Outcome<Actor> {
    actor_or_supervisor(p, headers, p.has(Defect::SupervisorCanWrite))
}

/// Who uploads a capture: as [`actor`], and under defect `supervisor-uploads-captures` a
/// supervisor too.
pub fn capture_actor(p: &Platform, headers: &HeaderMap) -> Outcome<Actor> {
    let supervisor_may =
        p.has(Defect::SupervisorCanWrite) || p.has(Defect::SupervisorUploadsCaptures);
    actor_or_supervisor(p, headers, supervisor_may)
}

fn actor_or_supervisor(p: &Platform, headers: &HeaderMap, supervisor_may: bool) -> Outcome<Actor> {
    match p.authenticate(bearer(headers))? {
        Principal::Learner {
            learner_id,
            session_id,
            ..
        } => Ok(Actor::Learner {
            learner_id,
            session_id,
        }),
        Principal::Supervisor(sup) if supervisor_may => Ok(Actor::Supervisor(sup)),
        Principal::Supervisor(_) => Err(Refusal::new(
            ErrorCode::ReadOnly,
            "supervisor accounts are read-only",
        )),
    }
}

/// A supervisor session; learner tokens are refused with 401 (defect
/// `learner-reads-supervision`: taken for the training authority of the learner's cohort).
pub fn supervisor(p: &Platform, headers: &HeaderMap) -> Outcome<SupervisorRec> {
    match p.authenticate(bearer(headers)) {
        Ok(Principal::Supervisor(sup)) => Ok(sup),
        Ok(Principal::Learner {
            learner_id,
            cohort_id,
            ..
        }) if p.has(Defect::LearnerReadsSupervision) => Ok(SupervisorRec {
            id: format!("as-{learner_id}"),
            cohort_id,
            kind: duxue_profile::SupervisorKind::Authority,
            organisation_id: None,
            username: String::new(),
            password_salt: String::new(),
            password_hash: String::new(),
            created_at: 0.0,
        }),
        Ok(Principal::Learner { .. }) | Err(_) => Err(Refusal::new(
            ErrorCode::Unauthorized,
            "a supervisor token is required",
        )),
    }
}
