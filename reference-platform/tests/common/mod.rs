//! Shared helpers of the integration tests: a platform on loopback with a real SQLite file,
//! the profile client, and scripted learners.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use base64::Engine;
use duxue_media::Identity;
use duxue_platform::{Defect, PlatformConfig, RunningPlatform, Variant, start};
use duxue_profile::*;

pub const TOKEN: &str = "conformance-secret";

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub struct Env {
    pub platform: Option<RunningPlatform>,
    pub client: ProfileClient,
    pub dir: tempfile::TempDir,
    pub defects: Vec<Defect>,
    pub variants: Vec<Variant>,
}

pub fn config(db: std::path::PathBuf, defects: &[Defect]) -> PlatformConfig {
    config_with(db, defects, &[])
}

pub fn config_with(
    db: std::path::PathBuf,
    defects: &[Defect],
    variants: &[Variant],
) -> PlatformConfig {
    PlatformConfig {
        database: db,
        policy: Policy::builtin("xuchang-2022")
            .expect("builtin")
            .expect("valid"),
        application: ApplicationForm::reference().expect("reference form"),
        conformance_token: Some(TOKEN.into()),
        defects: defects.to_vec(),
        variants: variants.to_vec(),
        seed: Some(7),
        production_clock_scale: 1.0,
    }
}

pub fn client_for(base: &str) -> ProfileClient {
    let mut cfg = ClientConfig::new(base);
    cfg.conformance_token = Some(TOKEN.into());
    ProfileClient::new(cfg).expect("client")
}

impl Env {
    pub async fn new(defects: &[Defect]) -> Env {
        Env::with_variants(defects, &[]).await
    }

    /// A platform started with conforming variants (and defects).
    pub async fn with_variants(defects: &[Defect], variants: &[Variant]) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let platform = start(
            config_with(dir.path().join("platform.sqlite"), defects, variants),
            listener,
        )
        .await
        .expect("start");
        let client = client_for(&platform.base_url());
        Env {
            platform: Some(platform),
            client,
            dir,
            defects: defects.to_vec(),
            variants: variants.to_vec(),
        }
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("platform.sqlite")
    }

    pub fn base(&self) -> String {
        self.platform.as_ref().expect("running").base_url()
    }

    /// Stops the platform and starts it again on the same database (and a new port).
    pub async fn restart(&mut self) {
        if let Some(p) = self.platform.take() {
            p.shutdown().await.expect("shutdown");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let platform = start(
            config_with(self.db(), &self.defects, &self.variants),
            listener,
        )
        .await
        .expect("restart");
        self.client = client_for(&platform.base_url());
        self.platform = Some(platform);
    }

    pub async fn stop(mut self) {
        if let Some(p) = self.platform.take() {
            p.shutdown().await.expect("shutdown");
        }
    }
}

/// A cohort with one enterprise, one institution and a pure-online and a blended class.
pub struct World {
    pub cohort: Cohort,
    pub enterprise: Organisation,
    pub institution: Organisation,
    pub online_course: Course,
    pub online_class: Class,
}

pub fn lesson(title: &str, minutes: u32, category: LessonCategory, mode: LessonMode) -> LessonSpec {
    LessonSpec {
        title: title.into(),
        minutes,
        category,
        mode,
    }
}

/// A pure-online subsidised course for 电子商务师: general 15 min, professional 45 + 15 min.
pub fn short_course() -> CourseProposal {
    CourseProposal {
        title: "电子商务师 test".into(),
        occupation: "电子商务师".into(),
        level: "五级".into(),
        delivery: Delivery::PureOnline,
        subsidised: true,
        lessons: vec![
            lesson("general", 15, LessonCategory::General, LessonMode::Online),
            lesson(
                "pro 1",
                45,
                LessonCategory::Professional,
                LessonMode::Online,
            ),
            lesson(
                "pro 2",
                15,
                LessonCategory::Professional,
                LessonMode::Online,
            ),
        ],
    }
}

