//! A simulated learner: a synthetic person who registers with real images, logs in by answering
//! liveness challenges with frames, enrols, and studies a lesson in some style — honest, or one
//! of the cheats seen in the wild. While studying it keeps its own ledger of the seconds it
//! could legitimately be credited, which the probes compare with what the platform credits.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use duxue_media::{Identity, Species};
use duxue_profile::{
    ClientError, Enrolment, ErrorCode, EventKind, HeartbeatAck, HeartbeatRequest, Learner,
    LearnerSession, LivenessChallenge, LoginRequest, Playback, PlaybackRequest, PlaybackState,
    Policy, ProfileClient, RegistrationRequest,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::clock::CohortClock;
use crate::outcome::ProbeError;
use crate::seeds;

/// How a learner presents itself at the liveness check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presentation {
    Genuine,
    Attack(Species),
}

/// How a learner deals with attention popups.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PopupStyle {
    /// Notices after a few seconds, pauses, answers (human jitter).
    Human,
    /// Answers every popup after exactly this many cohort seconds (an auto-clicker).
    Bot { latency: f64 },
    /// Never answers (an idler).
    Ignore,
}

/// How a learner deals with capture requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CaptureStyle {
    Genuine,
    /// Somebody else sits in front of the camera.
    OtherPerson,
    Ignore,
}

/// How a learner plays one lesson.
#[derive(Clone, Debug)]
pub struct StudyPlan {
    pub enrolment_id: String,
    pub lesson_id: String,
    /// Playback rate (1 honest; 2 or 4 for speeders).
    pub rate: f64,
    /// Jump forward by `.1` seconds once the position reaches `.0`.
    pub seek: Option<(f64, f64)>,
    pub popups: PopupStyle,
    pub captures: CaptureStyle,
    /// Go silent (no heartbeats, the player keeps running) for `.1` cohort seconds once `.0`
    /// cohort seconds of study have passed.
    pub silence: Option<(f64, f64)>,
    pub focused: bool,
    /// Relative jitter of heartbeat timing (0.4 human, 0 machine).
    pub jitter: f64,
    /// Stop after this many cohort seconds of study.
    pub budget_seconds: f64,
    /// Stop once the position reaches the end of the lesson and the platform credits it.
    pub until_complete: bool,
}

impl StudyPlan {
    /// An honest learner who plays the lesson through.
    pub fn honest(enrolment_id: &str, lesson_id: &str, budget_seconds: f64) -> Self {
        StudyPlan {
            enrolment_id: enrolment_id.to_owned(),
            lesson_id: lesson_id.to_owned(),
            rate: 1.0,
            seek: None,
            popups: PopupStyle::Human,
            captures: CaptureStyle::Genuine,
            silence: None,
            focused: true,
            jitter: 0.4,
            budget_seconds,
            until_complete: true,
        }
    }
}

/// One popup or capture request as the learner saw it.
#[derive(Clone, Debug)]
pub struct EventSeen {
    pub event_id: String,
    pub kind: EventKind,
    /// Cohort seconds since the playback started, when the learner first saw it.
    pub seen_at: f64,
    /// The player position when it was seen.
    pub position: f64,
    pub answered: bool,
    /// What the platform said of the answer.
    pub passed: Option<bool>,
    /// SHA-256 of the image uploaded for a capture.
    pub image_sha256: Option<String>,
}

/// What happened while a learner studied one lesson.
#[derive(Clone, Debug, Default)]
pub struct StudyLog {
    pub playback: Option<Playback>,
    /// The refusal of the playback start, if it was refused.
    pub start_refused: Option<ErrorCode>,
    pub heartbeats_sent: u32,
    pub acks: u32,
    pub events: Vec<EventSeen>,
    /// Refusal codes with the cohort second they came at.
    pub refusals: Vec<(f64, ErrorCode)>,
    /// Credited seconds of the lesson in the last answer.
    pub credited: f64,
    /// The seconds this learner could legitimately be credited, by its own account.
    pub creditable: f64,
    /// Creditable seconds per class hour of the lesson.
    pub creditable_by_hour: BTreeMap<u32, f64>,
    /// Cohort seconds from playback start to the last answer.
    pub elapsed: f64,
    /// The player position when the study ended.
    pub final_position: f64,
    pub final_state: Option<PlaybackState>,
    /// Transport failures and malformed answers (the target erred).
    pub errors: Vec<String>,
    /// When the platform's answer accepting the playback start arrived.
    pub start_accepted_at: Option<tokio::time::Instant>,
    /// When the last heartbeat the platform acknowledged went out.
    pub last_acked_beat_sent_at: Option<tokio::time::Instant>,
}

