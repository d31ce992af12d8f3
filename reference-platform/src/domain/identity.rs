//! Identity: real-name registration (ID-1, ID-2), liveness challenges and login (ID-3, ID-4),
//! one live session per account (ID-5), logout and token authentication (SC-2).

use base64::Engine;
use duxue_profile::{
    ErrorCode, Learner, LearnerSession, LivenessChallenge, LivenessRecord, LoginRequest,
    RegistrationRequest, SupervisorLogin, SupervisorSession,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::*;
use crate::biometrics;
use crate::clock::to_datetime;
use crate::controls::SecondLogin;
use crate::error::Outcome;
use crate::ids::{hash_password, new_id, new_token, password_matches, token_hash};

/// Most frames a liveness answer may carry.
pub const MAX_FRAMES: usize = 64;
/// Learners with a live session a cohort holds under defect `login-cap-below-peak`.
pub const LOGIN_CAP: usize = 150;

/// Longest `device_id` a login may name.
pub const MAX_DEVICE_ID: usize = 64;

/// A liveness attempt as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LivenessDoc {
    pub id: String,
    pub learner_id: String,
    pub cohort_id: String,
    pub at: f64,
    pub record: LivenessRecord,
}
impl_doc!(
    LivenessDoc,
    "liveness",
    id,
    cohort_id,
    at,
    owner = learner_id
);

/// Who is calling, from the bearer token.
#[derive(Clone, Debug)]
pub enum Principal {
    Learner {
        learner_id: String,
        session_id: String,
        cohort_id: String,
    },
    Supervisor(SupervisorRec),
}

/// Decodes a base64 image field: a JPEG or PNG of at least `min_side` pixels each way (the
/// policy's `image_min_side_pixels`).
pub fn decode_image(field: &str, value: &str, min_side: u32) -> Outcome<Vec<u8>> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Refusal::new(
            ErrorCode::InvalidImage,
            format!("`{field}` is empty"),
        ));
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for engine in engines {
        if let Ok(bytes) = engine.decode(value) {
            biometrics::require_image(&bytes, field)?;
            biometrics::require_size(&bytes, field, min_side)?;
            return Ok(bytes);
        }
    }
    Err(Refusal::new(
        ErrorCode::InvalidImage,
        format!("`{field}` is not base64"),
    ))
}

pub fn learner_view(l: &LearnerRec) -> Learner {
    Learner {
        learner_id: l.id.clone(),
        name: l.name.clone(),
        id_number_masked: biometrics::mask_id_number(&l.id_number),
        organisation_id: l.organisation_id.clone(),
        cohort_id: l.cohort_id.clone(),
        registered_at: to_datetime(l.registered_at),
    }
}

fn valid_phone(p: &str) -> bool {
    p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit())
}