pub async fn world(c: &ProfileClient, scale: f64) -> World {
    let cohort = c
        .create_cohort(&CohortRequest {
            label: "test".into(),
            clock_scale: scale,
            start_at: None,
        })
        .await
        .expect("cohort");
    let org = |name: &str, kind| OrganisationRequest {
        cohort_id: cohort.cohort_id.clone(),
        name: name.into(),
        kind,
    };
    let enterprise = c
        .create_organisation(&org("企业甲", OrganisationKind::Enterprise))
        .await
        .expect("org");
    let institution = c
        .create_organisation(&org("学校乙", OrganisationKind::Institution))
        .await
        .expect("org");
    let online_course = c.propose_course(&short_course()).await.expect("course");
    let online_class = c
        .create_class(&ClassRequest {
            course_id: online_course.course_id.clone(),
            organiser_id: enterprise.organisation_id.clone(),
            name: "class".into(),
        })
        .await
        .expect("class");
    World {
        cohort,
        enterprise,
        institution,
        online_course,
        online_class,
    }
}

pub fn registration(who: &Identity, org: &str) -> RegistrationRequest {
    RegistrationRequest {
        name: who.name.clone(),
        id_number: who.id_number.clone(),
        phone: who.phone.clone(),
        password: "pass-word-1".into(),
        organisation_id: org.into(),
        id_card_image: b64(&duxue_media::id_card_image(who, 1)),
        face_image: b64(&duxue_media::face_image(who, 2)),
    }
}

pub fn media_challenge(ch: &LivenessChallenge) -> duxue_media::Challenge {
    duxue_platform::biometrics::media_challenge(&ch.nonce, &ch.actions)
}

pub async fn login(c: &ProfileClient, who: &Identity) -> Result<LearnerSession, ClientError> {
    login_on(c, who, None).await
}

/// A login naming `device` (the profile's optional `device_id`).
pub async fn login_on(
    c: &ProfileClient,
    who: &Identity,
    device: Option<&str>,
) -> Result<LearnerSession, ClientError> {
    // At high clock scales the challenge's two cohort minutes are a fraction of a wall second;
    // a debug build under parallel tests may need another try.
    let mut last = None;
    for attempt in 0..5u64 {
        let ch = c.request_challenge(&who.id_number).await?;
        let frames = duxue_media::liveness_frames(who, &media_challenge(&ch), 3 + attempt);
        let r = c
            .login(&LoginRequest {
                id_number: who.id_number.clone(),
                password: "pass-word-1".into(),
                challenge_id: ch.challenge_id,
                frames: frames.iter().map(|f| b64(f)).collect(),
                device_id: device.map(str::to_owned),
            })
            .await;
        match r {
            Err(e) if e.is(&ErrorCode::ChallengeExpired) => last = Some(e),
            other => return other,
        }
    }
    Err(last.expect("attempted"))
}

/// A registered, logged-in learner.
pub struct Student {
    pub who: Identity,
    pub learner: Learner,
    pub session: LearnerSession,
}

pub async fn student(c: &ProfileClient, seed: u64, org: &str) -> Student {
    let who = duxue_media::identity(seed);
    let learner = c
        .register_learner(&registration(&who, org))
        .await
        .expect("register");
    let session = login(c, &who).await.expect("login");
    Student {
        who,
        learner,
        session,
    }
}

pub async fn supervisor(
    c: &ProfileClient,
    cohort: &str,
    kind: SupervisorKind,
    org: Option<&str>,
) -> SupervisorSession {
    let creds = c
        .create_supervisor(&SupervisorRequest {
            cohort_id: cohort.into(),
            kind,
            organisation_id: org.map(str::to_owned),
        })
        .await
        .expect("supervisor");
    c.supervisor_login(&creds.username, &creds.password)
        .await
        .expect("supervisor login")
}

/// What a scripted learner does with pending events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    Honest,
    /// Never answers popups (captures are answered).
    IgnorePopups,
    /// Uploads another person's face to captures.
    WrongFace,
    /// Never uploads captures.
    IgnoreCaptures,
    /// Stops beating at the first capture request, leaving it pending (the caller then stops
    /// the playback).
    QuitAtCapture,
}

