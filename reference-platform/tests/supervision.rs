//! SV-1…SV-8, RT-1, SC-3, SC-4 and the restart test.

mod common;

use std::time::Duration;

use common::*;
use duxue_platform::Defect;
use duxue_profile::*;

const SCALE: f64 = 300.0;

fn hb(pos: f64) -> HeartbeatRequest {
    HeartbeatRequest {
        position_seconds: pos,
        rate: 1.0,
        focused: true,
        client_time: None,
    }
}

#[tokio::test]
async fn supervisor_kinds_scopes_and_read_only() {
    for defects in [
        vec![],
        vec![Defect::NoAuditAccounts],
        vec![Defect::ScopeLeak],
        vec![Defect::SupervisorCanWrite],
    ] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, SCALE).await;
        let other = c
            .create_organisation(&OrganisationRequest {
                cohort_id: w.cohort.cohort_id.clone(),
                name: "企业丙".into(),
                kind: OrganisationKind::Enterprise,
            })
            .await
            .unwrap();
        let a = student(c, 40, &w.enterprise.organisation_id).await;
        let b = student(c, 41, &other.organisation_id).await;
        let authority = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
        let audit = c
            .create_supervisor(&SupervisorRequest {
                cohort_id: w.cohort.cohort_id.clone(),
                kind: SupervisorKind::Audit,
                organisation_id: None,
            })
            .await;
        let ent = supervisor(
            c,
            &w.cohort.cohort_id,
            SupervisorKind::Enterprise,
            Some(&w.enterprise.organisation_id),
        )
        .await;
        let _inst = supervisor(
            c,
            &w.cohort.cohort_id,
            SupervisorKind::Institution,
            Some(&w.institution.organisation_id),
        )
        .await;
        if defects.contains(&Defect::NoAuditAccounts) {
            assert!(audit.is_err());
        } else {
            let audit = audit.unwrap();
            let s = c
                .supervisor_login(&audit.username, &audit.password)
                .await
                .unwrap();
            assert_eq!(c.list_learners(&s.token).await.unwrap().learners.len(), 2);
        }
        assert_eq!(
            c.list_learners(&authority.token)
                .await
                .unwrap()
                .learners
                .len(),
            2
        );
        let seen: Vec<String> = c
            .list_learners(&ent.token)
            .await
            .unwrap()
            .learners
            .into_iter()
            .map(|l| l.learner_id)
            .collect();
        let other_record = c.get_learner(&ent.token, &b.learner.learner_id).await;
        if defects.contains(&Defect::ScopeLeak) {
            assert_eq!(seen.len(), 2);
            other_record.expect("scope-leak shows another organisation's learner");
        } else {
            assert_eq!(seen, vec![a.learner.learner_id.clone()]);
            assert_eq!(code(&other_record.unwrap_err()), "not_found");
        }
        // SV-4: supervisor writes
        let (_, pb) = enrol_and_play(c, &a, &w, 0).await;
        tokio::time::sleep(Duration::from_secs_f64(10.0 / SCALE)).await;
        let write = c.heartbeat(&ent.token, &pb.playback_id, &hb(5.0)).await;
        if defects.contains(&Defect::SupervisorCanWrite) {
            write.expect("supervisor-can-write accepts a heartbeat");
        } else {
            let e = write.unwrap_err();
            assert_eq!((e.status(), code(&e)), (Some(403), "read_only".into()));
        }
        let enrol = c
            .enrol(&authority.token, &w.online_class.class_id)
            .await
            .unwrap_err();
        assert_eq!(code(&enrol), "read_only");
        let conf = c
            .send_raw(
                operation("createCohort").unwrap(),
                &[],
                Auth::Bearer(&authority.token),
                Some(b"{}".to_vec()),
            )
            .await
            .unwrap();
        assert_eq!(conf.status, 401);
        let put = c
            .send_method(
                "x",
                "PUT",
                "/supervision/learners",
                Auth::Bearer(&authority.token),
                Some(b"{}".to_vec()),
            )
            .await
            .unwrap();
        assert_eq!(put.status, 405);
        // a learner token is not a supervisor token
        assert_eq!(
            c.list_learners(&a.session.token)
                .await
                .unwrap_err()
                .status(),
            Some(401)
        );
        env.stop().await;
    }
}