impl Platform {
    /// ID-1 and ID-2: real-name registration.
    pub async fn register(
        self: &std::sync::Arc<Self>,
        req: RegistrationRequest,
    ) -> Outcome<Learner> {
        // The body rules of `RegistrationRequest` in openapi.yaml, exactly.
        let name = req.name.trim().to_owned();
        if name.is_empty() || req.name.chars().count() > 50 {
            return Err(Refusal::invalid(
                "`name` must have 1 to 50 characters, not only white space",
            ));
        }
        if !valid_phone(&req.phone) {
            return Err(Refusal::invalid(
                "`phone` must be an 11-digit mobile number starting with 1",
            ));
        }
        if req.password.is_empty() || req.password.chars().count() > 256 {
            return Err(Refusal::invalid("`password` must have 1 to 256 characters"));
        }
        let id_number = req.id_number.trim().to_uppercase();
        let today = chrono::Utc::now()
            .with_timezone(&self.policy.calendar_offset())
            .date_naive();
        let id_ok = biometrics::id_number_valid(&id_number, today);
        let tolerated =
            self.has(Defect::AcceptInvalidId) && !id_number.is_empty() && id_number.len() <= 32;
        if !id_ok && !tolerated {
            return Err(Refusal::new(
                ErrorCode::InvalidIdNumber,
                "the ID number fails GB 11643 (length, birth date or check digit)",
            ));
        }
        let cohort_id = {
            let w = self.world.lock();
            let org = w
                .orgs
                .get(&req.organisation_id)
                .ok_or_else(|| Refusal::not_found("no such organisation"))?;
            let cohort_id = org.cohort_id.clone();
            self.refuse_duplicate(&w, &id_number, &req.organisation_id)?;
            cohort_id
        };
        let min_side = self.policy.rules.image_min_side_pixels.value;
        let face = decode_image("face_image", &req.face_image, min_side)?;
        let card = decode_image("id_card_image", &req.id_card_image, min_side)?;
        // Defect `lenient-face-match`: a threshold so loose that about one mismatch in eight passes.
        let skip_match = self.has(Defect::SkipRegistrationFaceMatch)
            || (self.has(Defect::LenientFaceMatch) && self.rng.lock().random_bool(1.0 / 8.0));
        let (face, card, template) = tokio::task::spawn_blocking(move || {
            let (face_t, card_t) = biometrics::registration_templates(&face, &card)?;
            if !skip_match {
                let (same, score) = biometrics::compare(&face_t, &card_t);
                if !same {
                    return Err(Refusal::new(
                        ErrorCode::FaceMismatch,
                        format!("the face does not match the ID-card portrait (score {score:.2})"),
                    ));
                }
            }
            Ok((face, card, biometrics::template_to_bytes(&face_t)))
        })
        .await
        .map_err(|e| Refusal::internal(format!("biometrics task: {e}")))??;
        let (salt, hash) = hash_password(&req.password);
        let mut w = self.world.lock();
        self.refuse_duplicate(&w, &id_number, &req.organisation_id)?;
        let now = w.cohort_now(&cohort_id);
        let id = new_id("lrn");
        let face_image_id = self.store_image(&id, &cohort_id, now, face);
        let id_card_image_id = self.store_image(&id, &cohort_id, now, card);
        let rec = LearnerRec {
            id: id.clone(),
            cohort_id: cohort_id.clone(),
            organisation_id: req.organisation_id,
            name,
            id_number: id_number.clone(),
            phone: req.phone.clone(),
            password_salt: salt,
            password_hash: hash,
            face_template: hex::encode(template),
            face_image_id,
            id_card_image_id,
            registered_at: now,
            last_seen_at: None,
        };
        self.save(&rec);
        self.trace(Traj::new(&id, &cohort_id, now, "registered"));
        let out = learner_view(&rec);
        w.learner_by_id_number.insert(id_number, id.clone());
        w.learners.insert(id, rec);
        Ok(out)
    }

    /// ID-1: an ID number belongs to one learner on the whole platform (login names a learner by
    /// its ID number alone).
    fn refuse_duplicate(&self, w: &World, id_number: &str, organisation_id: &str) -> Outcome<()> {
        let Some(existing) = w
            .learner_by_id_number
            .get(id_number)
            .and_then(|id| w.learners.get(id))
        else {
            return Ok(());
        };
        if self.has(Defect::DuplicateIdOtherOrganisation)
            && existing.organisation_id != organisation_id
        {
            return Ok(());
        }
        Err(Refusal::new(
            ErrorCode::DuplicateLearner,
            "this ID number is already registered",
        ))
    }

    /// ID-3: a fresh challenge for the learner with this ID number.
    pub fn request_challenge(&self, id_number: &str) -> Outcome<LivenessChallenge> {
        let mut w = self.world.lock();
        let learner_id = w
            .learner_by_id_number
            .get(&id_number.trim().to_uppercase())
            .cloned()
            .ok_or_else(|| Refusal::not_found("no learner with this ID number"))?;
        let cohort = w
            .learners
            .get(&learner_id)
            .map(|l| l.cohort_id.clone())
            .unwrap_or_default();
        let now = w.cohort_now(&cohort);
        let (nonce, actions) = biometrics::new_challenge(&mut *self.rng.lock());
        let ttl = f64::from(self.policy.rules.liveness_challenge_ttl_seconds.value);
        let rec = ChallengeRec {
            id: new_id("chl"),
            learner_id,
            nonce,
            actions,
            expires_at: now + ttl,
            used: false,
            session_id: None,
        };
        let out = LivenessChallenge {
            challenge_id: rec.id.clone(),
            nonce: rec.nonce.clone(),
            actions: rec.actions.clone(),
            expires_at: to_datetime(rec.expires_at),
        };
        w.challenges.insert(rec.id.clone(), rec);
        Ok(out)
    }

