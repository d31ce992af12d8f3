//! §五(二) 实名制 and 活体检测: registration with real identity documents (one learner per ID
//! number), liveness before every login (also after a logout), refusal of presentation attacks
//! measured as a rate with its 95% bound over trials interleaved with genuine ones, one account
//! in one place (from the same device and from another).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use duxue_media::Species;
use duxue_media::id_number::InvalidIdKind;
use duxue_profile::{ClientError, ErrorCode, LearnerSession, OrganisationKind};
use rand::seq::SliceRandom;

use super::{round, setup};
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{Presentation, SimLearner, refuses_the_person};
use crate::outcome::{Judge, ProbeError};
use crate::stats::upper_bound_95;

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

/// ID-1: 实名注册 — name, valid ID number, ID-card image and face image; invalid or missing
/// refused; one ID number is one learner, in its own organisation or any other.
pub async fn real_name_registration(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-1").await?;
    let mut honest = fx.learner();
    let accepted = honest.register().await.map(|_| ());
    if j.expect_ok("an honest registration is accepted", &accepted) {
        let other = fx
            .organisation("另一企业", OrganisationKind::Enterprise)
            .await?;
        for (what, organisation) in [
            ("in the same organisation", honest.organisation_id.clone()),
            ("in another organisation", other.organisation_id),
        ] {
            let mut again = honest.twin();
            again.organisation_id = organisation;
            let result = again.register().await.map(|_| ());
            duplicate_refused(
                j,
                &format!("the same ID number registered again {what} is refused"),
                &result,
            );
        }
    }

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

/// A second registration of a registered person must be refused for the duplicate: a refusal
/// of its photos (a retake failed three times) says nothing about the ID number.
fn duplicate_refused(j: &mut Judge, name: &str, result: &Result<(), ClientError>) {
    match result {
        Ok(()) => {
            j.check(
                name,
                false,
                "accepted: two learners now share one ID number",
            );
        }
        Err(e) if e.is(&ErrorCode::FaceMismatch) || e.is(&ErrorCode::NoFace) => {
            j.undecided(name, format!("its photos were refused instead: {e}"));
        }
        Err(e) if e.is_refusal() => {
            j.check(name, true, e.to_string());
        }
        Err(e) => j.undecided(name, e.to_string()),
    }
}

/// One trial of a biometric check: a genuine presentation or an attack of some kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trial<K> {
    Genuine,
    Attack(K),
}

/// How the trials of one kind ended.
#[derive(Debug, Default)]
struct Tally {
    accepted: usize,
    /// Refused by the biometric check itself.
    refused: usize,
    /// Neither: another refusal or an error (these trials are not counted).
    other: Vec<String>,
}

impl Tally {
    fn add(&mut self, outcome: TrialOutcome) {
        match outcome {
            TrialOutcome::Accepted => self.accepted += 1,
            TrialOutcome::Refused => self.refused += 1,
            TrialOutcome::Other(why) => self.other.push(why),
        }
    }

    fn decided(&self) -> usize {
        self.accepted + self.refused
    }
}

enum TrialOutcome {
    Accepted,
    Refused,
    Other(String),
}

