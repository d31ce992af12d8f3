//! The conforming variants over real HTTP: each takes the other path the profile allows, and
//! still enforces the control it concerns.

mod common;

use std::time::Duration;

use common::*;
use duxue_platform::Variant;
use duxue_profile::*;

fn hb(pos: f64) -> HeartbeatRequest {
    HeartbeatRequest {
        position_seconds: pos,
        rate: 1.0,
        focused: true,
        client_time: None,
    }
}

async fn wait_virtual(seconds: f64, scale: f64) {
    tokio::time::sleep(Duration::from_secs_f64(seconds / scale)).await;
}

#[tokio::test]
async fn refuse_second_login_keeps_the_first_session() {
    let env = Env::with_variants(&[], &[Variant::RefuseSecondLogin]).await;
    let c = &env.client;
    let w = world(c, 1.0).await;
    let s = student(c, 500, &w.enterprise.organisation_id).await;
    let second = login(c, &s.who).await;
    assert_eq!(code(&second.unwrap_err()), "session_conflict");
    c.get_me(&s.session.token)
        .await
        .expect("the first session stays live");
    c.logout(&s.session.token).await.expect("logout");
    let again = login(c, &s.who).await.expect("a login after logout");
    c.get_me(&again.token).await.expect("the new session works");
    env.stop().await;
}

#[tokio::test]
async fn refuse_second_window_keeps_the_first_playing() {
    let scale = 300.0;
    let env = Env::with_variants(&[], &[Variant::RefuseSecondWindow]).await;
    let c = &env.client;
    let w = world(c, scale).await;
    let s = student(c, 501, &w.enterprise.organisation_id).await;
    let (e, first) = enrol_and_play(c, &s, &w, 0).await;
    let second_lesson = PlaybackRequest {
        enrolment_id: e.enrolment_id.clone(),
        lesson_id: w.online_course.lessons[1].lesson_id.clone(),
    };
    let second = c.start_playback(&s.session.token, &second_lesson).await;
    assert_eq!(code(&second.unwrap_err()), "concurrent_playback");
    wait_virtual(10.0, scale).await;
    let ack = c
        .heartbeat(&s.session.token, &first.playback_id, &hb(10.0))
        .await
        .expect("the first window plays on");
    assert!(ack.credited_seconds > 0.0, "{ack:?}");
    c.stop_playback(&s.session.token, &first.playback_id)
        .await
        .expect("stop");
    c.start_playback(&s.session.token, &second_lesson)
        .await
        .expect("a window once the first stopped");
    env.stop().await;
}

#[tokio::test]
async fn silence_earns_nothing_but_the_playback_goes_on() {
    let scale = 60.0;
    let env = Env::with_variants(&[], &[Variant::SilenceEarnsNothing]).await;
    let c = &env.client;
    let w = world(c, scale).await;
    let s = student(c, 502, &w.enterprise.organisation_id).await;
    let (_, pb) = enrol_and_play(c, &s, &w, 0).await;
    let token = &s.session.token;
    let started = std::time::Instant::now();
    let at = |started: std::time::Instant| started.elapsed().as_secs_f64() * scale;
    wait_virtual(10.0, scale).await;
    let before = c
        .heartbeat(token, &pb.playback_id, &hb(at(started)))
        .await
        .expect("a beat");
    // Silent for longer than the policy's gap (60 s), before any popup can come (100 s).
    wait_virtual(75.0, scale).await;
    let after = c
        .heartbeat(token, &pb.playback_id, &hb(at(started)))
        .await
        .expect("the playback was not stopped by the silence");
    assert_eq!(after.state, PlaybackState::Playing);
    assert!(
        (after.credited_seconds - before.credited_seconds).abs() < 1e-6,
        "the silent interval earned {:.1} s",
        after.credited_seconds - before.credited_seconds
    );
    wait_virtual(10.0, scale).await;
    let next = c
        .heartbeat(token, &pb.playback_id, &hb(at(started)))
        .await
        .expect("a beat after the silence");
    let earned = next.credited_seconds - after.credited_seconds;
    assert!(earned > 0.0 && earned < 20.0, "earned {earned:.1} s");
    env.stop().await;
}