impl StudyLog {
    pub fn popups(&self) -> impl Iterator<Item = &EventSeen> {
        self.events.iter().filter(|e| e.kind == EventKind::Popup)
    }

    pub fn captures(&self) -> impl Iterator<Item = &EventSeen> {
        self.events.iter().filter(|e| e.kind == EventKind::Capture)
    }

    pub fn refused_with(&self, code: &ErrorCode) -> bool {
        self.refusals.iter().any(|(_, c)| c == code)
    }

    /// The slack a comparison of credit with the ledger allows: one heartbeat interval plus 1%
    /// of the study (the harness's and the platform's clock estimates differ by that much).
    pub fn credit_slack(&self) -> f64 {
        let interval = self
            .playback
            .as_ref()
            .map_or(10.0, |p| p.heartbeat_interval_seconds);
        interval + 0.01 * self.elapsed
    }
}

/// A synthetic learner driving the platform through the profile client.
pub struct SimLearner {
    pub identity: Identity,
    pub password: String,
    pub organisation_id: String,
    pub learner: Option<Learner>,
    pub session: Option<LearnerSession>,
    /// SHA-256 of the registration face and ID-card images last sent.
    pub registration_sha256: Option<(String, String)>,
    /// SHA-256 of every liveness frame sent, per challenge id.
    pub frames_sha256: BTreeMap<String, Vec<String>>,
    client: ProfileClient,
    clock: Arc<CohortClock>,
    policy: Arc<Policy>,
    seed: u64,
    rng: ChaCha8Rng,
    shots: u64,
    pacer: Option<Arc<Pacer>>,
    /// Class hours (per lesson id) whose capture failed: the notice withholds them, so what is
    /// watched in them again is creditable only once a new capture there passes. The seconds
    /// watched meanwhile wait here, across sittings.
    recapture: BTreeMap<String, BTreeMap<u32, f64>>,
    /// Whether a replay attack replays the first recording made (see
    /// `replaying_one_recording`) rather than a new one each attempt.
    replays_one_recording: bool,
    recording: Option<Arc<Vec<Vec<u8>>>>,
}

/// When a learner meant to send its next paced request (a heartbeat). A load recorder reads it
/// to measure latency from the intended send time, so a request that goes out late because the
/// platform was slow counts its lateness (no coordinated omission).
#[derive(Debug, Default)]
pub struct Pacer {
    intended: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    pub fn intend(&self, at: tokio::time::Instant) {
        *self.intended.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    }