/// `attacks` trials of each kind and `genuine` genuine ones, shuffled (seeded) and dealt into
/// `streams` sequences: genuine and attack trials interleave, in no order a platform could
/// learn, and the streams run side by side.
fn interleaved<K: Copy>(
    kinds: &[K],
    attacks: usize,
    genuine: usize,
    streams: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<Vec<Trial<K>>> {
    let mut trials: Vec<Trial<K>> = kinds
        .iter()
        .flat_map(|k| std::iter::repeat_n(Trial::Attack(*k), attacks))
        .chain(std::iter::repeat_n(Trial::Genuine, genuine))
        .collect();
    trials.shuffle(rng);
    let streams = streams.max(1);
    let mut out = vec![Vec::new(); streams];
    for (i, trial) in trials.into_iter().enumerate() {
        out[i % streams].push(trial);
    }
    out
}

/// Judges the attacks of one kind: the one-sided 95% upper bound on the share accepted must
/// not exceed the policy's maximum. Trials that ended in another refusal or an error are left
/// out; too few decided trials to bound the rate leave the check undecided.
fn judge_pass_through(j: &mut Judge, ctx: &ProbeContext, prefix: &str, what: &str, t: &Tally) {
    let max = ctx.policy.judging.biometric_pass_through_rate_max.value;
    let n = t.decided();
    let bound = upper_bound_95(t.accepted, n);
    j.figure(&format!("{prefix}.attempts"), n + t.other.len());
    j.figure(&format!("{prefix}.accepted"), t.accepted);
    j.figure(&format!("{prefix}.refused"), t.refused);
    j.figure(
        &format!("{prefix}.pass_through_upper_95"),
        round(bound * 10_000.0) / 10_000.0,
    );
    let name = format!(
        "{what}: at 95% confidence at most {:.0}% get through",
        max * 100.0
    );
    let detail = format!(
        "{} of {n} accepted; the 95% upper bound on the pass-through rate is {:.1}%{}",
        t.accepted,
        bound * 100.0,
        if t.other.is_empty() {
            String::new()
        } else {
            format!(
                " ({} more not judged: {})",
                t.other.len(),
                t.other.first().map(String::as_str).unwrap_or_default()
            )
        }
    );
    if bound <= max || t.accepted > 0 {
        j.check(name, bound <= max, detail);
    } else {
        j.undecided(name, format!("too few trials judged: {detail}"));
    }
}

/// Judges the genuine trials: every one accepted (a person retries a refused liveness answer).
fn judge_genuine(j: &mut Judge, name: &str, t: &Tally) {
    j.figure("genuine.attempts", t.decided() + t.other.len());
    j.figure("genuine.accepted", t.accepted);
    if t.decided() == 0 {
        j.undecided(name, format!("no genuine trial was judged: {:?}", t.other));
        return;
    }
    j.check(
        name,
        t.refused == 0,
        format!("{} of {} genuine trials accepted", t.accepted, t.decided()),
    );
}

/// Trials run side by side (a platform sees several people at its desk at once).
const TRIAL_STREAMS: usize = 5;

/// ID-2: 人脸与身份证照片比对 — the registration face must match the ID-card photo, measured
/// over registrations with another person's face interleaved with honest ones.
pub async fn registration_face_matches_id_card(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-2").await?;
    let attacks = ctx.policy.judging.biometric_attack_trials.value as usize;
    let genuine = attacks.div_ceil(3);
    let mut rng = crate::seeds::rng(ctx.seed, "ID-2 trials");
    let streams = interleaved(&[()], attacks, genuine, TRIAL_STREAMS, &mut rng);
    let fx = &fx;
    let runs = streams.into_iter().map(|trials| async move {
        let mut out = Vec::new();
        for trial in trials {
            let outcome = match trial {
                Trial::Genuine => {
                    let mut honest = fx.learner();
                    match honest.register().await {
                        Ok(_) => TrialOutcome::Accepted,
                        Err(e) if refused_the_face(&e) => TrialOutcome::Refused,
                        Err(e) => TrialOutcome::Other(e.to_string()),
                    }
                }
                Trial::Attack(()) => {
                    let mut holder = fx.learner();
                    let mut request = holder.registration().await;
                    let mut other = fx.learner();
                    request.face_image = other.registration().await.face_image;
                    match fx.client.register_learner(&request).await {
                        Ok(_) => TrialOutcome::Accepted,
                        Err(e) if refused_the_face(&e) => TrialOutcome::Refused,
                        Err(e) => TrialOutcome::Other(e.to_string()),
                    }
                }
            };
            out.push((trial, outcome));
        }
        out
    });
    let (mut genuine_tally, mut attack_tally) = (Tally::default(), Tally::default());
    for (trial, outcome) in futures::future::join_all(runs).await.into_iter().flatten() {
        match trial {
            Trial::Genuine => genuine_tally.add(outcome),
            Trial::Attack(()) => attack_tally.add(outcome),
        }
    }
    judge_pass_through(
        j,
        ctx,
        "other_face",
        "registrations with another person's face on the ID card are refused",
        &attack_tally,
    );
    judge_genuine(
        j,
        "honest registrations (face matching the ID card) are accepted",
        &genuine_tally,
    );
    Ok(())
}

/// A registration refused for its face (which one of another person must be).
fn refused_the_face(e: &ClientError) -> bool {
    e.is(&ErrorCode::FaceMismatch) || e.is(&ErrorCode::NoFace)
}

/// Judges a login the probe expects refused while the learner has no live session. A session
/// that opens fails the check (and is logged out again, so the next attempt starts clean); a
/// `session_conflict` says nothing about the challenge or the frames, so it decides nothing.
async fn login_refused(
    j: &mut Judge,
    fx: &Fixture,
    name: &str,
    result: Result<LearnerSession, ClientError>,
) {
    match result {
        Ok(session) => {
            let _ = fx.client.logout(&session.token).await;
            j.check(name, false, "accepted: a session opened");
        }
        Err(e) if e.is(&ErrorCode::SessionConflict) => {
            j.undecided(name, format!("refused as a session conflict: {e}"));
        }
        Err(e) if e.is_refusal() => {
            j.check(name, true, e.to_string());
        }
        Err(e) => j.undecided(name, e.to_string()),
    }
}

/// Logs the learner's session out (between attempts, so none meets a live session).
async fn log_out(fx: &Fixture, learner: &mut SimLearner) -> Result<(), ProbeError> {
    if let Some(session) = learner.session.take() {
        setup("log out", fx.client.logout(&session.token).await)?;
    }
    Ok(())
}

/// ID-3: 每次登录学习前的活体检测 — a passed liveness check before every study login, the
/// first and every one after a logout.
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
    login_refused(
        j,
        &fx,
        "a login without liveness frames is refused",
        no_frames,
    )
    .await;

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
    // Logged out again, so the replays below meet no live session (a platform may refuse a
    // second login with `session_conflict`, which says nothing about the challenge).
    log_out_of(&fx, &first).await;
    let reused = learner
        .login_with_frames(&challenge.challenge_id, frames.clone())
        .await;
    login_refused(
        j,
        &fx,
        "the same challenge answered again (replayed login) is refused",
        reused,
    )
    .await;
    let fresh_frames = learner.frames_for(&challenge, Presentation::Genuine).await;
    let reused_fresh = learner
        .login_with_frames(&challenge.challenge_id, fresh_frames)
        .await;
    login_refused(
        j,
        &fx,
        "a used challenge answered with new frames is refused",
        reused_fresh,
    )
    .await;

    // After a logout the learner has no session: every way back in needs a fresh liveness pass.
    log_out(&fx, &mut learner).await?;
    let unknown = learner
        .login_with_frames("no-such-challenge-4f1c", Vec::new())
        .await;
    login_refused(
        j,
        &fx,
        "a login with an unknown challenge is refused",
        unknown,
    )
    .await;
    let replayed = learner
        .login_with_frames(&challenge.challenge_id, frames)
        .await;
    login_refused(
        j,
        &fx,
        "after a logout, the challenge and frames of the ended session's login are refused",
        replayed,
    )
    .await;
    let after_logout = setup(
        "request a challenge",
        fx.client.request_challenge(&id_number).await,
    )?;
    let bare = learner
        .login_with_frames(&after_logout.challenge_id, Vec::new())
        .await;
    login_refused(
        j,
        &fx,
        "after a logout, a login without liveness frames is refused",
        bare,
    )
    .await;
    let back = learner.login().await.map(|_| ());
    j.expect_ok(
        "after a logout, a new genuine liveness answer logs in",
        &back,
    );
    log_out(&fx, &mut learner).await?;

    let ttl = f64::from(ctx.policy.rules.liveness_challenge_ttl_seconds.value);
    let stale = setup(
        "request a challenge",
        fx.client.request_challenge(&id_number).await,
    )?;
    fx.advance(ttl + 60.0).await?;
    let frames = learner.frames_for(&stale, Presentation::Genuine).await;
    let expired = learner.login_with_frames(&stale.challenge_id, frames).await;
    login_refused(
        j,
        &fx,
        &format!(
            "a challenge answered {:.0} s after it was issued (TTL {ttl:.0} s) is refused",
            ttl + 60.0
        ),
        expired,
    )
    .await;

    let again = learner.login().await.map(|_| ());
    j.expect_ok("a new genuine login after those attempts succeeds", &again);
    Ok(())
}