/// What a study run observed.
#[derive(Debug, Default)]
pub struct Study {
    pub acks: Vec<HeartbeatAck>,
    pub popups: Vec<PendingEvent>,
    pub captures: Vec<PendingEvent>,
    pub error: Option<ClientError>,
    pub virtual_elapsed: f64,
}

pub fn popup_code(prompt: &str) -> String {
    prompt
        .split_whitespace()
        .find(|w| w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("")
        .to_owned()
}

/// Plays a lesson from `start_position` at real speed (on the cohort clock) for up to
/// `virtual_seconds` or until the lesson ends or a refusal; bounded in wall time.
pub async fn study(
    c: &ProfileClient,
    s: &Student,
    pb: &Playback,
    scale: f64,
    virtual_seconds: f64,
    behaviour: Behaviour,
) -> Study {
    let mut out = Study::default();
    let token = &s.session.token;
    let interval = Duration::from_secs_f64(pb.heartbeat_interval_seconds / scale);
    let mut pos = pb.start_position;
    let mut last = Instant::now();
    let started = Instant::now();
    let wall_budget = Duration::from_secs_f64(virtual_seconds / scale + 20.0);
    let mut paused = false;
    let mut seen = std::collections::HashSet::new();
    let impostor = duxue_media::impostor(&s.who, 5);
    for _ in 0..100_000 {
        if started.elapsed() > wall_budget || out.virtual_elapsed >= virtual_seconds {
            break;
        }
        tokio::time::sleep(interval).await;
        let dt = last.elapsed().as_secs_f64() * scale;
        last = Instant::now();
        out.virtual_elapsed += dt;
        if !paused {
            pos = (pos + dt).min(pb.lesson_seconds);
        }
        let req = HeartbeatRequest {
            position_seconds: pos,
            rate: 1.0,
            focused: true,
            client_time: None,
        };
        let ack = match c.heartbeat(token, &pb.playback_id, &req).await {
            Ok(a) => a,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        };
        pos = ack.accepted_position;
        paused = false;
        let mut quit = false;
        for ev in &ack.events {
            let first = seen.insert(ev.event_id.clone());
            match ev.kind {
                EventKind::Popup => {
                    if first {
                        out.popups.push(ev.clone());
                    }
                    if behaviour == Behaviour::IgnorePopups {
                        paused = true;
                        continue;
                    }
                    let code = popup_code(ev.prompt.as_deref().unwrap_or(""));
                    c.answer_popup(token, &pb.playback_id, &ev.event_id, &code)
                        .await
                        .expect("popup answer");
                }
                EventKind::Capture => {
                    if first {
                        out.captures.push(ev.clone());
                    }
                    let image = match behaviour {
                        Behaviour::IgnoreCaptures => {
                            paused = true;
                            continue;
                        }
                        Behaviour::QuitAtCapture => {
                            quit = true;
                            continue;
                        }
                        Behaviour::WrongFace => duxue_media::capture_image(&impostor, 9),
                        _ => duxue_media::capture_image(&s.who, out.captures.len() as u64 + 11),
                    };
                    c.upload_capture(token, &pb.playback_id, &ev.event_id, b64(&image))
                        .await
                        .expect("capture upload");
                }
            }
            last = Instant::now();
        }
        let end =
            quit || (ack.accepted_position >= pb.lesson_seconds - 1e-6 && ack.events.is_empty());
        out.acks.push(ack);
        if end {
            break;
        }
    }
    out
}

pub async fn enrol_and_play(
    c: &ProfileClient,
    s: &Student,
    w: &World,
    lesson_index: usize,
) -> (Enrolment, Playback) {
    let e = c
        .enrol(&s.session.token, &w.online_class.class_id)
        .await
        .expect("enrol");
    let pb = c
        .start_playback(
            &s.session.token,
            &PlaybackRequest {
                enrolment_id: e.enrolment_id.clone(),
                lesson_id: w.online_course.lessons[lesson_index].lesson_id.clone(),
            },
        )
        .await
        .expect("playback");
    (e, pb)
}

pub fn code(e: &ClientError) -> String {
    e.code()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_else(|| format!("{e}"))
}
