//! ID-1…ID-5, SC-2 and bad input, over real HTTP on loopback with a real SQLite file.

mod common;

use common::*;
use duxue_platform::Defect;
use duxue_profile::*;

#[tokio::test]
async fn registration_validates_identity_and_defects_break_exactly_their_check() {
    for defects in [
        vec![],
        vec![Defect::AcceptInvalidId],
        vec![Defect::SkipRegistrationFaceMatch],
        vec![Defect::DuplicateIdOtherOrganisation],
    ] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, 60.0).await;
        let org = &w.enterprise.organisation_id;
        // a valid registration passes
        let who = duxue_media::identity(100);
        c.register_learner(&registration(&who, org))
            .await
            .expect("honest registration");
        let dup = c
            .register_learner(&registration(&who, org))
            .await
            .unwrap_err();
        assert_eq!(code(&dup), "duplicate_learner");
        let elsewhere = c
            .register_learner(&registration(&who, &w.institution.organisation_id))
            .await;
        if defects.contains(&Defect::DuplicateIdOtherOrganisation) {
            elsewhere.expect("duplicate-id-other-organisation registers the ID number again");
        } else {
            assert_eq!(code(&elsewhere.unwrap_err()), "duplicate_learner");
        }
        // invalid ID number (check digit)
        let mut bad = registration(&duxue_media::identity(101), org);
        let last = bad.id_number.pop().unwrap();
        bad.id_number.push(if last == '0' { '1' } else { '0' });
        let r = c.register_learner(&bad).await;
        if defects.contains(&Defect::AcceptInvalidId) {
            r.expect("accept-invalid-id accepts a bad check digit");
        } else {
            assert_eq!(code(&r.unwrap_err()), "invalid_id_number");
        }
        // a non-image and a missing image are refused whatever the defect
        let mut bad = registration(&duxue_media::identity(102), org);
        bad.face_image = b64(b"this is not a jpeg at all");
        assert_eq!(
            code(&c.register_learner(&bad).await.unwrap_err()),
            "invalid_image"
        );
        bad.face_image = String::new();
        assert_eq!(
            code(&c.register_learner(&bad).await.unwrap_err()),
            "invalid_image"
        );
        // a face that is not the ID card's
        let victim = duxue_media::identity(103);
        let mut mismatch = registration(&victim, org);
        mismatch.face_image = b64(&duxue_media::face_image(&duxue_media::identity(104), 2));
        let r = c.register_learner(&mismatch).await;
        if defects.contains(&Defect::SkipRegistrationFaceMatch) {
            r.expect("skip-registration-face-match accepts another face");
        } else {
            assert_eq!(code(&r.unwrap_err()), "face_mismatch");
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn challenges_are_single_use_and_expire() {
    for defects in [vec![], vec![Defect::ReusableChallenge]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, 1.0).await;
        let who = duxue_media::identity(200);
        c.register_learner(&registration(&who, &w.enterprise.organisation_id))
            .await
            .unwrap();
        let ch = c.request_challenge(&who.id_number).await.unwrap();
        let frames: Vec<String> = duxue_media::liveness_frames(&who, &media_challenge(&ch), 3)
            .iter()
            .map(|f| b64(f))
            .collect();
        let req = LoginRequest {
            id_number: who.id_number.clone(),
            password: "pass-word-1".into(),
            challenge_id: ch.challenge_id.clone(),
            frames: frames.clone(),
            device_id: None,
        };
        c.login(&req).await.expect("first login");
        let again = c.login(&req).await;
        // no frames is refused whatever the defect
        let ch2 = c.request_challenge(&who.id_number).await.unwrap();
        let none = LoginRequest {
            frames: vec![],
            challenge_id: ch2.challenge_id.clone(),
            ..req.clone()
        };
        assert_eq!(code(&c.login(&none).await.unwrap_err()), "liveness_failed");
        // expiry on the cohort clock
        let ch3 = c.request_challenge(&who.id_number).await.unwrap();
        c.advance_clock(&w.cohort.cohort_id, 600.0).await.unwrap();
        let frames3: Vec<String> = duxue_media::liveness_frames(&who, &media_challenge(&ch3), 4)
            .iter()
            .map(|f| b64(f))
            .collect();
        let late = c
            .login(&LoginRequest {
                challenge_id: ch3.challenge_id,
                frames: frames3,
                ..req.clone()
            })
            .await;
        let unknown = c
            .login(&LoginRequest {
                challenge_id: "chl_nope".into(),
                ..req.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(code(&unknown), "challenge_unknown");
        let wrong_pw = c
            .login(&LoginRequest {
                password: "nope".into(),
                ..req.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(code(&wrong_pw), "bad_credentials");
        if defects.is_empty() {
            assert_eq!(code(&again.unwrap_err()), "challenge_used");
            assert_eq!(code(&late.unwrap_err()), "challenge_expired");
        } else {
            again.expect("reusable-challenge: reuse accepted");
            late.expect("reusable-challenge: expired accepted");
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn liveness_spoofs_are_refused_unless_weak() {
    for defects in [vec![], vec![Defect::WeakLiveness]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, 1.0).await;
        let who = duxue_media::identity(300);
        c.register_learner(&registration(&who, &w.enterprise.organisation_id))
            .await
            .unwrap();
        let mut accepted = Vec::new();
        for species in duxue_media::Species::ALL {
            let ch = c.request_challenge(&who.id_number).await.unwrap();
            let frames = duxue_media::attack_frames(species, &who, &media_challenge(&ch), 8);
            let r = c
                .login(&LoginRequest {
                    id_number: who.id_number.clone(),
                    password: "pass-word-1".into(),
                    challenge_id: ch.challenge_id,
                    frames: frames.iter().map(|f| b64(f)).collect(),
                    device_id: None,
                })
                .await;
            match r {
                Ok(_) => accepted.push(species),
                Err(e) => assert!(
                    ["liveness_failed", "face_mismatch", "no_face"].contains(&code(&e).as_str()),
                    "{species:?}: {e}"
                ),
            }
        }
        // another person is refused by the face match either way
        assert!(!accepted.contains(&duxue_media::Species::OtherPerson));
        if defects.is_empty() {
            assert!(accepted.is_empty(), "clean platform accepted {accepted:?}");
        } else {
            assert!(
                accepted.contains(&duxue_media::Species::Print)
                    || accepted.contains(&duxue_media::Species::Replay),
                "weak-liveness accepted {accepted:?}"
            );
        }
        // genuine login still works
        login(c, &who).await.expect("genuine login");
        env.stop().await;
    }
}

#[tokio::test]
async fn one_live_session_and_logout_revokes() {
    for defects in [
        vec![],
        vec![Defect::MultiLogin],
        vec![Defect::LogoutKeepsToken],
    ] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, 1.0).await;
        let s = student(c, 400, &w.enterprise.organisation_id).await;
        let second = login(c, &s.who).await.expect("second login");
        let first = c.get_me(&s.session.token).await;
        if defects.contains(&Defect::MultiLogin) {
            first.expect("multi-login keeps the first session");
        } else {
            assert_eq!(code(&first.unwrap_err()), "session_revoked");
        }
        c.get_me(&second.token).await.expect("second session works");
        c.logout(&second.token).await.expect("logout");
        let after = c.get_me(&second.token).await;
        if defects.contains(&Defect::LogoutKeepsToken) {
            after.expect("logout-keeps-token");
        } else {
            assert_eq!(code(&after.unwrap_err()), "session_revoked");
        }
        // missing and forged tokens are refused everywhere
        assert_eq!(code(&c.get_me("forged").await.unwrap_err()), "unauthorized");
        let raw = c
            .send_path(
                "getMe",
                operations::Method::Get,
                "/me",
                Auth::Anonymous,
                None,
            )
            .await
            .unwrap();
        assert_eq!(raw.status, 401);
        env.stop().await;
    }
}

#[tokio::test]
async fn one_place_whatever_the_device_id_says() {
    for defects in [vec![], vec![Defect::SameDeviceMultiLogin]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, 1.0).await;
        let who = duxue_media::identity(420);
        c.register_learner(&registration(&who, &w.enterprise.organisation_id))
            .await
            .unwrap();
        for bad in [String::new(), "d".repeat(65)] {
            let r = login_on(c, &who, Some(&bad)).await;
            assert_eq!(code(&r.unwrap_err()), "invalid_request", "{bad:?}");
        }
        let first = login_on(c, &who, Some("phone-1")).await.expect("first");
        let same = login_on(c, &who, Some("phone-1"))
            .await
            .expect("same device");
        let kept = c.get_me(&first.token).await;
        if defects.contains(&Defect::SameDeviceMultiLogin) {
            kept.expect("same-device-multi-login keeps the first session");
        } else {
            assert_eq!(code(&kept.unwrap_err()), "session_revoked");
        }
        // Another device always replaces the sessions before it.
        let other = login_on(c, &who, Some("laptop-2"))
            .await
            .expect("other device");
        assert_eq!(
            code(&c.get_me(&same.token).await.unwrap_err()),
            "session_revoked"
        );
        c.get_me(&other.token).await.expect("newest session works");
        env.stop().await;
    }
}

#[tokio::test]
async fn bad_input_answers_the_error_shape() {
    let env = Env::new(&[]).await;
    let c = &env.client;
    let w = world(c, 1.0).await;
    let reg = operation("registerLearner").unwrap();
    let check = |a: RawAnswer, status: u16, code: &str| {
        assert_eq!(a.status, status, "{}", String::from_utf8_lossy(&a.body));
        let body: ErrorBody = serde_json::from_slice(&a.body).expect("error shape");
        assert_eq!(body.code.as_str(), code);
    };
    check(
        c.send_raw(reg, &[], Auth::Anonymous, Some(b"{not json".to_vec()))
            .await
            .unwrap(),
        400,
        "invalid_request",
    );
    let mut v = serde_json::to_value(registration(
        &duxue_media::identity(500),
        &w.enterprise.organisation_id,
    ))
    .unwrap();
    v["surprise"] = serde_json::json!(1);
    check(
        c.send_raw(
            reg,
            &[],
            Auth::Anonymous,
            Some(serde_json::to_vec(&v).unwrap()),
        )
        .await
        .unwrap(),
        400,
        "invalid_request",
    );
    check(
        c.send_raw(reg, &[], Auth::Anonymous, Some(vec![b'x'; 5 * 1024 * 1024]))
            .await
            .unwrap(),
        413,
        "payload_too_large",
    );
    check(
        c.send_raw(reg, &[], Auth::Anonymous, None).await.unwrap(),
        400,
        "invalid_request",
    );
    check(
        c.send_path(
            "x",
            operations::Method::Get,
            "/nowhere",
            Auth::Anonymous,
            None,
        )
        .await
        .unwrap(),
        404,
        "not_found",
    );
    check(
        c.send_method("x", "DELETE", "/meta", Auth::Anonymous, None)
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    );
    let mut bad_id = registration(&duxue_media::identity(501), &w.enterprise.organisation_id);
    bad_id.id_number = "12345".into();
    check(
        c.send_raw(
            reg,
            &[],
            Auth::Anonymous,
            Some(serde_json::to_vec(&bad_id).unwrap()),
        )
        .await
        .unwrap(),
        422,
        "invalid_id_number",
    );
    // conformance endpoints
    let cohort = operation("createCohort").unwrap();
    let body = serde_json::to_vec(&CohortRequest {
        label: "x".into(),
        clock_scale: 1.0,
        start_at: None,
    })
    .unwrap();
    check(
        c.send_raw(cohort, &[], Auth::Anonymous, Some(body.clone()))
            .await
            .unwrap(),
        401,
        "unauthorized",
    );
    check(
        c.send_raw(
            cohort,
            &[],
            Auth::ConformanceToken("wrong"),
            Some(body.clone()),
        )
        .await
        .unwrap(),
        401,
        "unauthorized",
    );
    let neg = serde_json::to_vec(&CohortRequest {
        label: "x".into(),
        clock_scale: -1.0,
        start_at: None,
    })
    .unwrap();
    check(
        c.send_raw(cohort, &[], Auth::Default, Some(neg))
            .await
            .unwrap(),
        400,
        "invalid_request",
    );
    let back = c
        .advance_clock(&w.cohort.cohort_id, -5.0)
        .await
        .unwrap_err();
    assert_eq!(code(&back), "clock_backwards");
    env.stop().await;
}