    /// The intended send time of the request going out now, if it was paced.
    pub fn take(&self) -> Option<tokio::time::Instant> {
        self.intended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl SimLearner {
    pub fn new(
        client: ProfileClient,
        clock: Arc<CohortClock>,
        policy: Arc<Policy>,
        seed: u64,
        organisation_id: String,
    ) -> Self {
        let identity = duxue_media::identity(seed);
        SimLearner {
            password: format!("pw-{:016x}", seeds::named(seed, "password")),
            identity,
            organisation_id,
            learner: None,
            session: None,
            registration_sha256: None,
            frames_sha256: BTreeMap::new(),
            client,
            clock,
            policy,
            seed,
            rng: seeds::rng(seed, "learner"),
            shots: 0,
            pacer: None,
            recapture: BTreeMap::new(),
            replays_one_recording: false,
            recording: None,
        }
    }

    /// The same learner talking through `client` (a load phase's own client), its paced
    /// requests announced to `pacer`.
    pub fn paced(mut self, client: ProfileClient, pacer: Arc<Pacer>) -> Self {
        self.client = client;
        self.pacer = Some(pacer);
        self
    }

    /// The same person with the same session in a second window or device.
    pub fn twin(&self) -> SimLearner {
        SimLearner {
            identity: self.identity.clone(),
            password: self.password.clone(),
            organisation_id: self.organisation_id.clone(),
            learner: self.learner.clone(),
            session: self.session.clone(),
            registration_sha256: self.registration_sha256.clone(),
            frames_sha256: BTreeMap::new(),
            client: self.client.clone(),
            clock: self.clock.clone(),
            policy: self.policy.clone(),
            seed: seeds::mix(self.seed, 0x7717),
            rng: seeds::rng(self.seed, "twin"),
            shots: 1_000_000,
            pacer: self.pacer.clone(),
            recapture: BTreeMap::new(),
            replays_one_recording: self.replays_one_recording,
            recording: self.recording.clone(),
        }
    }

    /// The same learner, whose replay attacks all replay one recording of the person: an
    /// attacker over time holds one video, where a probe counting independent trials (ID-4)
    /// wants a new recording for each.
    pub fn replaying_one_recording(mut self) -> Self {
        self.replays_one_recording = true;
        self
    }

    /// The same person whose photos, frames and timing are drawn afresh from `run_seed`: a
    /// camera never takes the same picture twice, so an account seen in two runs must not
    /// send the same bytes.
    pub fn shot_afresh(mut self, run_seed: u64) -> Self {
        self.seed = seeds::mix(self.seed, run_seed);
        self.rng = seeds::rng(self.seed, "learner");
        self
    }

    pub fn client(&self) -> &ProfileClient {
        &self.client
    }

    pub fn clock(&self) -> &Arc<CohortClock> {
        &self.clock
    }

    fn next_shot(&mut self) -> u64 {
        self.shots += 1;
        seeds::mix(self.seed, self.shots)
    }

    /// The learner's session token; an error if it is not logged in.
    pub fn token(&self) -> Result<&str, ProbeError> {
        self.session
            .as_ref()
            .map(|s| s.token.as_str())
            .ok_or_else(|| ProbeError::setup("the learner is not logged in"))
    }

    pub fn learner_id(&self) -> Result<&str, ProbeError> {
        self.learner
            .as_ref()
            .map(|l| l.learner_id.as_str())
            .ok_or_else(|| ProbeError::setup("the learner is not registered"))
    }

    /// A genuine registration: this person's face and ID card.
    pub async fn registration(&mut self) -> RegistrationRequest {
        let face_shot = self.next_shot();
        let card_shot = self.next_shot();
        let who = self.identity.clone();
        let (face, card) = off_runtime(move || {
            (
                duxue_media::face_image(&who, face_shot),
                duxue_media::id_card_image(&who, card_shot),
            )
        })
        .await;
        self.registration_sha256 = Some((sha256(&face), sha256(&card)));
        RegistrationRequest {
            name: self.identity.name.clone(),
            id_number: self.identity.id_number.clone(),
            phone: self.identity.phone.clone(),
            password: self.password.clone(),
            organisation_id: self.organisation_id.clone(),
            id_card_image: B64.encode(card),
            face_image: B64.encode(face),
        }
    }

    /// Registers with genuine photos. A photo the platform could not match is retaken, at most
    /// three shots in all, as a person at a registration desk would.
    pub async fn register(&mut self) -> Result<&Learner, ClientError> {
        let mut attempts = 0;
        let learner = loop {
            attempts += 1;
            let request = self.registration().await;
            match self.client.register_learner(&request).await {
                Err(e)
                    if attempts < 3
                        && (e.is(&ErrorCode::FaceMismatch) || e.is(&ErrorCode::NoFace)) =>
                {
                    continue;
                }
                other => break other?,
            }
        };
        Ok(self.learner.insert(learner))
    }

    /// Requests a challenge and answers it with genuine frames.
    pub async fn login(&mut self) -> Result<&LearnerSession, ClientError> {
        self.login_as(Presentation::Genuine).await
    }

    /// Requests a challenge and answers it with frames of the given presentation.
    ///
    /// A challenge that expired while the frames were being made is asked for again, and a
    /// genuine person whose liveness answer was refused tries again, as a person would: at
    /// most three attempts. Every other refusal, and every refusal of an attack, is returned.
    pub async fn login_as(&mut self, how: Presentation) -> Result<&LearnerSession, ClientError> {
        let mut attempts = 0;
        let session = loop {
            attempts += 1;
            let challenge = self
                .client
                .request_challenge(&self.identity.id_number)
                .await?;
            let frames = self.frames_for(&challenge, how).await;
            let retry_genuine = how == Presentation::Genuine;
            match self
                .login_with_frames(&challenge.challenge_id, frames)
                .await
            {
                Err(e) if attempts < 3 && e.is(&ErrorCode::ChallengeExpired) => continue,
                Err(e) if attempts < 3 && retry_genuine && refuses_the_person(&e) => {
                    continue;
                }
                other => break other?,
            }
        };
        Ok(self.session.insert(session))
    }

    /// The frames this learner would send for `challenge` presented as `how`.
    pub async fn frames_for(
        &mut self,
        challenge: &LivenessChallenge,
        how: Presentation,
    ) -> Vec<Vec<u8>> {
        let replay = how == Presentation::Attack(Species::Replay);
        if replay && let Some(recording) = &self.recording {
            return recording.as_ref().clone();
        }
        let media_challenge = media_challenge(challenge);
        let shot = self.next_shot();
        let who = self.identity.clone();
        let frames = off_runtime(move || match how {
            Presentation::Genuine => duxue_media::liveness_frames(&who, &media_challenge, shot),
            Presentation::Attack(species) => {
                duxue_media::attack_frames(species, &who, &media_challenge, shot)
            }
        })
        .await;
        if replay && self.replays_one_recording {
            self.recording = Some(Arc::new(frames.clone()));
        }
        frames
    }

    /// Sends a login with these frames for this challenge (does not keep the session).
    pub async fn login_with_frames(
        &mut self,
        challenge_id: &str,
        frames: Vec<Vec<u8>>,
    ) -> Result<LearnerSession, ClientError> {
        self.frames_sha256.insert(
            challenge_id.to_owned(),
            frames.iter().map(|f| sha256(f)).collect(),
        );
        let request = LoginRequest {
            id_number: self.identity.id_number.clone(),
            password: self.password.clone(),
            challenge_id: challenge_id.to_owned(),
            frames: frames.iter().map(|f| B64.encode(f)).collect(),
        };
        self.client.login(&request).await
    }

    /// The platform's credited seconds of one lesson now.
    pub async fn lesson_credit(&self, enrolment_id: &str, lesson_id: &str) -> Option<f64> {
        let progress = self
            .client
            .get_progress(self.token().ok()?, enrolment_id)
            .await
            .ok()?;
        progress
            .lessons
            .iter()
            .find(|l| l.lesson_id == lesson_id)
            .map(|l| l.credited_seconds)
    }

    pub async fn enrol(&self, class_id: &str) -> Result<Enrolment, ProbeError> {
        Ok(self.client.enrol(self.token()?, class_id).await?)
    }

    /// A capture image of this learner (or of somebody else when `impostor`).
    pub async fn capture_image(&mut self, impostor: bool) -> Vec<u8> {
        let shot = self.next_shot();
        let who = self.identity.clone();
        off_runtime(move || {
            if impostor {
                let other = duxue_media::impostor(&who, shot);
                duxue_media::capture_image(&other, shot)
            } else {
                duxue_media::capture_image(&who, shot)
            }
        })
        .await
    }

    /// Plays one lesson according to `plan` and reports what happened.
    pub async fn study(&mut self, plan: &StudyPlan) -> Result<StudyLog, ProbeError> {
        let token = self.token()?.to_owned();
        let mut log = StudyLog::default();
        let started = self
            .client
            .start_playback(
                &token,
                &PlaybackRequest {
                    enrolment_id: plan.enrolment_id.clone(),
                    lesson_id: plan.lesson_id.clone(),
                },
            )
            .await;
        let playback = match started {
            Ok(playback) => playback,
            Err(e) => match e.code() {
                Some(code) => {
                    log.start_refused = Some(code.clone());
                    return Ok(log);
                }
                None => return Err(e.into()),
            },
        };
        log.playback = Some(playback.clone());
        log.start_accepted_at = Some(tokio::time::Instant::now());
        self.run_playback(&token, &playback, plan, log).await
    }

    async fn run_playback(
        &mut self,
        token: &str,
        playback: &Playback,
        plan: &StudyPlan,
        mut log: StudyLog,
    ) -> Result<StudyLog, ProbeError> {
        let interval = playback.heartbeat_interval_seconds.clamp(1.0, 60.0);
        let max_gap = f64::from(self.policy.rules.heartbeat_max_gap_seconds.value);
        let hour = self.policy.class_hour_seconds();
        let lesson_end = playback.lesson_seconds;
        let start = self.clock.elapsed();
        let mut position = playback.start_position;
        // The furthest content this learner has really watched; content is creditable once.
        let mut furthest = playback.start_position;
        let mut last_beat = start;
        let mut pending: HashSet<String> = HashSet::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut seeked = false;
        let mut silenced = false;
        let mut failed_captures: HashSet<String> = HashSet::new();
        let mut passed_captures: HashSet<String> = HashSet::new();
        // After answering a popup or capture the learner beats at once with the paused
        // position, so that the pause and the study are in separate intervals.
        let mut beat_now = false;

        // A script beats on a fixed wall-clock timer (like setInterval); a person does not.
        let scripted = plan.jitter <= 0.0;
        // Beats are due on the player's schedule, not after the previous answer: when an
        // answer comes late, the next beat is already due and goes at once.
        let mut due = tokio::time::Instant::now();
        loop {
            due = if scripted {
                due + self.clock.wall(interval)
            } else if beat_now {
                tokio::time::Instant::now()
            } else {
                let jitter = 1.0 - self.rng.random_range(0.0..plan.jitter);
                due + self.clock.wall(interval * jitter)
            };
            tokio::time::sleep_until(due).await;
            let resumed_from_pause = std::mem::take(&mut beat_now);
            let mut now = self.clock.elapsed();
            if let Some((after, length)) = plan.silence
                && !silenced
                && now - start >= after
            {
                silenced = true;
                self.clock.sleep(length).await;
                due = tokio::time::Instant::now();
                now = self.clock.elapsed();
            }
            let dt = now - last_beat;
            last_beat = now;
            let watched_from = position;
            if !resumed_from_pause {
                position = (position + dt * plan.rate).min(lesson_end);
            }
            // The ledger: new content watched, at most at real time, while present.
            let present = dt <= max_gap && pending.is_empty() && plan.focused;
            let new_content = (position - watched_from.max(furthest)).max(0.0);
            if present {
                let earned = new_content.min(dt);
                let class_hour = (watched_from.max(furthest) / hour).floor() as u32;
                let awaiting = self
                    .recapture
                    .get_mut(&plan.lesson_id)
                    .and_then(|hours| hours.get_mut(&class_hour));
                if let Some(waiting) = awaiting {
                    *waiting += earned;
                } else {
                    log.creditable += earned;
                    *log.creditable_by_hour.entry(class_hour).or_default() += earned;
                }
            }
            furthest = furthest.max(position);
            if let Some((at, jump)) = plan.seek
                && !seeked
                && position >= at
            {
                seeked = true;
                position = (position + jump).min(lesson_end);
            }

            let beat = HeartbeatRequest {
                position_seconds: position,
                rate: plan.rate,
                focused: plan.focused,
                client_time: Some(chrono::Utc::now()),
            };
            log.heartbeats_sent += 1;
            if let Some(pacer) = &self.pacer {
                pacer.intend(due);
            }
            let beat_sent_at = tokio::time::Instant::now();
            let answer = self
                .client
                .heartbeat(token, &playback.playback_id, &beat)
                .await;
            let at = self.clock.elapsed() - start;
            log.elapsed = at;
            match answer {
                Ok(ack) => {
                    log.acks += 1;
                    log.last_acked_beat_sent_at = Some(beat_sent_at);
                    log.credited = ack.credited_seconds;
                    log.final_state = Some(ack.state);
                    let sent = beat.position_seconds;
                    let accepted = ack.accepted_position.min(lesson_end).max(0.0);
                    if accepted < furthest - 1.0 {
                        // The platform rewound (a withheld class hour): what lies beyond must be
                        // watched again, and watching it again is legitimate.
                        furthest = accepted;
                    }
                    position = accepted;
                    let open: HashSet<&str> =
                        ack.events.iter().map(|e| e.event_id.as_str()).collect();
                    for e in log.events.iter_mut() {
                        let missed = e.kind == EventKind::Capture
                            && !e.answered
                            && !open.contains(e.event_id.as_str());
                        if missed {
                            e.answered = true;
                            e.passed = Some(false);
                        }
                    }
                    let answered = self
                        .handle_events(
                            token,
                            playback,
                            plan,
                            &ack,
                            at,
                            sent,
                            &mut log,
                            &mut pending,
                            &mut seen,
                        )
                        .await;
                    beat_now = answered > 0 && !scripted;
                    let mut capture_failed = false;
                    for e in &log.events {
                        if e.kind != EventKind::Capture {
                            continue;
                        }
                        let class_hour = (e.position / hour).floor() as u32;
                        if e.passed == Some(false) && failed_captures.insert(e.event_id.clone()) {
                            capture_failed = true;
                            if let Some(earned) = log.creditable_by_hour.get_mut(&class_hour) {
                                log.creditable -= *earned;
                                *earned = 0.0;
                            }
                            self.recapture
                                .entry(plan.lesson_id.clone())
                                .or_default()
                                .insert(class_hour, 0.0);
                        } else if e.passed == Some(true)
                            && passed_captures.insert(e.event_id.clone())
                            && let Some(released) = self
                                .recapture
                                .get_mut(&plan.lesson_id)
                                .and_then(|hours| hours.remove(&class_hour))
                        {
                            log.creditable += released;
                            *log.creditable_by_hour.entry(class_hour).or_default() += released;
                        }
                    }
                    if capture_failed && plan.captures != CaptureStyle::Genuine {
                        // The cheat was tried; what the platform credits now is what is judged.
                        break;
                    }
                    if ack.state == PlaybackState::Stopped {
                        break;
                    }
                }
                Err(e) => match e.code() {
                    Some(code) => {
                        log.refusals.push((at, code.clone()));
                        match code {
                            ErrorCode::SeekForbidden | ErrorCode::RateForbidden => {
                                position = furthest.min(position);
                            }
                            _ => {
                                log.final_state = Some(PlaybackState::Stopped);
                                break;
                            }
                        }
                    }
                    None => {
                        log.errors.push(e.to_string());
                        if log.errors.len() > 3 {
                            break;
                        }
                    }
                },
            }
            let done = plan.until_complete
                && position >= lesson_end
                && log.credited >= lesson_end - interval * 2.0
                && pending.is_empty();
            if done || at >= plan.budget_seconds {
                break;
            }
        }
        log.final_position = position;
        let _ = self
            .client
            .stop_playback(token, &playback.playback_id)
            .await;
        // The platform's own account after the study ends (withholding may follow the last beat).
        if let Some(credited) = self
            .lesson_credit(&plan.enrolment_id, &plan.lesson_id)
            .await
        {
            log.credited = credited;
        }
        Ok(log)
    }

    #[allow(clippy::too_many_arguments)]
    async fn handle_events(
        &mut self,
        token: &str,
        playback: &Playback,
        plan: &StudyPlan,
        ack: &HeartbeatAck,
        at: f64,
        position: f64,
        log: &mut StudyLog,
        pending: &mut HashSet<String>,
        seen: &mut HashSet<String>,
    ) -> usize {
        let mut answered = 0;
        let open: HashSet<&str> = ack.events.iter().map(|e| e.event_id.as_str()).collect();
        pending.retain(|id| open.contains(id.as_str()));
        for event in &ack.events {
            if seen.insert(event.event_id.clone()) {
                log.events.push(EventSeen {
                    event_id: event.event_id.clone(),
                    kind: event.kind,
                    seen_at: at,
                    position,
                    answered: false,
                    passed: None,
                    image_sha256: None,
                });
            }
            let index = log
                .events
                .iter()
                .position(|e| e.event_id == event.event_id)
                .unwrap_or(0);
            if log.events[index].answered {
                continue;
            }
            let (answer_after, answer) = match event.kind {
                EventKind::Popup => match plan.popups {
                    PopupStyle::Human => (self.rng.random_range(2.0..8.0), true),
                    PopupStyle::Bot { latency } => (latency, true),
                    PopupStyle::Ignore => (0.0, false),
                },
                EventKind::Capture => match plan.captures {
                    CaptureStyle::Ignore => (0.0, false),
                    _ => (self.rng.random_range(2.0..6.0), true),
                },
            };
            if !answer {
                pending.insert(event.event_id.clone());
                continue;
            }
            self.clock.sleep(answer_after).await;
            answered += 1;
            let outcome = match event.kind {
                EventKind::Popup => {
                    let code = popup_code(event.prompt.as_deref().unwrap_or(""));
                    self.client
                        .answer_popup(token, &playback.playback_id, &event.event_id, &code)
                        .await
                }
                EventKind::Capture => {
                    let image = self
                        .capture_image(plan.captures == CaptureStyle::OtherPerson)
                        .await;
                    log.events[index].image_sha256 = Some(sha256(&image));
                    self.client
                        .upload_capture(
                            token,
                            &playback.playback_id,
                            &event.event_id,
                            B64.encode(image),
                        )
                        .await
                }
            };
            let seen_event = &mut log.events[index];
            seen_event.answered = true;
            match outcome {
                Ok(result) => seen_event.passed = Some(result.passed),
                Err(e) => {
                    // An answer refused because another window took the playback over was
                    // not judged, and nothing is withheld for it: the event is not failed.
                    let superseded = e.is(&ErrorCode::PlaybackSuperseded);
                    seen_event.passed = (e.is_refusal() && !superseded).then_some(false);
                    if let Some(code) = e.code() {
                        log.refusals.push((at, code.clone()));
                    } else {
                        log.errors.push(e.to_string());
                    }
                }
            }
        }
        answered
    }
}

static MEDIA_CPU_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static MEDIA_JOBS_DONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// CPU seconds this process has spent making synthetic media (registration photos, liveness
/// frames, captures) so far: the population benchmark reports load generation without it.
pub fn media_cpu_seconds() -> f64 {
    MEDIA_CPU_NANOS.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
}

/// How many media jobs (one registration, one liveness answer or one capture each) this
/// process has run so far.
pub fn media_jobs() -> u64 {
    MEDIA_JOBS_DONE.load(std::sync::atomic::Ordering::Relaxed)
}

/// CPU time of the calling thread, in nanoseconds (0 where it cannot be read).
fn thread_cpu_nanos() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64;
        }
    }
    0
}