#[tokio::test]
async fn capture_miss_continues_withholds_the_class_hour_and_plays_on() {
    let scale = 300.0;
    let env = Env::with_variants(&[], &[Variant::CaptureMissContinues]).await;
    let c = &env.client;
    let w = world(c, scale).await;
    for (seed, behaviour, state) in [
        (503, Behaviour::WrongFace, CaptureState::Failed),
        (504, Behaviour::IgnoreCaptures, CaptureState::Missed),
    ] {
        let s = student(c, seed, &w.enterprise.organisation_id).await;
        let (e, pb) = enrol_and_play(c, &s, &w, 0).await;
        let run = study(c, &s, &pb, scale, 1_200.0, behaviour).await;
        assert!(!run.captures.is_empty(), "{behaviour:?}: no capture");
        assert!(
            run.error.is_none(),
            "{behaviour:?}: the playback stopped: {:?}",
            run.error
        );
        assert!(
            run.acks.iter().all(|a| a.state != PlaybackState::Stopped),
            "{behaviour:?}"
        );
        let prog = c
            .get_progress(&s.session.token, &e.enrolment_id)
            .await
            .expect("progress");
        let hour = &prog.lessons[0].class_hours[0];
        assert!(
            hour.withheld && hour.credited_seconds == 0.0 && hour.capture == state,
            "{behaviour:?}: {hour:?}"
        );
        let sup = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
        let list = c
            .list_captures(&sup.token, &s.learner.learner_id)
            .await
            .expect("captures");
        assert!(
            list.captures.iter().any(|r| r.state == state),
            "{behaviour:?}: flagged to supervisors"
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn scope_forbidden_answers_403_for_what_exists_out_of_scope() {
    let env = Env::with_variants(&[], &[Variant::ScopeForbidden]).await;
    let c = &env.client;
    let w = world(c, 60.0).await;
    let other = c
        .create_organisation(&OrganisationRequest {
            cohort_id: w.cohort.cohort_id.clone(),
            name: "企业丙".into(),
            kind: OrganisationKind::Enterprise,
        })
        .await
        .expect("organisation");
    let a = student(c, 505, &w.enterprise.organisation_id).await;
    let b = student(c, 506, &other.organisation_id).await;
    let ent = supervisor(
        c,
        &w.cohort.cohort_id,
        SupervisorKind::Enterprise,
        Some(&w.enterprise.organisation_id),
    )
    .await;
    let inst = supervisor(
        c,
        &w.cohort.cohort_id,
        SupervisorKind::Institution,
        Some(&w.institution.organisation_id),
    )
    .await;
    c.get_learner(&ent.token, &a.learner.learner_id)
        .await
        .expect("its own learner");
    let out = c
        .get_learner(&ent.token, &b.learner.learner_id)
        .await
        .unwrap_err();
    assert_eq!((out.status(), code(&out)), (Some(403), "forbidden".into()));
    let missing = c
        .get_learner(&ent.token, "lrn-no-such-learner")
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "not_found");
    let record = c
        .get_learner(&inst.token, &a.learner.learner_id)
        .await
        .unwrap_err();
    assert_eq!(code(&record), "forbidden");
    let authority = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
    let face = c
        .get_learner(&authority.token, &b.learner.learner_id)
        .await
        .expect("authority sees every learner")
        .face_image_id;
    assert_eq!(
        code(&c.get_image(&ent.token, &face).await.unwrap_err()),
        "forbidden"
    );
    let export = c
        .export_completion(&inst.token, &w.online_class.class_id)
        .await
        .unwrap_err();
    assert_eq!(code(&export), "forbidden");
    env.stop().await;
}