    /// ID-3, ID-4, ID-5: login with password and liveness frames.
    pub async fn login(self: &std::sync::Arc<Self>, req: LoginRequest) -> Outcome<LearnerSession> {
        if req.frames.len() > MAX_FRAMES {
            return Err(Refusal::invalid(format!("at most {MAX_FRAMES} frames")));
        }
        if let Some(device) = &req.device_id
            && (device.is_empty() || device.chars().count() > MAX_DEVICE_ID)
        {
            return Err(Refusal::invalid(format!(
                "`device_id` must have 1 to {MAX_DEVICE_ID} characters"
            )));
        }
        let (learner, cohort, nonce, actions, template) = {
            let mut w = self.world.lock();
            let learner = w
                .learner_by_id_number
                .get(&req.id_number.trim().to_uppercase())
                .and_then(|id| w.learners.get(id))
                .filter(|l| password_matches(&l.password_salt, &l.password_hash, &req.password))
                .cloned()
                .ok_or_else(|| {
                    Refusal::new(
                        ErrorCode::BadCredentials,
                        "unknown account or wrong password",
                    )
                })?;
            // Refused before the challenge is spent, and again below for a login that raced
            // another through the liveness check.
            self.refuse_second_login(&w, &learner.id)?;
            let now = w.cohort_now(&learner.cohort_id);
            let reusable = self.has_in(Defect::ReusableChallenge, &learner.cohort_id)
                || (self.has(Defect::LogoutReopensChallenge)
                    && w.challenges
                        .get(&req.challenge_id)
                        .and_then(|c| c.session_id.as_ref())
                        .and_then(|sid| w.sessions.get(sid))
                        .is_some_and(|s| s.revoked.as_deref() == Some("logout")));
            let c = w
                .challenges
                .get_mut(&req.challenge_id)
                .filter(|c| c.learner_id == learner.id)
                .ok_or_else(|| {
                    Refusal::new(
                        ErrorCode::ChallengeUnknown,
                        "no such challenge for this learner",
                    )
                })?;
            if c.used && !reusable {
                return Err(Refusal::new(
                    ErrorCode::ChallengeUsed,
                    "the challenge was already answered",
                ));
            }
            if now > c.expires_at && !reusable {
                c.used = true;
                return Err(Refusal::new(
                    ErrorCode::ChallengeExpired,
                    "the challenge expired",
                ));
            }
            c.used = true;
            let out = (c.nonce.clone(), c.actions.clone());
            let template = hex::decode(&learner.face_template)
                .map_err(|e| Refusal::internal(format!("stored template: {e}")))?;
            (learner.id, learner.cohort_id, out.0, out.1, template)
        };
        let mut frames = Vec::with_capacity(req.frames.len());
        for (i, f) in req.frames.iter().enumerate() {
            frames.push(decode_image(
                &format!("frames[{i}]"),
                f,
                self.policy.rules.image_min_side_pixels.value,
            )?);
        }
        let weak = self.has_in(Defect::WeakLiveness, &cohort);
        // Defect `lenient-liveness`: a threshold so loose that about one attack in ten passes.
        let lenient = self.has(Defect::LenientLiveness)
            && !frames.is_empty()
            && self.rng.lock().random_bool(0.1);
        let (frames, judgement) = tokio::task::spawn_blocking(move || {
            let j = biometrics::judge_liveness(&frames, &nonce, &actions, &template, weak);
            (frames, j)
        })
        .await
        .map_err(|e| Refusal::internal(format!("liveness task: {e}")))?;
        let mut judgement = judgement?;
        if lenient && !judgement.accepted && judgement.code != Some(ErrorCode::NoFace) {
            judgement.accepted = true;
            judgement.reason = format!("accepted within a loose threshold ({})", judgement.reason);
        }
        let mut w = self.world.lock();
        let now = w.cohort_now(&cohort);
        let keep = !self.has(Defect::ImagesNotKept);
        let frame_image_ids: Vec<String> = if keep {
            frames
                .into_iter()
                .map(|f| self.store_image(&learner, &cohort, now, f))
                .collect()
        } else {
            Vec::new()
        };
        let doc = LivenessDoc {
            id: new_id("liv"),
            learner_id: learner.clone(),
            cohort_id: cohort.clone(),
            at: now,
            record: LivenessRecord {
                challenge_id: req.challenge_id.clone(),
                at: to_datetime(now),
                accepted: judgement.accepted,
                reason: judgement.reason.clone(),
                frame_image_ids,
            },
        };
        self.save(&doc);
        if !judgement.accepted {
            self.trace(
                Traj::new(&learner, &cohort, now, "liveness_failed")
                    .reference(&req.challenge_id)
                    .detail(judgement.reason.clone()),
            );
            let code = judgement.code.unwrap_or(ErrorCode::LivenessFailed);
            return Err(Refusal::new(
                code,
                format!("liveness refused: {}", judgement.reason),
            ));
        }
        if self.over_login_cap(&w, &learner, &cohort) {
            return Err(Refusal::new(
                ErrorCode::LivenessFailed,
                "liveness refused: please try again later",
            ));
        }
        match self.controls_in(&cohort).second_login {
            SecondLogin::RevokeFirst => {
                let live = w.live_sessions.get(&learner).cloned().unwrap_or_default();
                for sid in live {
                    // Defect `same-device-multi-login`: a login naming the device of a live
                    // session leaves that session live.
                    let same_device = req.device_id.is_some()
                        && w.sessions.get(&sid).map(|s| &s.device_id) == Some(&req.device_id);
                    if same_device && self.has(Defect::SameDeviceMultiLogin) {
                        continue;
                    }
                    self.end_session(&mut w, &sid, "replaced", now);
                    self.trace(
                        Traj::new(&learner, &cohort, now, "session_replaced").reference(&sid),
                    );
                }
            }
            SecondLogin::RefuseNew => self.refuse_second_login(&w, &learner)?,
            SecondLogin::KeepBoth => {}
        }
        let token = new_token();
        let rec = SessionRec {
            id: new_id("ses"),
            learner_id: learner.clone(),
            cohort_id: cohort.clone(),
            token_hash: token_hash(&token),
            created_at: now,
            revoked: None,
            device_id: req.device_id.clone(),
        };
        self.save(&rec);
        self.trace(Traj::new(&learner, &cohort, now, "login").reference(&rec.id));
        if let Some(c) = w.challenges.get_mut(&req.challenge_id) {
            c.session_id = Some(rec.id.clone());
        }
        let out = LearnerSession {
            token,
            session_id: rec.id.clone(),
            learner_id: learner,
        };
        w.index_session(&rec);
        w.sessions.insert(rec.id.clone(), rec);
        Ok(out)
    }