/// ID-4: 活体检测拒绝假体攻击 — printed photo, screen, replay for another challenge, another
/// person: attack trials of each species interleaved with genuine logins in a seeded random
/// order, the pass-through rate of each species bounded at 95%.
pub async fn liveness_refuses_spoofs(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-4").await?;
    let attacks = ctx.policy.judging.biometric_attack_trials.value as usize;
    let genuine = 3 * TRIAL_STREAMS;
    let mut rng = crate::seeds::rng(ctx.seed, "ID-4 trials");
    let streams = interleaved(&Species::ALL, attacks, genuine, TRIAL_STREAMS, &mut rng);
    let fx = &fx;
    let runs = streams.into_iter().map(|trials| async move {
        // Each stream attacks its own victim, who also logs in as itself now and then.
        let mut victim = fx.learner();
        setup("register", victim.register().await.map(|_| ()))?;
        let mut out = Vec::new();
        for trial in trials {
            let how = match trial {
                Trial::Genuine => Presentation::Genuine,
                Trial::Attack(species) => Presentation::Attack(species),
            };
            let outcome = match victim.login_as(how).await.map(|s| s.token.clone()) {
                Ok(token) => {
                    // Log out, so the next trial meets no live session (a platform may refuse a
                    // second login, and that refusal is not a liveness judgement).
                    victim.session = None;
                    setup("log out", fx.client.logout(&token).await)?;
                    TrialOutcome::Accepted
                }
                Err(e) if refuses_the_presentation(&e) => TrialOutcome::Refused,
                Err(e) => TrialOutcome::Other(e.to_string()),
            };
            out.push((trial, outcome));
        }
        Ok::<_, ProbeError>(out)
    });
    let mut genuine_tally = Tally::default();
    let mut by_species: Vec<(Species, Tally)> = Species::ALL
        .iter()
        .map(|s| (*s, Tally::default()))
        .collect();
    for stream in futures::future::join_all(runs).await {
        for (trial, outcome) in stream? {
            match trial {
                Trial::Genuine => genuine_tally.add(outcome),
                Trial::Attack(species) => {
                    if let Some((_, tally)) = by_species.iter_mut().find(|(s, _)| *s == species) {
                        tally.add(outcome);
                    }
                }
            }
        }
    }
    for (species, tally) in &by_species {
        judge_pass_through(
            j,
            ctx,
            species.as_str(),
            &format!("{} attacks are refused", species.as_str()),
            tally,
        );
    }
    judge_genuine(
        j,
        "genuine presentations log in (the check is not refusing everyone)",
        &genuine_tally,
    );
    Ok(())
}

