//! §五(二) 实名制 and 活体检测: registration with real identity documents, liveness before
//! every login, refusal of presentation attacks, one account in one place.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use duxue_media::Species;
use duxue_media::id_number::InvalidIdKind;

use super::{round, setup};
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{Presentation, refuses_the_person};
use crate::outcome::{Judge, ProbeError};

/// Identity probes judge no elapsed time except across explicit clock jumps, so their cohort
/// runs at wall speed: on a loaded machine the harness's own slow answer must not outlive a
/// liveness challenge's TTL (120 s is 2 wall seconds at the default clock scale).
async fn fixture(ctx: &ProbeContext, label: &str) -> Result<Fixture, ProbeError> {
    let wall_speed = 1.0 / ctx.clock_scale;
    Fixture::new(ctx, label, wall_speed, &CourseShape::pure_online(8, 3)).await
}

/// Logs out the session a login attempt opened, if it opened one, so that the next attempt
/// meets no live session: a platform may refuse a second login while one is live
/// (`session_conflict`), which would then answer for the check being tried.
async fn log_out_of<T>(fx: &Fixture, attempt: &Result<duxue_profile::LearnerSession, T>) {
    if let Ok(session) = attempt {
        let _ = fx.client.logout(&session.token).await;
    }
}

/// Spoils one field of an otherwise genuine registration.
type Breaker = fn(&mut duxue_profile::RegistrationRequest);

/// ID-1: 实名注册 — name, valid ID number, ID-card image and face image; invalid or missing refused.
pub async fn real_name_registration(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-1").await?;
    let mut honest = fx.learner();
    let accepted = honest.register().await.map(|_| ());
    j.expect_ok("an honest registration is accepted", &accepted);

    let invalid_ids = [
        (
            InvalidIdKind::BadCheckDigit,
            "an ID number with a bad check digit",
        ),
        (
            InvalidIdKind::ImpossibleDate,
            "an ID number with an impossible birth date",
        ),
        (
            InvalidIdKind::WrongLength,
            "an ID number of the wrong length",
        ),
    ];
    let mut refused = 0;
    let mut attempts = 0;
    for (n, (kind, what)) in invalid_ids.into_iter().enumerate() {
        let mut learner = fx.learner();
        let mut request = learner.registration().await;
        request.id_number = duxue_media::id_number::invalid(kind, ctx.seed ^ n as u64);
        attempts += 1;
        let result = fx.client.register_learner(&request).await;
        refused += usize::from(j.expect_refused(&format!("{what} is refused"), &result));
    }
    let broken: [(&str, Breaker); 4] = [
        ("a registration without an ID-card image is refused", |r| {
            r.id_card_image.clear()
        }),
        ("a registration without a face image is refused", |r| {
            r.face_image.clear()
        }),
        ("a face image that is not a picture is refused", |r| {
            r.face_image = B64.encode(b"GIF89a this is not a face at all, just some bytes");
        }),
        ("a registration without a name is refused", |r| {
            r.name.clear()
        }),
    ];
    for (what, breaker) in broken {
        let mut learner = fx.learner();
        let mut request = learner.registration().await;
        breaker(&mut request);
        attempts += 1;
        let result = fx.client.register_learner(&request).await;
        refused += usize::from(j.expect_refused(what, &result));
    }
    j.figure("invalid_registrations", attempts);
    j.figure("invalid_registrations_refused", refused);
    Ok(())
}

/// ID-2: 人脸与身份证照片比对 — the registration face must match the ID-card photo.
pub async fn registration_face_matches_id_card(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-2").await?;
    let mut refused = 0;
    const ATTEMPTS: usize = 4;
    for n in 0..ATTEMPTS {
        let mut holder = fx.learner();
        let mut request = holder.registration().await;
        let mut other = fx.learner();
        request.face_image = other.registration().await.face_image;
        let result = fx.client.register_learner(&request).await;
        refused += usize::from(j.expect_refused(
            &format!("registration {n}: another person's face with this ID card is refused"),
            &result,
        ));
    }
    for n in 0..2 {
        let mut honest = fx.learner();
        let result = honest.register().await.map(|_| ());
        j.expect_ok(
            &format!("honest registration {n} with matching face is accepted"),
            &result,
        );
    }
    j.figure("mismatched_registrations", ATTEMPTS);
    j.figure("mismatched_refused", refused);
    Ok(())
}