    /// Variant `refuse-second-login`: a login while the account has a live session is refused
    /// (`session_conflict`); the live session is untouched.
    fn refuse_second_login(&self, w: &World, learner_id: &str) -> Outcome<()> {
        let live = w
            .live_sessions
            .get(learner_id)
            .is_some_and(|v| !v.is_empty());
        if live && self.controls.second_login == SecondLogin::RefuseNew {
            return Err(Refusal::new(
                ErrorCode::SessionConflict,
                "the account already has a live session; log out there first",
            ));
        }
        Ok(())
    }

    /// Defect `login-cap-below-peak`: whether a login of `learner` would go past
    /// [`LOGIN_CAP`] learners with a live session in the cohort.
    fn over_login_cap(&self, w: &World, learner: &str, cohort: &str) -> bool {
        let already_in = w.live_sessions.get(learner).is_some_and(|v| !v.is_empty());
        if !self.has(Defect::LoginCapBelowPeak) || already_in {
            return false;
        }
        w.learners_online_in(cohort) >= LOGIN_CAP
    }

    /// Ends a session: revokes its token and stops its playbacks.
    pub(crate) fn end_session(&self, w: &mut World, session_id: &str, reason: &str, now: f64) {
        let Some(s) = w.sessions.get_mut(session_id) else {
            return;
        };
        if s.revoked.is_some() {
            return;
        }
        s.revoked = Some(reason.to_owned());
        let s = s.clone();
        self.save(&s);
        if let Some(live) = w.live_sessions.get_mut(&s.learner_id) {
            live.retain(|id| id != session_id);
        }
        let playing: Vec<String> = w
            .active_playbacks
            .get(&s.learner_id)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                w.playbacks
                    .get(p)
                    .is_some_and(|p| p.session_id == session_id)
            })
            .collect();
        for p in playing {
            self.stop_playback_in(w, &p, StopReason::SessionEnded, now);
        }
    }

    /// SC-2: logout revokes the token.
    pub fn logout(&self, learner_id: &str, session_id: &str) -> Outcome<()> {
        let mut w = self.world.lock();
        let cohort = w
            .learners
            .get(learner_id)
            .map(|l| l.cohort_id.clone())
            .unwrap_or_default();
        let now = w.cohort_now(&cohort);
        self.trace(Traj::new(learner_id, &cohort, now, "logout").reference(session_id));
        if self.has_in(Defect::LogoutKeepsToken, &cohort) {
            return Ok(());
        }
        self.end_session(&mut w, session_id, "logout", now);
        Ok(())
    }

    /// Resolves a bearer token to a learner session or a supervisor session.
    pub fn authenticate(&self, token: Option<&str>) -> Outcome<Principal> {
        let token =
            token.ok_or_else(|| Refusal::new(ErrorCode::Unauthorized, "no bearer token"))?;
        let hash = token_hash(token);
        let mut w = self.world.lock();
        if let Some(sid) = w.session_by_token.get(&hash).cloned() {
            let s = w
                .sessions
                .get(&sid)
                .cloned()
                .ok_or_else(|| Refusal::new(ErrorCode::Unauthorized, "unknown token"))?;
            if s.revoked.is_some() {
                return Err(Refusal::new(
                    ErrorCode::SessionRevoked,
                    format!("the session ended ({})", s.revoked.unwrap_or_default()),
                ));
            }
            let now = w.cohort_now(&s.cohort_id);
            if let Some(l) = w.learners.get_mut(&s.learner_id) {
                l.last_seen_at = Some(now);
            }
            return Ok(Principal::Learner {
                learner_id: s.learner_id,
                session_id: s.id,
                cohort_id: s.cohort_id,
            });
        }
        if let Some(s) = w.sup_sessions.get(&hash)
            && let Some(sup) = w.supervisors.get(&s.supervisor_id)
        {
            return Ok(Principal::Supervisor(sup.clone()));
        }
        Err(Refusal::new(ErrorCode::Unauthorized, "unknown token"))
    }

    pub fn supervisor_login(&self, req: SupervisorLogin) -> Outcome<SupervisorSession> {
        let mut w = self.world.lock();
        let sup = w
            .supervisor_by_username
            .get(&req.username)
            .and_then(|id| w.supervisors.get(id))
            .filter(|s| password_matches(&s.password_salt, &s.password_hash, &req.password))
            .cloned()
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::BadCredentials,
                    "unknown account or wrong password",
                )
            })?;
        let token = new_token();
        let now = w.cohort_now(&sup.cohort_id);
        let rec = SupSessionRec {
            id: new_id("sss"),
            supervisor_id: sup.id.clone(),
            cohort_id: sup.cohort_id.clone(),
            token_hash: token_hash(&token),
            created_at: now,
        };
        self.save(&rec);
        w.sup_sessions.insert(rec.token_hash.clone(), rec);
        Ok(SupervisorSession {
            token,
            supervisor_id: sup.id,
            kind: sup.kind,
        })
    }

    pub fn get_me(&self, learner_id: &str) -> Outcome<Learner> {
        let w = self.world.lock();
        w.learners
            .get(learner_id)
            .map(learner_view)
            .ok_or_else(|| Refusal::not_found("no such learner"))
    }
}