#[tokio::test]
async fn live_status_is_fresh_unless_stale_monitoring() {
    for defects in [vec![], vec![Defect::StaleMonitoring]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, SCALE).await;
        let a = student(c, 50, &w.enterprise.organisation_id).await;
        let sup = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
        let before = c.list_learners(&sup.token).await.unwrap();
        assert_eq!(before.learners[0].status, LiveStatus::Online);
        let (_, pb) = enrol_and_play(c, &a, &w, 0).await;
        tokio::time::sleep(Duration::from_secs_f64(10.0 / SCALE)).await;
        c.heartbeat(&a.session.token, &pb.playback_id, &hb(10.0))
            .await
            .unwrap();
        let after = c.list_learners(&sup.token).await.unwrap();
        if defects.is_empty() {
            assert_eq!(after.learners[0].status, LiveStatus::Studying);
            assert_eq!(
                after.learners[0].lesson_id.as_deref(),
                Some(pb.lesson_id.as_str())
            );
        } else {
            assert_eq!(after.learners[0].status, LiveStatus::Online, "stale view");
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn captures_and_liveness_are_kept_with_their_images() {
    for defects in [vec![], vec![Defect::ImagesNotKept]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, SCALE).await;
        let who = duxue_media::identity(61);
        let learner = c
            .register_learner(&registration(&who, &w.enterprise.organisation_id))
            .await
            .unwrap();
        let mut tries = 0;
        let (frames, session) = loop {
            let ch = c.request_challenge(&who.id_number).await.unwrap();
            let frames = duxue_media::liveness_frames(&who, &media_challenge(&ch), 3);
            let r = c
                .login(&LoginRequest {
                    id_number: who.id_number.clone(),
                    password: "pass-word-1".into(),
                    challenge_id: ch.challenge_id.clone(),
                    frames: frames.iter().map(|f| b64(f)).collect(),
                    device_id: None,
                })
                .await;
            tries += 1;
            match r {
                Ok(session) => break (frames, session),
                Err(e) if tries < 5 && e.is(&ErrorCode::ChallengeExpired) => continue,
                Err(e) => panic!("{e}"),
            }
        };
        let s = Student {
            who: who.clone(),
            learner,
            session,
        };
        let (_, pb) = enrol_and_play(c, &s, &w, 0).await;
        let run = study(c, &s, &pb, SCALE, 900.0, Behaviour::Honest).await;
        assert!(!run.captures.is_empty());
        let sup = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Audit, None).await;
        let live = c
            .list_liveness(&sup.token, &s.learner.learner_id)
            .await
            .unwrap();
        let live = LivenessList {
            attempts: live.attempts.into_iter().filter(|a| a.accepted).collect(),
            ..live
        };
        assert_eq!(live.attempts.len(), 1);
        let caps = c
            .list_captures(&sup.token, &s.learner.learner_id)
            .await
            .unwrap();
        assert!(
            caps.captures
                .iter()
                .all(|r| r.state == CaptureState::Passed)
        );
        // registration images are kept either way
        let rec = c
            .get_learner(&sup.token, &s.learner.learner_id)
            .await
            .unwrap();
        let face = c.get_image(&sup.token, &rec.face_image_id).await.unwrap();
        assert_eq!(face, duxue_media::face_image(&who, 2));
        if defects.is_empty() {
            for (id, sent) in live.attempts[0].frame_image_ids.iter().zip(&frames) {
                assert_eq!(&c.get_image(&sup.token, id).await.unwrap(), sent);
            }
            assert_eq!(live.attempts[0].frame_image_ids.len(), frames.len());
            for r in &caps.captures {
                c.get_image(&sup.token, r.image_id.as_deref().expect("image id"))
                    .await
                    .unwrap();
            }
        } else {
            assert!(live.attempts[0].frame_image_ids.is_empty());
            assert!(caps.captures.iter().all(|r| r.image_id.is_none()));
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn self_check_flags_brushing_unless_blind() {
    for defects in [vec![], vec![Defect::BlindSelfCheck]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, SCALE).await;
        let honest = student(c, 70, &w.enterprise.organisation_id).await;
        let cheat = student(c, 71, &w.enterprise.organisation_id).await;
        // the honest learner studies a minute; the cheat seeks and then spoofs a login
        for (s, jump) in [(&honest, 0.0), (&cheat, 500.0)] {
            let (_, pb) = enrol_and_play(c, s, &w, 0).await;
            for i in 1..=4 {
                tokio::time::sleep(Duration::from_secs_f64(10.0 / SCALE)).await;
                let _ = c
                    .heartbeat(
                        &s.session.token,
                        &pb.playback_id,
                        &hb(10.0 * f64::from(i) + if i == 4 { jump } else { 0.0 }),
                    )
                    .await;
            }
        }
        let ch = c.request_challenge(&cheat.who.id_number).await.unwrap();
        let spoof = duxue_media::attack_frames(
            duxue_media::Species::Print,
            &cheat.who,
            &media_challenge(&ch),
            1,
        );
        let _ = c
            .login(&LoginRequest {
                id_number: cheat.who.id_number.clone(),
                password: "pass-word-1".into(),
                challenge_id: ch.challenge_id,
                frames: spoof.iter().map(|f| b64(f)).collect(),
                device_id: None,
            })
            .await;
        let sup = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
        let report = c.self_check(&sup.token).await.unwrap();
        assert_eq!(report.learners_checked, 2);
        let flagged: Vec<&str> = report
            .flagged
            .iter()
            .map(|f| f.learner_id.as_str())
            .collect();
        if defects.is_empty() {
            assert_eq!(
                flagged,
                vec![cheat.learner.learner_id.as_str()],
                "{report:?}"
            );
            let kinds: Vec<&str> = report.flagged[0]
                .signals
                .iter()
                .map(|s| s.kind.as_str())
                .collect();
            assert!(
                kinds.contains(&"refused_cheats") && kinds.contains(&"failed_liveness"),
                "{kinds:?}"
            );
        } else {
            assert!(flagged.is_empty());
        }
        // neighbour: the trajectory still shows the refusal
        let traj = c
            .get_trajectory(&sup.token, &cheat.learner.learner_id)
            .await
            .unwrap();
        assert!(traj.events.iter().any(|e| e.kind == "seek_refused"));
        env.stop().await;
    }
}

#[tokio::test]
async fn completion_export_agrees_and_names_the_payee() {
    for defects in [
        vec![],
        vec![Defect::ExportMiscounts],
        vec![Defect::WrongPayee],
    ] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, SCALE).await;
        let good = student(c, 80, &w.enterprise.organisation_id).await;
        let bad = student(c, 81, &w.enterprise.organisation_id).await;
        let (eg, pg) = enrol_and_play(c, &good, &w, 0).await;
        let (eb, pbad) = enrol_and_play(c, &bad, &w, 0).await;
        let (_, _) = tokio::join!(
            study(c, &good, &pg, SCALE, 900.0, Behaviour::Honest),
            study(c, &bad, &pbad, SCALE, 900.0, Behaviour::WrongFace)
        );
        let sup = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
        let classes = c.list_classes(&sup.token).await.unwrap();
        assert_eq!(classes.classes.len(), 1);
        let export = c
            .export_completion(&sup.token, &w.online_class.class_id)
            .await
            .unwrap();
        let mut agree = true;
        for (s, e) in [(&good, &eg), (&bad, &eb)] {
            let progress = c
                .get_progress(&s.session.token, &e.enrolment_id)
                .await
                .unwrap();
            let line = export
                .learners
                .iter()
                .find(|l| l.learner_id == s.learner.learner_id)
                .unwrap();
            agree &= line.credited_seconds == progress.credited_seconds;
            assert_eq!(
                line.class_hours,
                (line.credited_seconds / 2700.0).floor() as u32
            );
        }
        if defects.contains(&Defect::ExportMiscounts) {
            assert!(
                !agree,
                "export-miscounts must disagree for the withheld learner"
            );
        } else {
            assert!(agree);
        }
        if defects.contains(&Defect::WrongPayee) {
            assert_ne!(export.payee.organisation_id, w.enterprise.organisation_id);
        } else {
            assert_eq!(export.payee.organisation_id, w.enterprise.organisation_id);
            assert_eq!(export.payee.kind, OrganisationKind::Enterprise);
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn records_survive_until_retention_unless_short_retention() {
    for defects in [vec![], vec![Defect::ShortRetention]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, 1.0).await;
        let s = student(c, 90, &w.enterprise.organisation_id).await;
        let sup = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Audit, None).await;
        let before = c
            .list_liveness(&sup.token, &s.learner.learner_id)
            .await
            .unwrap();
        let traj_before = c
            .get_trajectory(&sup.token, &s.learner.learner_id)
            .await
            .unwrap();
        let frame = before.attempts[0].frame_image_ids[0].clone();
        let bytes = c.get_image(&sup.token, &frame).await.unwrap();
        // just under three years
        c.advance_clock(&w.cohort.cohort_id, 3.0 * 365.0 * 86_400.0 - 2.0 * 86_400.0)
            .await
            .unwrap();
        let after = c
            .list_liveness(&sup.token, &s.learner.learner_id)
            .await
            .unwrap();
        let image = c.get_image(&sup.token, &frame).await;
        let traj_after = c
            .get_trajectory(&sup.token, &s.learner.learner_id)
            .await
            .unwrap();
        if defects.is_empty() {
            assert_eq!(after, before);
            assert_eq!(image.unwrap(), bytes);
            assert_eq!(traj_after, traj_before);
        } else {
            assert!(after.attempts.is_empty());
            assert_eq!(code(&image.unwrap_err()), "not_found");
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn learners_cannot_touch_each_others_data_unless_cross_learner_access() {
    for defects in [vec![], vec![Defect::CrossLearnerAccess]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, SCALE).await;
        let a = student(c, 100, &w.enterprise.organisation_id).await;
        let b = student(c, 101, &w.enterprise.organisation_id).await;
        let (ea, pa) = enrol_and_play(c, &a, &w, 0).await;
        tokio::time::sleep(Duration::from_secs_f64(10.0 / SCALE)).await;
        let progress = c.get_progress(&b.session.token, &ea.enrolment_id).await;
        let beat = c
            .heartbeat(&b.session.token, &pa.playback_id, &hb(5.0))
            .await;
        if defects.is_empty() {
            assert_eq!(progress.unwrap_err().status(), Some(403));
            assert_eq!(beat.unwrap_err().status(), Some(403));
        } else {
            progress.expect("cross-learner-access reads another's progress");
            beat.expect("cross-learner-access uses another's playback");
        }
        // neighbour: supervisors are still read-only
        let sup = supervisor(c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
        assert_eq!(
            code(
                &c.heartbeat(&sup.token, &pa.playback_id, &hb(5.0))
                    .await
                    .unwrap_err()
            ),
            "read_only"
        );
        env.stop().await;
    }
}

#[tokio::test]
async fn conformance_endpoints_can_be_open_or_switched_off() {
    let env = Env::new(&[Defect::ConformanceOpen]).await;
    let body = serde_json::to_vec(&CohortRequest {
        label: "x".into(),
        clock_scale: 1.0,
        start_at: None,
    })
    .unwrap();
    let r = env
        .client
        .send_raw(
            operation("createCohort").unwrap(),
            &[],
            Auth::Anonymous,
            Some(body.clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "conformance-open accepts no token");
    env.stop().await;
    // switched off
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path().join("off.sqlite"), &[]);
    cfg.conformance_token = None;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = duxue_platform::start(cfg, listener).await.unwrap();
    let c = client_for(&p.base_url());
    assert!(!c.get_meta().await.unwrap().conformance_enabled);
    let r = c
        .send_raw(
            operation("createCohort").unwrap(),
            &[],
            Auth::ConformanceToken(TOKEN),
            Some(body),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        serde_json::from_slice::<ErrorBody>(&r.body).unwrap().code,
        ErrorCode::ConformanceDisabled
    );
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_keeps_every_record_and_image() {
    let mut env = Env::new(&[]).await;
    let w = world(&env.client, SCALE).await;
    let s = student(&env.client, 110, &w.enterprise.organisation_id).await;
    let (e, pb) = enrol_and_play(&env.client, &s, &w, 0).await;
    let run = study(&env.client, &s, &pb, SCALE, 900.0, Behaviour::Honest).await;
    assert!(!run.captures.is_empty());
    let c = env.client.clone();
    let sup = supervisor(&c, &w.cohort.cohort_id, SupervisorKind::Authority, None).await;
    let snapshot = |c: ProfileClient,
                    sup: String,
                    learner: String,
                    token: String,
                    enrolment: String| async move {
        let rec = c.get_learner(&sup, &learner).await.unwrap();
        let caps = c.list_captures(&sup, &learner).await.unwrap();
        let live = c.list_liveness(&sup, &learner).await.unwrap();
        let mut images = vec![
            c.get_image(&sup, &rec.face_image_id).await.unwrap(),
            c.get_image(&sup, &rec.id_card_image_id).await.unwrap(),
        ];
        for id in caps
            .captures
            .iter()
            .filter_map(|r| r.image_id.clone())
            .chain(live.attempts.iter().flat_map(|a| a.frame_image_ids.clone()))
        {
            images.push(c.get_image(&sup, &id).await.unwrap());
        }
        let progress = c.get_progress(&token, &enrolment).await.unwrap();
        let traj = c.get_trajectory(&sup, &learner).await.unwrap();
        let export = c
            .export_completion(&sup, &w_class(&c, &sup).await)
            .await
            .unwrap();
        (
            serde_json::to_string(&(rec, caps, live, progress, traj, export.learners)).unwrap(),
            images,
        )
    };
    let before = snapshot(
        c.clone(),
        sup.token.clone(),
        s.learner.learner_id.clone(),
        s.session.token.clone(),
        e.enrolment_id.clone(),
    )
    .await;
    env.restart().await;
    let c = env.client.clone();
    let after = snapshot(
        c.clone(),
        sup.token.clone(),
        s.learner.learner_id.clone(),
        s.session.token.clone(),
        e.enrolment_id.clone(),
    )
    .await;
    assert_eq!(before.0, after.0);
    assert_eq!(before.1, after.1);
    assert!(before.1.len() >= 3 + 2);
    // the learner's session, the clock and the course catalog carried over too
    c.get_me(&s.session.token).await.unwrap();
    assert!(
        c.read_clock(&w.cohort.cohort_id).await.unwrap().virtual_now
            > run.acks.last().unwrap().virtual_time
    );
    assert!(
        c.list_courses()
            .await
            .unwrap()
            .courses
            .iter()
            .any(|co| co.course_id == w.online_course.course_id)
    );
    env.stop().await;
}

async fn w_class(c: &ProfileClient, sup: &str) -> String {
    c.list_classes(sup).await.unwrap().classes[0]
        .class_id
        .clone()
}