/// ID-3: 每次登录学习前的活体检测 — a passed liveness check before every study login.
pub async fn liveness_before_every_login(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-3").await?;
    let mut learner = fx.learner();
    setup("register", learner.register().await.map(|_| ()))?;
    let id_number = learner.identity.id_number.clone();

    let challenge = setup(
        "request a challenge",
        fx.client.request_challenge(&id_number).await,
    )?;
    let no_frames = learner
        .login_with_frames(&challenge.challenge_id, Vec::new())
        .await;
    j.expect_refused("a login without liveness frames is refused", &no_frames);

    // A liveness check refuses some genuine answers (its error rate is not zero); a person
    // tries again, so the probe allows three attempts, each with a new challenge.
    const GENUINE_ATTEMPTS: usize = 3;
    let mut refusals = Vec::new();
    let (challenge, frames, first) = loop {
        let challenge = setup(
            "request a challenge",
            fx.client.request_challenge(&id_number).await,
        )?;
        let frames = learner.frames_for(&challenge, Presentation::Genuine).await;
        let answer = learner
            .login_with_frames(&challenge.challenge_id, frames.clone())
            .await;
        match answer {
            Err(e) if refusals.len() + 1 < GENUINE_ATTEMPTS && refuses_the_person(&e) => {
                refusals.push(e.to_string());
            }
            answer => break (challenge, frames, answer),
        }
    };
    j.figure("genuine_attempts", refusals.len() + 1);
    if !refusals.is_empty() {
        j.warn(format!(
            "genuine answers refused before one was accepted: {}",
            refusals.join("; ")
        ));
    }
    j.expect_ok(
        &format!("a genuine live answer logs in (within {GENUINE_ATTEMPTS} attempts)"),
        &first,
    );
    log_out_of(&fx, &first).await;
    let reused = learner
        .login_with_frames(&challenge.challenge_id, frames)
        .await;
    j.expect_refused(
        "the same challenge answered again (replayed login) is refused",
        &reused,
    );
    log_out_of(&fx, &reused).await;
    let fresh_frames = learner.frames_for(&challenge, Presentation::Genuine).await;
    let reused_fresh = learner
        .login_with_frames(&challenge.challenge_id, fresh_frames)
        .await;
    j.expect_refused(
        "a used challenge answered with new frames is refused",
        &reused_fresh,
    );
    log_out_of(&fx, &reused_fresh).await;

    let unknown = learner
        .login_with_frames("no-such-challenge-4f1c", Vec::new())
        .await;
    j.expect_refused("a login with an unknown challenge is refused", &unknown);

    let ttl = f64::from(ctx.policy.rules.liveness_challenge_ttl_seconds.value);
    let stale = setup(
        "request a challenge",
        fx.client.request_challenge(&id_number).await,
    )?;
    fx.advance(ttl + 60.0).await?;
    let frames = learner.frames_for(&stale, Presentation::Genuine).await;
    let expired = learner.login_with_frames(&stale.challenge_id, frames).await;
    j.expect_refused(
        &format!(
            "a challenge answered {:.0} s after it was issued (TTL {ttl:.0} s) is refused",
            ttl + 60.0
        ),
        &expired,
    );
    log_out_of(&fx, &expired).await;

    let again = learner.login().await.map(|_| ());
    j.expect_ok("a new genuine login after those attempts succeeds", &again);
    Ok(())
}

