//! The HTTP layer: thin axum handlers (extract → authenticate → call a domain function → answer),
//! the router of every profile v1 operation below `/profile/v1`, and a middleware that turns any
//! non-JSON error (unknown route 404, wrong method 405, 413, panics) into the profile's error
//! shape and applies the load defects.

pub mod extract;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use duxue_profile::{
    AssessmentRequest, BASE_PATH, CaptureUpload, ChallengeRequest, ClassRequest, ClockAdvance,
    CohortRequest, CourseList, CourseProposal, EnrolmentList, EnrolmentRequest, ErrorCode,
    HeartbeatRequest, LoginRequest, OrganisationRequest, PROFILE_VERSION, PlatformMeta,
    PlaybackRequest, PopupAnswer, RegistrationRequest, SupervisorLogin, SupervisorRequest,
};

use crate::defects::Defect;
use crate::domain::Platform;
use crate::error::{Outcome, Refusal};
use extract::{PathParams, RawBody, actor, capture_actor, conformance, learner, parse, supervisor};

type St = State<Arc<Platform>>;
type Answer = Result<Response, Refusal>;

fn json<T: serde::Serialize>(status: StatusCode, value: T) -> Answer {
    Ok((status, axum::Json(value)).into_response())
}

fn ok<T: serde::Serialize>(value: Outcome<T>) -> Answer {
    json(StatusCode::OK, value?)
}

fn created<T: serde::Serialize>(value: Outcome<T>) -> Answer {
    json(StatusCode::CREATED, value?)
}

/// The router of profile v1.
pub fn router(platform: Arc<Platform>) -> Router {
    let api = Router::new()
        .route("/meta", get(meta))
        .route("/courses", get(courses))
        .route("/conformance/cohorts", post(create_cohort))
        .route("/conformance/cohorts/{cohort_id}/clock", get(read_clock))
        .route(
            "/conformance/cohorts/{cohort_id}/clock/advance",
            post(advance_clock),
        )
        .route("/conformance/organisations", post(create_organisation))
        .route("/conformance/courses", post(propose_course))
        .route("/conformance/classes", post(create_class))
        .route("/conformance/assessments", post(record_assessment))
        .route("/conformance/supervisors", post(create_supervisor))
        .route("/learners", post(register))
        .route("/auth/challenges", post(request_challenge))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/enrolments", post(enrol).get(list_enrolments))
        .route("/enrolments/{enrolment_id}/progress", get(progress))
        .route("/playbacks", post(start_playback))
        .route("/playbacks/{playback_id}/heartbeats", post(heartbeat))
        .route(
            "/playbacks/{playback_id}/popups/{event_id}",
            post(answer_popup),
        )
        .route(
            "/playbacks/{playback_id}/captures/{event_id}",
            post(upload_capture),
        )
        .route("/playbacks/{playback_id}/stop", post(stop_playback))
        .route("/supervision/login", post(supervisor_login))
        .route("/supervision/learners", get(list_learners))
        .route("/supervision/learners/{learner_id}", get(get_learner))
        .route(
            "/supervision/learners/{learner_id}/trajectory",
            get(trajectory),
        )
        .route("/supervision/learners/{learner_id}/captures", get(captures))
        .route("/supervision/learners/{learner_id}/liveness", get(liveness))
        .route("/supervision/images/{image_id}", get(image))
        .route("/supervision/self-check", get(self_check))
        .route("/supervision/classes", get(classes))
        .route(
            "/supervision/classes/{class_id}/completion",
            get(completion),
        );
    Router::new()
        .nest(BASE_PATH, api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            platform.clone(),
            profile_errors,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_answer,
        ))
        .with_state(platform)
}

async fn not_found() -> Refusal {
    Refusal::not_found("no such path in profile v1")
}

fn panic_answer(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    Refusal::internal("the platform failed; the request may be retried").into_response()
}

/// Accounts load (and applies the load defects), and rewrites any error answer that is not
/// JSON (axum's own 404/405/413 answers) into the profile's error shape.
async fn profile_errors(State(p): St, req: Request, next: Next) -> Response {
    let _guard = p.load.enter();
    if p.has(Defect::SlowUnderLoad) {
        let delay = p.load.slow_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidRequest,
    };
    let mut r = Refusal::new(code, status.canonical_reason().unwrap_or("refused")).into_response();
    *r.status_mut() = status;
    r
}

// --- metadata -----------------------------------------------------------------------------------

async fn meta(State(p): St) -> Answer {
    json(
        StatusCode::OK,
        PlatformMeta {
            profile_version: PROFILE_VERSION.into(),
            platform_name: p.application.platform.name.clone(),
            platform_url: p.application.platform.url.clone(),
            operator: p.operator.clone(),
            approved_occupations: p.approved_occupations.clone(),
            conformance_enabled: p.conformance_token.is_some(),
            server_time: chrono::Utc::now(),
        },
    )
}

async fn courses(State(p): St) -> Answer {
    json(
        StatusCode::OK,
        CourseList {
            courses: p.list_courses(),
        },
    )
}

// --- conformance --------------------------------------------------------------------------------

async fn create_cohort(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    conformance(&p, &h)?;
    created(p.create_cohort(parse::<CohortRequest>(&body)?))
}

async fn read_clock(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    conformance(&p, &h)?;
    ok(p.read_clock(&id))
}