/// Runs image work on the blocking pool so heartbeats of other learners are never held up,
/// a few jobs per core at a time: each holds several megabytes of canvases while it runs, and
/// the blocking pool would otherwise start up to 512 of them when thousands of learners are
/// asked for captures at once.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    static MEDIA_JOBS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let jobs = MEDIA_JOBS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(2 * cores)
    });
    // The semaphore is never closed, so acquiring cannot fail.
    let _permit = jobs.acquire().await;
    let measured = move || {
        let before = thread_cpu_nanos();
        let value = work();
        MEDIA_CPU_NANOS.fetch_add(
            thread_cpu_nanos().saturating_sub(before),
            std::sync::atomic::Ordering::Relaxed,
        );
        MEDIA_JOBS_DONE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        value
    };
    match tokio::task::spawn_blocking(measured).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// What a platform did when one learner played in two windows at once.
#[derive(Clone, Debug, PartialEq)]
pub enum TwoWindows {
    /// One window was refused for playing alongside the other.
    Refused(ErrorCode),
    /// Both played: the platform acknowledged a heartbeat of the first window sent after it had
    /// accepted the second's start, and refused neither.
    BothPlayed,
    /// They never overlapped, so there was nothing to refuse: the second did not start, or the
    /// first sent no acknowledged heartbeat after the second had started (its study ended just
    /// then, say).
    NotOverlapped,
}

