//! A simulated learner: a synthetic person who registers with real images, logs in by answering
//! liveness challenges with frames, enrols, and studies (`crate::study`) in some style — honest,
//! or one of the cheats seen in the wild — keeping its [`Ledger`] of the seconds it could
//! legitimately be credited, which the probes and the population compare with the platform's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use duxue_media::{Identity, Species};
use duxue_profile::{
    ClientError, Enrolment, ErrorCode, Learner, LearnerSession, LivenessChallenge, LoginRequest,
    Policy, ProfileClient, RegistrationRequest,
};
use rand_chacha::ChaCha8Rng;

use crate::clock::CohortClock;
use crate::ledger::Ledger;
use crate::outcome::ProbeError;
use crate::rules::Playbacks;
use crate::seeds;

pub use crate::study::{
    AnswerKind, AnswerSent, CaptureStyle, EventSeen, PopupStyle, Seek, StudyLog, StudyPlan,
    TwoWindows, two_windows,
};

/// How a learner presents itself at the liveness check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presentation {
    Genuine,
    Attack(Species),
}

/// A synthetic learner driving the platform through the profile client.
pub struct SimLearner {
    pub identity: Identity,
    pub password: String,
    pub organisation_id: String,
    pub learner: Option<Learner>,
    pub session: Option<LearnerSession>,
    /// The name this learner's client gives its device at login (the profile's `device_id`).
    pub device_id: Option<String>,
    /// SHA-256 of the registration face and ID-card images last sent.
    pub registration_sha256: Option<(String, String)>,
    /// SHA-256 of every liveness frame sent, per challenge id.
    pub frames_sha256: BTreeMap<String, Vec<String>>,
    client: ProfileClient,
    pub(crate) clock: Arc<CohortClock>,
    pub(crate) policy: Arc<Policy>,
    seed: u64,
    pub(crate) rng: ChaCha8Rng,
    shots: u64,
    pub(crate) pacer: Option<Arc<Pacer>>,
    /// What this person could legitimately be credited, across sittings; a second window or
    /// device of the same person shares it.
    ledger: Arc<Mutex<Ledger>>,
    /// The learner got in through a spoof: whoever studies is not the registered person.
    pub(crate) spoofed: bool,
    /// Genuine liveness answers of this person the platform refused (each retried, as a person
    /// would): a self-check may rightly flag a refused attempt.
    pub genuine_refusals: u32,
    /// Where every playback goes as evidence, and under whose name.
    pub(crate) playbacks: Option<Arc<Playbacks>>,
    pub(crate) made_by: String,
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
        let ledger = Ledger::new(
            policy.class_hour_seconds(),
            f64::from(policy.rules.heartbeat_max_gap_seconds.value),
        );
        SimLearner {
            password: format!("pw-{:016x}", seeds::named(seed, "password")),
            identity,
            organisation_id,
            learner: None,
            session: None,
            device_id: Some(device_name(seed)),
            registration_sha256: None,
            frames_sha256: BTreeMap::new(),
            client,
            clock,
            policy,
            seed,
            rng: seeds::rng(seed, "learner"),
            shots: 0,
            pacer: None,
            ledger: Arc::new(Mutex::new(ledger)),
            spoofed: false,
            genuine_refusals: 0,
            playbacks: None,
            made_by: String::new(),
            replays_one_recording: false,
            recording: None,
        }
    }

    /// The same learner as the person it is in the run of `run_nonce` (see `seeds::person`):
    /// its behaviour still follows its seed alone.
    pub fn in_run(mut self, run_nonce: u64) -> Self {
        self.identity = duxue_media::identity(seeds::person(self.seed, run_nonce));
        self
    }

    /// The same learner talking through `client` (a load phase's own client), its paced
    /// requests announced to `pacer`.
    pub fn paced(mut self, client: ProfileClient, pacer: Arc<Pacer>) -> Self {
        self.client = client;
        self.pacer = Some(pacer);
        self
    }

    /// The same person with the same session in a second window, on another device.
    pub fn twin(&self) -> SimLearner {
        SimLearner {
            identity: self.identity.clone(),
            password: self.password.clone(),
            organisation_id: self.organisation_id.clone(),
            learner: self.learner.clone(),
            session: self.session.clone(),
            device_id: Some(device_name(seeds::mix(self.seed, 0x7717))),
            registration_sha256: self.registration_sha256.clone(),
            frames_sha256: BTreeMap::new(),
            client: self.client.clone(),
            clock: self.clock.clone(),
            policy: self.policy.clone(),
            seed: seeds::mix(self.seed, 0x7717),
            rng: seeds::rng(self.seed, "twin"),
            shots: 1_000_000,
            pacer: self.pacer.clone(),
            ledger: self.ledger.clone(),
            spoofed: self.spoofed,
            genuine_refusals: 0,
            playbacks: self.playbacks.clone(),
            made_by: self.made_by.clone(),
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

    /// The same learner, its playbacks recorded in `book` as made by `made_by`.
    pub fn recording_playbacks(mut self, book: Arc<Playbacks>, made_by: &str) -> Self {
        self.playbacks = Some(book);
        self.made_by = made_by.to_owned();
        self
    }

    /// This person's ledger.
    pub fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
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
                    self.genuine_refusals += 1;
                    continue;
                }
                other => break other?,
            }
        };
        self.spoofed = how != Presentation::Genuine;
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
            device_id: self.device_id.clone(),
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

/// Whether a login refusal judged the person's face or liveness (which a genuine person may
/// meet now and then, and answers by trying again).
pub fn refuses_the_person(e: &ClientError) -> bool {
    e.is(&ErrorCode::LivenessFailed) || e.is(&ErrorCode::FaceMismatch)
}

/// A device name as a client would make one: random-looking, stable for the device, naming
/// neither the person nor the tool.
fn device_name(seed: u64) -> String {
    format!("{:016x}", seeds::named(seed, "device"))
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