async fn advance_clock(
    State(p): St,
    h: HeaderMap,
    PathParams(id): PathParams<String>,
    body: RawBody,
) -> Answer {
    conformance(&p, &h)?;
    let req: ClockAdvance = parse(&body)?;
    ok(p.advance_clock(&id, req.seconds))
}

async fn create_organisation(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    conformance(&p, &h)?;
    created(p.create_organisation(parse::<OrganisationRequest>(&body)?))
}

async fn propose_course(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    conformance(&p, &h)?;
    created(p.propose_course(parse::<CourseProposal>(&body)?))
}

async fn create_class(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    conformance(&p, &h)?;
    created(p.create_class(parse::<ClassRequest>(&body)?))
}

async fn record_assessment(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    conformance(&p, &h)?;
    created(p.record_assessment(parse::<AssessmentRequest>(&body)?))
}

async fn create_supervisor(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    conformance(&p, &h)?;
    created(p.create_supervisor(parse::<SupervisorRequest>(&body)?))
}

// --- learners -----------------------------------------------------------------------------------

async fn register(State(p): St, body: RawBody) -> Answer {
    let req: RegistrationRequest = parse(&body)?;
    created(p.register(req).await)
}

async fn request_challenge(State(p): St, body: RawBody) -> Answer {
    let req: ChallengeRequest = parse(&body)?;
    created(p.request_challenge(&req.id_number))
}

async fn login(State(p): St, body: RawBody) -> Answer {
    let req: LoginRequest = parse(&body)?;
    ok(p.login(req).await)
}

async fn logout(State(p): St, h: HeaderMap) -> Answer {
    let (learner_id, session_id) = learner(&p, &h, true)?;
    p.logout(&learner_id, &session_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn me(State(p): St, h: HeaderMap) -> Answer {
    let (learner_id, _) = learner(&p, &h, false)?;
    ok(p.get_me(&learner_id))
}

async fn enrol(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    let (learner_id, _) = learner(&p, &h, true)?;
    let req: EnrolmentRequest = parse(&body)?;
    created(p.enrol(&learner_id, &req.class_id))
}

async fn list_enrolments(State(p): St, h: HeaderMap) -> Answer {
    let (learner_id, _) = learner(&p, &h, false)?;
    json(
        StatusCode::OK,
        EnrolmentList {
            enrolments: p.list_enrolments(&learner_id),
        },
    )
}

async fn progress(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let (learner_id, _) = learner(&p, &h, false)?;
    ok(p.get_progress(&learner_id, &id))
}

// --- study --------------------------------------------------------------------------------------

async fn start_playback(State(p): St, h: HeaderMap, body: RawBody) -> Answer {
    let (learner_id, session_id) = learner(&p, &h, true)?;
    let req: PlaybackRequest = parse(&body)?;
    created(p.start_playback(&learner_id, &session_id, req))
}

async fn heartbeat(
    State(p): St,
    h: HeaderMap,
    PathParams(id): PathParams<String>,
    body: RawBody,
) -> Answer {
    let who = actor(&p, &h)?;
    let req: HeartbeatRequest = parse(&body)?;
    ok(p.heartbeat(&who, &id, &req))
}

async fn answer_popup(
    State(p): St,
    h: HeaderMap,
    PathParams((playback, event)): PathParams<(String, String)>,
    body: RawBody,
) -> Answer {
    let who = actor(&p, &h)?;
    let req: PopupAnswer = parse(&body)?;
    ok(p.answer_popup(&who, &playback, &event, &req.answer))
}

async fn upload_capture(
    State(p): St,
    h: HeaderMap,
    PathParams((playback, event)): PathParams<(String, String)>,
    body: RawBody,
) -> Answer {
    let who = capture_actor(&p, &h)?;
    let req: CaptureUpload = parse(&body)?;
    ok(p.upload_capture(&who, &playback, &event, &req.image).await)
}

async fn stop_playback(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let who = actor(&p, &h)?;
    ok(p.stop_playback(&who, &id))
}

// --- supervision ----------------------------------------------------------------------------------

async fn supervisor_login(State(p): St, body: RawBody) -> Answer {
    let req: SupervisorLogin = parse(&body)?;
    ok(p.supervisor_login(req))
}

async fn list_learners(State(p): St, h: HeaderMap) -> Answer {
    let sup = supervisor(&p, &h)?;
    json(StatusCode::OK, p.list_learners(&sup))
}

async fn get_learner(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let sup = supervisor(&p, &h)?;
    ok(p.get_learner(&sup, &id))
}

async fn trajectory(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let sup = supervisor(&p, &h)?;
    ok(p.trajectory(&sup, &id).await)
}

async fn captures(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let sup = supervisor(&p, &h)?;
    ok(p.captures(&sup, &id).await)
}

async fn liveness(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let sup = supervisor(&p, &h)?;
    ok(p.liveness(&sup, &id).await)
}

async fn image(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let sup = supervisor(&p, &h)?;
    let (mime, bytes) = p.image(&sup, &id).await?;
    let mut r = (StatusCode::OK, bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(r)
}

async fn self_check(State(p): St, h: HeaderMap) -> Answer {
    let sup = supervisor(&p, &h)?;
    ok(p.self_check(&sup).await)
}

async fn classes(State(p): St, h: HeaderMap) -> Answer {
    let sup = supervisor(&p, &h)?;
    json(StatusCode::OK, p.list_classes(&sup))
}

async fn completion(State(p): St, h: HeaderMap, PathParams(id): PathParams<String>) -> Answer {
    let sup = supervisor(&p, &h)?;
    ok(p.export_completion(&sup, &id))
}