/// ID-4: 活体检测拒绝假体攻击 — printed photo, screen, replay for another challenge, another person.
pub async fn liveness_refuses_spoofs(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    const PER_SPECIES: usize = 4;
    const GENUINE: usize = 4;
    let fx = fixture(ctx, "ID-4").await?;
    let mut victim = fx.learner();
    setup("register", victim.register().await.map(|_| ()))?;
    // Every accepted login is logged out again, so no attempt meets a live session (which a
    // platform may refuse with `session_conflict`); only a refusal that judged the face or
    // the liveness counts as an attack refused.
    for species in Species::ALL {
        let mut accepted = 0;
        let mut refused = 0;
        for _ in 0..PER_SPECIES {
            let result = victim
                .login_as(Presentation::Attack(species))
                .await
                .cloned();
            log_out_of(&fx, &result).await;
            match &result {
                Ok(_) => accepted += 1,
                Err(e) if refuses_the_presentation(e) => refused += 1,
                Err(e) => j.undecided(format!("{} attack", species.as_str()), e.to_string()),
            }
        }
        j.check(
            format!("every {} attack is refused", species.as_str()),
            accepted == 0,
            format!("{accepted} of {} accepted", accepted + refused),
        );
        j.figure(
            &format!("{}.attempts", species.as_str()),
            accepted + refused,
        );
        j.figure(&format!("{}.accepted", species.as_str()), accepted);
        if accepted == 0 && refused > 0 {
            // Rule of three: with no acceptance in n trials, APCER < 3/n at 95% confidence.
            j.figure(
                &format!("{}.apcer_upper_95", species.as_str()),
                round(3.0 / refused as f64 * 1000.0) / 1000.0,
            );
        }
    }
    let mut genuine_ok = 0;
    for _ in 0..GENUINE {
        let result = victim.login().await.cloned();
        log_out_of(&fx, &result).await;
        if result.is_ok() {
            genuine_ok += 1;
        }
    }
    j.figure("genuine.attempts", GENUINE);
    j.figure("genuine.accepted", genuine_ok);
    j.check(
        "genuine presentations log in (the check is not refusing everyone)",
        genuine_ok == GENUINE,
        format!("{genuine_ok} of {GENUINE} genuine logins accepted"),
    );
    Ok(())
}

/// A refusal that judged the presented face (liveness, face match, no face): the refusal of
/// an attack, where a refused challenge or a live session elsewhere is not.
fn refuses_the_presentation(e: &duxue_profile::ClientError) -> bool {
    refuses_the_person(e) || e.is(&duxue_profile::ErrorCode::NoFace)
}

/// ID-5: 单个学员学习账号无法多处登录 — never two live sessions.
pub async fn one_account_one_place(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-5").await?;
    let mut device_a = fx.learner();
    setup("register", device_a.register().await.map(|_| ()))?;
    setup("first login", device_a.login().await.map(|_| ()))?;
    let mut device_b = device_a.twin();
    let second = device_b.login().await.map(|s| s.token.clone());
    let token_a = device_a.token()?.to_owned();
    let a_works = fx.client.get_me(&token_a).await;
    match second {
        Ok(token_b) => {
            let b_works = fx.client.get_me(&token_b).await;
            let live = usize::from(a_works.is_ok()) + usize::from(b_works.is_ok());
            j.figure("live_sessions_after_second_login", live);
            j.check(
                "after a second login at most one session is live",
                live <= 1,
                format!(
                    "first session {}, second session {}",
                    if a_works.is_ok() { "live" } else { "refused" },
                    if b_works.is_ok() { "live" } else { "refused" }
                ),
            );
            j.expect_ok("the newer session works", &b_works);
        }
        // Refused as a second login, not for some other reason (a genuine face refused).
        Err(e) if e.is(&duxue_profile::ErrorCode::SessionConflict) => {
            j.check("the second login is refused", true, e.to_string());
            j.expect_ok("the first session still works", &a_works);
            j.figure(
                "live_sessions_after_second_login",
                usize::from(a_works.is_ok()),
            );
        }
        Err(e) => j.undecided("second login", e.to_string()),
    }
    Ok(())
}