/// A refusal that judged the presented face (liveness, face match, no face): the refusal of
/// an attack, where a refused challenge or a live session elsewhere is not.
fn refuses_the_presentation(e: &duxue_profile::ClientError) -> bool {
    refuses_the_person(e) || e.is(&duxue_profile::ErrorCode::NoFace)
}

/// ID-5: 单个学员学习账号无法多处登录 — never two live sessions, whether the second login
/// comes from the same device or from another.
pub async fn one_account_one_place(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = fixture(ctx, "ID-5").await?;
    for (place, same_device) in [("the same device", true), ("another device", false)] {
        let mut first = fx.learner();
        setup("register", first.register().await.map(|_| ()))?;
        setup("first login", first.login().await.map(|_| ()))?;
        let mut second = first.twin();
        if same_device {
            second.device_id = first.device_id.clone();
        }
        let second_login = second.login().await.map(|s| s.token.clone());
        let token_a = first.token()?.to_owned();
        let a_works = fx.client.get_me(&token_a).await;
        let prefix = if same_device {
            "same_device"
        } else {
            "other_device"
        };
        match second_login {
            Ok(token_b) => {
                let b_works = fx.client.get_me(&token_b).await;
                // Only a 401 revoked/unauthorized says a session is gone; a 5xx decides nothing.
                match (session_live(&a_works), session_live(&b_works)) {
                    (Some(a_live), Some(b_live)) => {
                        let live = usize::from(a_live) + usize::from(b_live);
                        j.figure(&format!("{prefix}.live_sessions_after_second_login"), live);
                        j.check(
                            format!(
                                "after a second login from {place} at most one session is live"
                            ),
                            live <= 1,
                            format!(
                                "first session {}, second session {}",
                                if a_live { "live" } else { "revoked" },
                                if b_live { "live" } else { "revoked" }
                            ),
                        );
                    }
                    _ => {
                        for (which, answer) in [("first", &a_works), ("second", &b_works)] {
                            if let (None, Err(e)) = (session_live(answer), answer) {
                                j.undecided(
                                    format!(
                                        "whether the {which} session is live after a second \
                                         login from {place}"
                                    ),
                                    e.to_string(),
                                );
                            }
                        }
                    }
                }
                j.expect_ok(&format!("the newer session (from {place}) works"), &b_works);
            }
            Err(e) if e.is(&ErrorCode::SessionConflict) => {
                j.check(
                    format!("the second login from {place} is refused as a session conflict"),
                    true,
                    e.to_string(),
                );
                j.expect_ok(
                    &format!("the first session still works after the login from {place}"),
                    &a_works,
                );
                j.figure(
                    &format!("{prefix}.live_sessions_after_second_login"),
                    usize::from(a_works.is_ok()),
                );
            }
            Err(e) => j.undecided(
                format!("second login from {place}"),
                format!("neither accepted nor refused as a session conflict: {e}"),
            ),
        }
    }
    Ok(())
}

/// Whether a session answered as live (`Some(true)`), as ended (`Some(false)`: 401
/// `session_revoked` or `unauthorized`), or could not tell (`None`: any other answer, such as a
/// 503, which revokes nothing).
fn session_live<T>(answer: &Result<T, duxue_profile::ClientError>) -> Option<bool> {
    use duxue_profile::ErrorCode;
    match answer {
        Ok(_) => Some(true),
        Err(e) if e.is_with(401, &[ErrorCode::SessionRevoked, ErrorCode::Unauthorized]) => {
            Some(false)
        }
        Err(_) => None,
    }
}
