//! Sets up a learner and a supervisor on a running platform through the conformance API, so
//! that a tool exploring the whole API (Schemathesis in `.ci/schemathesis.sh`) reaches every
//! operation with valid credentials: a cohort with a class, a learner registered with synthetic
//! photos, logged in through liveness, enrolled and playing a lesson, a second learner whose
//! token may be logged out, and an authority supervisor. Prints `export NAME=value` lines.
//!
//! `cargo run -p duxue-scenarios --example conformance_accounts -- URL CONFORMANCE_TOKEN`

use std::sync::Arc;

use duxue_profile::{
    ApplicationForm, ClientConfig, PlaybackRequest, Policy, ProfileClient, SupervisorKind,
    SupervisorRequest,
};
use duxue_scenarios::ProbeContext;
use duxue_scenarios::fixture::{CourseShape, Fixture};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, token] = args.as_slice() else {
        eprintln!("usage: conformance_accounts URL CONFORMANCE_TOKEN");
        std::process::exit(2);
    };
    if let Err(e) = run(url, token).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(url: &str, token: &str) -> Result<(), String> {
    let mut config = ClientConfig::new(url);
    config.conformance_token = Some(token.to_owned());
    let client = ProfileClient::new(config).map_err(|e| e.to_string())?;
    let policy = Policy::builtin("xuchang-2022")
        .ok_or("no built-in policy")?
        .map_err(|e| e.to_string())?;
    let ctx = ProbeContext {
        client,
        policy: Arc::new(policy),
        application: Arc::new(ApplicationForm::reference().map_err(|e| e.to_string())?),
        clock_scale: 1.0,
        seed: rand::random(),
        run_nonce: rand::random(),
        target_url: url.to_owned(),
        playbacks: Default::default(),
    };
    let fx = Fixture::new(&ctx, "schemathesis", 1.0, &CourseShape::pure_online(45, 3))
        .await
        .map_err(|e| format!("fixture: {e}"))?;
    let (learner, enrolment_id) = fx
        .enrolled_learner()
        .await
        .map_err(|e| format!("learner: {e}"))?;
    let learner_token = learner.token().map_err(|e| e.to_string())?.to_owned();
    let learner_id = learner.learner_id().map_err(|e| e.to_string())?.to_owned();
    let (spare, _) = fx
        .enrolled_learner()
        .await
        .map_err(|e| format!("second learner: {e}"))?;
    let lesson_id = fx.lesson(0).map_err(|e| e.to_string())?.lesson_id.clone();
    let playback = fx
        .client
        .start_playback(
            &learner_token,
            &PlaybackRequest {
                enrolment_id: enrolment_id.clone(),
                lesson_id,
            },
        )
        .await
        .map_err(|e| format!("playback: {e}"))?;
    let credentials = fx
        .client
        .create_supervisor(&SupervisorRequest {
            cohort_id: fx.cohort.cohort_id.clone(),
            kind: SupervisorKind::Authority,
            organisation_id: None,
        })
        .await
        .map_err(|e| format!("supervisor: {e}"))?;
    let supervisor = fx
        .client
        .supervisor_login(&credentials.username, &credentials.password)
        .await
        .map_err(|e| format!("supervisor login: {e}"))?;
    let record = fx
        .client
        .get_learner(&supervisor.token, &learner_id)
        .await
        .map_err(|e| format!("learner record: {e}"))?;
    for (name, value) in [
        ("DUXUE_LEARNER_TOKEN", learner_token.as_str()),
        (
            "DUXUE_SPARE_LEARNER_TOKEN",
            spare.token().map_err(|e| e.to_string())?,
        ),
        ("DUXUE_SUPERVISOR_TOKEN", supervisor.token.as_str()),
        ("DUXUE_COHORT_ID", fx.cohort.cohort_id.as_str()),
        ("DUXUE_CLASS_ID", fx.class.class_id.as_str()),
        ("DUXUE_LEARNER_ID", learner_id.as_str()),
        ("DUXUE_ENROLMENT_ID", enrolment_id.as_str()),
        ("DUXUE_PLAYBACK_ID", playback.playback_id.as_str()),
        ("DUXUE_IMAGE_ID", record.face_image_id.as_str()),
    ] {
        println!("export {name}='{value}'");
    }
    Ok(())
}