/// How two windows of one learner ended, `first` opened before `second`.
pub fn two_windows(first: &StudyLog, second: &StudyLog) -> TwoWindows {
    let refusal = [ErrorCode::ConcurrentPlayback, ErrorCode::PlaybackSuperseded]
        .into_iter()
        .find(|code| {
            second.start_refused.as_ref() == Some(code)
                || first.refused_with(code)
                || second.refused_with(code)
        });
    match (
        refusal,
        second.start_accepted_at,
        first.last_acked_beat_sent_at,
    ) {
        (Some(code), _, _) => TwoWindows::Refused(code),
        (None, Some(second_started), Some(first_beat)) if first_beat > second_started => {
            TwoWindows::BothPlayed
        }
        _ => TwoWindows::NotOverlapped,
    }
}

/// Whether a login refusal judged the person's face or liveness (which a genuine person may
/// meet now and then, and answers by trying again).
pub fn refuses_the_person(e: &ClientError) -> bool {
    e.is(&ErrorCode::LivenessFailed) || e.is(&ErrorCode::FaceMismatch)
}

/// Hex SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The code a popup asks for: its first run of ASCII digits.
pub fn popup_code(prompt: &str) -> String {
    prompt
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| !run.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// The platform's challenge in the media crate's terms (both use the profile's wire names;
/// an action neither knows is left out, so the answer fails as it should).
fn media_challenge(challenge: &LivenessChallenge) -> duxue_media::Challenge {
    let actions = challenge
        .actions
        .iter()
        .filter_map(|a| duxue_media::Action::from_name(a.name()))
        .collect();
    duxue_media::Challenge {
        nonce: challenge.nonce.clone(),
        actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use duxue_profile::{ClientConfig, LivenessAction};

    fn offline_learner(seed: u64) -> SimLearner {
        // Nothing here talks to the platform: the address only has to parse.
        let client = ProfileClient::new(ClientConfig::new("http://127.0.0.1:9")).expect("client");
        let clock = Arc::new(CohortClock::new("c".into(), 1.0, chrono::Utc::now()));
        let policy = Policy::builtin("xuchang-2022")
            .expect("builtin")
            .expect("valid");
        SimLearner::new(client, clock, Arc::new(policy), seed, "org".into())
    }

    fn challenge(nonce: &str) -> LivenessChallenge {
        LivenessChallenge {
            challenge_id: format!("ch-{nonce}"),
            nonce: nonce.into(),
            actions: vec![
                LivenessAction::Blink,
                LivenessAction::Nod,
                LivenessAction::TurnLeft,
            ],
            expires_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_replay_spoofer_over_time_replays_one_recording() {
        let replay = Presentation::Attack(Species::Replay);
        let (first, second) = (challenge("00aa"), challenge("00bb"));

        let mut trials = offline_learner(5);
        let a = trials.frames_for(&first, replay).await;
        let b = trials.frames_for(&second, replay).await;
        assert_ne!(a, b, "independent trials record afresh");

        let mut spoofer = offline_learner(5).replaying_one_recording();
        let a = spoofer.frames_for(&first, replay).await;
        let b = spoofer.frames_for(&second, replay).await;
        assert_eq!(a, b, "one recording, replayed");
        let genuine = spoofer.frames_for(&second, Presentation::Genuine).await;
        assert_ne!(genuine, b, "only replays are kept");
    }

    #[test]
    fn popup_codes_are_read_from_prompts() {
        assert_eq!(
            popup_code("请输入 4821 继续学习 / type 4821 to continue"),
            "4821"
        );
        assert_eq!(popup_code("no code"), "");
    }
}
