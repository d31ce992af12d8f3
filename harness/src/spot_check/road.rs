//! The spot check's learners: an account the bureau holds on the platform, driven as a
//! simulated person on the platform's own clock. This module is the only place the spot check
//! uses the scenarios' learner machinery (`SimLearner`, `StudyPlan`, `two_windows`), so that it
//! can be re-pointed when the ledger becomes a plain value (SEAMS §2) and cheats become units
//! (SEAMS §1).

use std::collections::BTreeMap;
use std::sync::Arc;

use duxue_media::Species;
use duxue_profile::{
    ClassHourProgress, ClientError, Enrolment, ErrorCode, Lesson, LessonMode, Policy,
    ProfileClient, Progress,
};
use duxue_scenarios::clock::CohortClock;
use duxue_scenarios::learner::{
    CaptureStyle, PopupStyle, Presentation, Seek, SimLearner, StudyLog, StudyPlan, TwoWindows,
    refuses_the_person, two_windows,
};
use duxue_scenarios::{ProbeError, seeds};
use tokio::time::Instant;

use super::files::Account;

/// One way of sitting in front of a lesson: honest, or one cheat in one of its forms.
#[derive(Clone, Debug, PartialEq)]
pub enum Sitting {
    Honest,
    /// Drags forward by `jump` content seconds once `after` seconds were watched.
    Seek {
        after: f64,
        jump: f64,
    },
    /// Plays faster than real time, declaring it in the heartbeat's rate or not.
    SpeedUp {
        /// The rate its heartbeats declare.
        rate: f64,
        /// How fast its position runs against the clock (a declared rate of 1 may hide it).
        speed: f64,
    },
    /// Opens the same lesson in a second window a moment after the first.
    SecondWindow,
    /// Logs in on a second device part-way and carries on there.
    SecondDevice,
    /// Leaves the player running and ignores popups (stays in front of the camera).
    Idle,
    /// The player keeps running but sends nothing for `length` seconds after `after`.
    Silent {
        after: f64,
        length: f64,
    },
    /// A script answers every popup after exactly `latency` seconds and beats on a timer.
    AutoClick {
        latency: f64,
    },
    /// Somebody else sits in front of the camera when the capture comes.
    CaptureSpoof,
    /// Nobody answers the capture.
    CaptureIgnored,
}

impl Sitting {
    /// The name in figures and the report.
    pub fn name(&self) -> &'static str {
        match self {
            Sitting::Honest => "honest",
            Sitting::Seek { .. } => "seek",
            Sitting::SpeedUp { .. } => "speed-up",
            Sitting::SecondWindow => "second-window",
            Sitting::SecondDevice => "second-device",
            Sitting::Idle => "idle",
            Sitting::Silent { .. } => "silent",
            Sitting::AutoClick { .. } => "popup-auto-click",
            Sitting::CaptureSpoof => "capture-spoof",
            Sitting::CaptureIgnored => "capture-ignored",
        }
    }

    /// The study plan of this sitting for `budget` seconds of `lesson`, which stands at
    /// `furthest`.
    fn plan(&self, enrolment: &str, lesson: &str, furthest: f64, budget: f64) -> StudyPlan {
        let honest = StudyPlan::honest(enrolment, lesson, budget);
        let partial = StudyPlan {
            until_complete: false,
            ..honest.clone()
        };
        match *self {
            Sitting::Honest | Sitting::SecondWindow | Sitting::SecondDevice => honest,
            Sitting::Seek { after, jump } => StudyPlan {
                seek: Seek::Jump {
                    at: furthest + after,
                    by: jump,
                },
                ..partial
            },
            Sitting::SpeedUp { rate, speed } => StudyPlan {
                rate,
                speed,
                ..partial
            },
            Sitting::Idle => StudyPlan {
                popups: PopupStyle::Ignore,
                ..partial
            },
            Sitting::Silent { after, length } => StudyPlan {
                silence: Some((after, length)),
                ..partial
            },
            Sitting::AutoClick { latency } => StudyPlan {
                popups: PopupStyle::Bot { latency },
                jitter: 0.0,
                ..honest
            },
            Sitting::CaptureSpoof => StudyPlan {
                captures: CaptureStyle::OtherPerson,
                ..partial
            },
            Sitting::CaptureIgnored => StudyPlan {
                captures: CaptureStyle::Ignore,
                ..partial
            },
        }
    }
}

/// Something tried at a login before (or after) the genuine answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoginTrial {
    /// A login that sends no liveness frames.
    NoFrames,
    /// The challenge of the genuine login answered once more with the same frames.
    ReplayedChallenge,
    /// A challenge answered genuinely after its time to live.
    ExpiredChallenge,
    /// A presentation attack of this species.
    Spoof(Species),
}

impl LoginTrial {
    pub fn describe(self) -> String {
        match self {
            LoginTrial::NoFrames => "a login without liveness frames".into(),
            LoginTrial::ReplayedChallenge => {
                "a used challenge answered again with the same frames".into()
            }
            LoginTrial::ExpiredChallenge => "a challenge answered after its time to live".into(),
            LoginTrial::Spoof(species) => format!("a {} attack", species.as_str()),
        }
    }
}

/// How a login trial ended: refused (`Some(true)`), let in (`Some(false)`), or undecided.
#[derive(Clone, Debug)]
pub struct TrialResult {
    pub trial: LoginTrial,
    pub refused: Option<bool>,
    pub detail: String,
}

/// What a second login of the same account on another device left behind.
#[derive(Clone, Debug)]
pub struct SecondDevice {
    /// The second login was refused (with this code).
    pub refused: Option<ErrorCode>,
    pub first_live: Option<bool>,
    pub second_live: Option<bool>,
    pub detail: String,
}

/// One sitting and what the platform made of it.
#[derive(Clone, Debug)]
pub struct SittingRecord {
    pub account: usize,
    pub learner_id: String,
    pub sitting: Sitting,
    pub lesson_id: String,
    pub log: StudyLog,
    /// The second window's log.
    pub second: Option<StudyLog>,
    pub windows: Option<TwoWindows>,
    pub device: Option<SecondDevice>,
    /// What the platform credited for this sitting: the lesson's credit grew by this much,
    /// leaving out class hours withheld when it ended.
    pub credited: f64,
    /// What the sitting could legitimately earn in the class hours judged (both windows).
    pub creditable: f64,
    /// The learner's whole ledger of the sitting, every class hour (for the completion export).
    pub ledger: f64,
    pub slack: f64,
    /// Platform seconds from the start to the end of the sitting.
    pub elapsed: f64,
    pub started: Instant,
    pub ended: Instant,
    /// The lesson's class hours when the sitting ended.
    pub hours_after: Vec<ClassHourProgress>,
}

/// A bureau account as a simulated person.
pub struct RoadLearner {
    pub index: usize,
    pub account: Account,
    sim: SimLearner,
    pub enrolment: Option<Enrolment>,
    /// The course's lessons in content order.
    pub lessons: Vec<Lesson>,
    class_hour: f64,
    /// Platform seconds a capture cheat plays on after the content that meets its capture:
    /// the policy's answer window and a minute.
    after_capture: f64,
    /// Per lesson, the class hours whose capture this account failed, missed or left open
    /// and has not passed again since: the platform may withhold them, so a sitting's credit
    /// is judged without them (by what the account itself knows, not by the platform's label).
    unsettled: BTreeMap<String, std::collections::BTreeSet<u32>>,
    /// Per lesson, the class hours whose capture this account has already been asked for:
    /// a capture cheat must sit where a capture is still ahead.
    captured: BTreeMap<String, std::collections::BTreeSet<u32>>,
}

impl RoadLearner {
    pub fn new(
        index: usize,
        account: Account,
        client: ProfileClient,
        clock: Arc<CohortClock>,
        policy: Arc<Policy>,
        run_seed: u64,
    ) -> RoadLearner {
        let class_hour = policy.class_hour_seconds();
        let after_capture = f64::from(policy.rules.capture_answer_window_seconds.value) + 60.0;
        let mut sim = SimLearner::new(client, clock, policy, account.identity_seed, String::new())
            .shot_afresh(seeds::mix(run_seed, index as u64));
        sim.password = account.password.clone();
        RoadLearner {
            index,
            account,
            sim,
            enrolment: None,
            lessons: Vec::new(),
            class_hour,
            after_capture,
            unsettled: BTreeMap::new(),
            captured: BTreeMap::new(),
        }
    }

    pub fn client(&self) -> &ProfileClient {
        self.sim.client()
    }

    pub fn clock(&self) -> &Arc<CohortClock> {
        self.sim.clock()
    }

    pub fn token(&self) -> Option<&str> {
        self.sim.session.as_ref().map(|s| s.token.as_str())
    }

    pub fn learner_id(&self) -> Option<&str> {
        self.sim.learner.as_ref().map(|l| l.learner_id.as_str())
    }

    pub fn organisation_id(&self) -> Option<&str> {
        self.sim
            .learner
            .as_ref()
            .map(|l| l.organisation_id.as_str())
    }

    /// SHA-256 of every liveness frame this account sent, per challenge.
    pub fn frames_sent(&self) -> &BTreeMap<String, Vec<String>> {
        &self.sim.frames_sha256
    }

    /// Logs in: the `before` trials, then a genuine answer (retried as a person would, at most
    /// three times), then the `after` trials. A trial the platform let in leaves the account
    /// logged in with that session.
    pub async fn log_in(
        &mut self,
        trials: &[LoginTrial],
        ttl: f64,
    ) -> Result<Vec<TrialResult>, ProbeError> {
        let mut results = Vec::new();
        for trial in trials
            .iter()
            .filter(|t| **t != LoginTrial::ReplayedChallenge)
        {
            results.push(self.trial(*trial, ttl).await?);
        }
        let (challenge_id, frames) = self.genuine_login().await?;
        if trials.contains(&LoginTrial::ReplayedChallenge) {
            let again = self.sim.login_with_frames(&challenge_id, frames).await;
            results.push(self.judge_trial(LoginTrial::ReplayedChallenge, again));
        }
        let token = self.token().unwrap_or_default().to_owned();
        let me = self.client().get_me(&token).await?;
        self.sim.learner = Some(me);
        Ok(results)
    }

    async fn trial(&mut self, trial: LoginTrial, ttl: f64) -> Result<TrialResult, ProbeError> {
        let id_number = self.sim.identity.id_number.clone();
        let answer = match trial {
            LoginTrial::Spoof(species) => {
                let result = self.sim.login_as(Presentation::Attack(species)).await;
                result.cloned()
            }
            LoginTrial::NoFrames => {
                let challenge = self.client().request_challenge(&id_number).await?;
                self.sim
                    .login_with_frames(&challenge.challenge_id, Vec::new())
                    .await
            }
            LoginTrial::ExpiredChallenge => {
                let challenge = self.client().request_challenge(&id_number).await?;
                // A person who walked away from the camera and came back later.
                self.clock().sleep(ttl + 30.0).await;
                let frames = self.sim.frames_for(&challenge, Presentation::Genuine).await;
                self.sim
                    .login_with_frames(&challenge.challenge_id, frames)
                    .await
            }
            LoginTrial::ReplayedChallenge => {
                return Err(ProbeError::setup("a replay is tried after a genuine login"));
            }
        };
        Ok(self.judge_trial(trial, answer))
    }

    fn judge_trial(
        &mut self,
        trial: LoginTrial,
        answer: Result<duxue_profile::LearnerSession, ClientError>,
    ) -> TrialResult {
        match answer {
            Ok(session) => {
                self.sim.session = Some(session);
                TrialResult {
                    trial,
                    refused: Some(false),
                    detail: "let in: a session was opened".into(),
                }
            }
            Err(e) if e.is_refusal() => TrialResult {
                trial,
                refused: Some(true),
                detail: e.to_string(),
            },
            Err(e) => TrialResult {
                trial,
                refused: None,
                detail: e.to_string(),
            },
        }
    }

    /// A genuine login; returns the challenge answered and its frames.
    async fn genuine_login(&mut self) -> Result<(String, Vec<Vec<u8>>), ProbeError> {
        let id_number = self.sim.identity.id_number.clone();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let challenge = self.client().request_challenge(&id_number).await?;
            let frames = self.sim.frames_for(&challenge, Presentation::Genuine).await;
            match self
                .sim
                .login_with_frames(&challenge.challenge_id, frames.clone())
                .await
            {
                Ok(session) => {
                    self.sim.session = Some(session);
                    return Ok((challenge.challenge_id, frames));
                }
                Err(e)
                    if attempts < 3
                        && (refuses_the_person(&e) || e.is(&ErrorCode::ChallengeExpired)) =>
                {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Logs out; returns the token that was live.
    pub async fn log_out(&mut self) -> Result<String, ProbeError> {
        let token = self.sim.token()?.to_owned();
        self.client().logout(&token).await?;
        self.sim.session = None;
        Ok(token)
    }

    /// Finds the account's enrolment in its class (enrolling when there is none) and the
    /// course's lessons.
    pub async fn enrol(&mut self) -> Result<(), ProbeError> {
        let token = self.sim.token()?.to_owned();
        let class_id = self.account.class_id.clone();
        let listed = self.client().list_enrolments(&token).await?;
        let enrolment = match listed
            .enrolments
            .into_iter()
            .find(|e| e.class_id == class_id)
        {
            Some(found) => found,
            None => self.client().enrol(&token, &class_id).await?,
        };
        let courses = self.client().list_courses().await?;
        let course = courses
            .courses
            .into_iter()
            .find(|c| c.course_id == enrolment.course_id)
            .ok_or_else(|| {
                ProbeError::setup(format!(
                    "the platform lists no course {} for class {class_id}",
                    enrolment.course_id
                ))
            })?;
        let mut lessons = course.lessons;
        lessons.sort_by_key(|l| l.ordinal);
        self.lessons = lessons;
        self.enrolment = Some(enrolment);
        Ok(())
    }

    pub async fn progress(&self) -> Result<Progress, ProbeError> {
        let token = self.sim.token()?;
        let enrolment = self.enrolment_id()?;
        Ok(self.client().get_progress(token, enrolment).await?)
    }

    pub fn enrolment_id(&self) -> Result<&str, ProbeError> {
        self.enrolment
            .as_ref()
            .map(|e| e.enrolment_id.as_str())
            .ok_or_else(|| ProbeError::setup("the account is not enrolled"))
    }

    /// The lesson to study next: the first online lesson not completed and not locked, with
    /// where it stands.
    pub fn next_lesson(&self, progress: &Progress) -> Option<(String, f64)> {
        self.lessons
            .iter()
            .filter(|l| l.mode == LessonMode::Online)
            .find_map(|l| {
                let p = progress
                    .lessons
                    .iter()
                    .find(|p| p.lesson_id == l.lesson_id)?;
                (!p.completed && !p.locked).then(|| (l.lesson_id.clone(), p.furthest_position))
            })
    }

    /// Studies the next lesson for at most `budget` platform seconds in the way of `sitting`.
    /// `None` when there is nothing left to study.
    pub async fn sit(
        &mut self,
        sitting: &Sitting,
        budget: f64,
    ) -> Result<Option<SittingRecord>, ProbeError> {
        let before = self.progress().await?;
        let Some((lesson_id, furthest)) = self.next_lesson(&before) else {
            return Ok(None);
        };
        let enrolment = self.enrolment_id()?.to_owned();
        let budget = if matches!(sitting, Sitting::CaptureSpoof | Sitting::CaptureIgnored) {
            budget.min(self.to_next_capture(&lesson_id, furthest) + self.after_capture)
        } else {
            budget
        };
        let plan = sitting.plan(&enrolment, &lesson_id, furthest, budget);
        // The ledger keeps a lesson's books over every sitting, as the platform's progress does:
        // a sitting is judged on what each side added in it.
        let ledger_before = self.sim.ledger().creditable_by_hour(&lesson_id);
        let clock = self.clock().clone();
        let began = clock.elapsed();
        let started = Instant::now();
        let (log, second, device) = match sitting {
            Sitting::SecondWindow => {
                let (log, second) = self.two_windows(&plan).await?;
                (log, second, None)
            }
            Sitting::SecondDevice => {
                let (log, device) = self.second_device(&plan).await?;
                (log, None, Some(device))
            }
            _ => (self.sim.study(&plan).await?, None, None),
        };
        let ended = Instant::now();
        let elapsed = clock.elapsed() - began;
        let after = self.progress().await?;
        let hours = |p: &Progress| {
            p.lessons
                .iter()
                .find(|l| l.lesson_id == lesson_id)
                .map(|l| l.class_hours.clone())
                .unwrap_or_default()
        };
        let (hours_before, hours_after) = (hours(&before), hours(&after));
        // Class hours whose capture was failed, missed or left open (before or now) may be
        // withheld, with what earlier sittings earned there: both sides leave them out.
        let unsettled = self.settle(&lesson_id, [Some(&log), second.as_ref()]);
        let credited = hours_after
            .iter()
            .filter(|h| !unsettled.contains(&h.index))
            .map(|h| {
                let was = hours_before
                    .iter()
                    .find(|b| b.index == h.index)
                    .map_or(0.0, |b| b.credited_seconds);
                h.credited_seconds - was
            })
            .sum();
        let ledger_after = self.sim.ledger().creditable_by_hour(&lesson_id);
        let added = |h: &u32| {
            ledger_after.get(h).copied().unwrap_or(0.0)
                - ledger_before.get(h).copied().unwrap_or(0.0)
        };
        let mut creditable: f64 = ledger_after
            .keys()
            .filter(|h| !unsettled.contains(h))
            .map(added)
            .sum();
        let mut ledger: f64 = ledger_after.keys().map(added).sum();
        if *sitting == Sitting::CaptureSpoof {
            // A stand-in in a class hour whose capture is not asked while it sits there cannot be
            // seen by any platform (one random capture per class hour is the control): the
            // content it played for the first time in those hours is no over-credit, whatever
            // the ledger says of the person, up to the time the sitting took.
            let asked: std::collections::BTreeSet<u32> = log
                .captures()
                .map(|c| (c.position / self.class_hour).floor() as u32)
                .collect();
            let unseen = content_per_hour(furthest, log.final_position, self.class_hour)
                .filter(|(h, _)| !asked.contains(h) && !unsettled.contains(h))
                .map(|(_, seconds)| seconds)
                .sum::<f64>()
                .min(elapsed);
            creditable += unseen;
            ledger += unseen;
        }
        let mut slack = log.credit_slack();
        if let Some(second) = &second {
            creditable = creditable.min(elapsed);
            ledger = ledger.min(elapsed);
            slack += second.credit_slack();
        }
        let windows = second.as_ref().map(|b| two_windows(&log, b));
        Ok(Some(SittingRecord {
            account: self.index,
            learner_id: self.learner_id().unwrap_or_default().to_owned(),
            sitting: sitting.clone(),
            lesson_id,
            log,
            second,
            windows,
            device,
            credited,
            creditable,
            ledger,
            slack,
            elapsed,
            started,
            ended,
            hours_after,
        }))
    }

    /// Content seconds from `furthest` to the end of the first class hour of `lesson` whose
    /// capture this account has not yet been asked for (the lesson's end when it comes first):
    /// a sitting that plays that far meets a capture, wherever in the class hour the platform
    /// put it.
    fn to_next_capture(&self, lesson: &str, furthest: f64) -> f64 {
        let hour = self.class_hour;
        let length = self
            .lessons
            .iter()
            .find(|l| l.lesson_id == lesson)
            .map_or(f64::INFINITY, |l| f64::from(l.minutes) * 60.0);
        let asked = self.captured.get(lesson);
        let mut index = (furthest / hour).floor() as u32;
        while asked.is_some_and(|a| a.contains(&index)) {
            index += 1;
        }
        ((f64::from(index + 1) * hour).min(length) - furthest).max(0.0)
    }

    /// Updates the class hours of `lesson` whose capture is unsettled from a sitting's logs;
    /// returns those to leave out of this sitting's judgement: unsettled before it, or touched
    /// by a capture that did not pass in it.
    fn settle<'a>(
        &mut self,
        lesson: &str,
        logs: impl IntoIterator<Item = Option<&'a StudyLog>>,
    ) -> std::collections::BTreeSet<u32> {
        let hour = self.class_hour;
        let asked = self.captured.entry(lesson.to_owned()).or_default();
        let known = self.unsettled.entry(lesson.to_owned()).or_default();
        let mut left_out = known.clone();
        let mut captures: Vec<_> = logs
            .into_iter()
            .flatten()
            .flat_map(|l| l.captures())
            .collect();
        captures.sort_by(|a, b| a.seen_at.total_cmp(&b.seen_at));
        for capture in captures {
            let index = (capture.position / hour).floor() as u32;
            asked.insert(index);
            if capture.passed == Some(true) {
                known.remove(&index);
            } else {
                known.insert(index);
                left_out.insert(index);
            }
        }
        left_out
    }

    /// The lesson in this window and, a moment later, in a second one.
    async fn two_windows(
        &mut self,
        plan: &StudyPlan,
    ) -> Result<(StudyLog, Option<StudyLog>), ProbeError> {
        let mut window_b = self.sim.twin();
        let plan_b = StudyPlan {
            until_complete: false,
            budget_seconds: plan.budget_seconds / 2.0,
            ..plan.clone()
        };
        let clock = self.clock().clone();
        let a_done = std::sync::atomic::AtomicBool::new(false);
        let first = async {
            let log = self.sim.study(plan).await;
            a_done.store(true, std::sync::atomic::Ordering::Relaxed);
            log
        };
        let second = async {
            clock.sleep(15.0).await;
            if a_done.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            window_b.study(&plan_b).await.map(Some)
        };
        let (a, b) = tokio::join!(first, second);
        Ok((a?, b?))
    }

    /// Studies a third of `plan`, logs in on a second device and carries on there.
    async fn second_device(
        &mut self,
        plan: &StudyPlan,
    ) -> Result<(StudyLog, SecondDevice), ProbeError> {
        let first_part = StudyPlan {
            until_complete: false,
            budget_seconds: plan.budget_seconds / 3.0,
            ..plan.clone()
        };
        let mut log = self.sim.study(&first_part).await?;
        let old_token = self.sim.token()?.to_owned();
        let mut device_b = self.sim.twin();
        let second = device_b.login().await.map(|s| s.token.clone());
        let first_live = self.client().get_me(&old_token).await;
        let device = match second {
            Ok(new_token) => {
                let second_live = self.client().get_me(&new_token).await;
                let device = SecondDevice {
                    refused: None,
                    first_live: liveness_of(&first_live),
                    second_live: liveness_of(&second_live),
                    detail: format!(
                        "second login accepted; first session {}, second session {}",
                        describe(&first_live),
                        describe(&second_live)
                    ),
                };
                if second_live.is_ok() {
                    self.sim.session = device_b.session.clone();
                }
                device
            }
            Err(e) if e.is_refusal() => SecondDevice {
                refused: e.code().cloned(),
                first_live: liveness_of(&first_live),
                second_live: Some(false),
                detail: format!(
                    "second login refused ({e}); first session {}",
                    describe(&first_live)
                ),
            },
            Err(e) => SecondDevice {
                refused: None,
                first_live: None,
                second_live: None,
                detail: format!("second login: {e}"),
            },
        };
        let rest = StudyPlan {
            budget_seconds: plan.budget_seconds - first_part.budget_seconds,
            ..plan.clone()
        };
        if rest.budget_seconds > 0.0 && self.sim.token().is_ok() {
            let more = self.sim.study(&rest).await?;
            merge_logs(&mut log, more);
        }
        Ok((log, device))
    }
}

/// The content between `from` and `to` per class hour of `hour` seconds: (index, seconds).
fn content_per_hour(from: f64, to: f64, hour: f64) -> impl Iterator<Item = (u32, f64)> {
    let first = (from / hour).floor().max(0.0) as u32;
    let last = (to / hour).ceil().max(0.0) as u32;
    (first..last).filter_map(move |index| {
        let start = f64::from(index) * hour;
        let seconds = (to.min(start + hour) - from.max(start)).max(0.0);
        (seconds > 0.0).then_some((index, seconds))
    })
}

/// Whether a session answered (`Some(true)`), was refused (`Some(false)`) or could not tell.
fn liveness_of<T>(answer: &Result<T, ClientError>) -> Option<bool> {
    match answer {
        Ok(_) => Some(true),
        Err(e) if e.is_refusal() => Some(false),
        Err(_) => None,
    }
}

fn describe<T>(answer: &Result<T, ClientError>) -> String {
    match answer {
        Ok(_) => "live".into(),
        Err(e) => format!("refused ({})", e.code().map_or("?", |c| c.as_str())),
    }
}

/// Appends a later part of one sitting to its log (ledger, events, refusals).
fn merge_logs(log: &mut StudyLog, more: StudyLog) {
    log.heartbeats_sent += more.heartbeats_sent;
    log.acks += more.acks;
    // The ledger's figures are over every sitting of the lesson: the later part's are the
    // sitting's.
    log.creditable = more.creditable;
    log.creditable_by_hour = more.creditable_by_hour;
    log.events.extend(more.events);
    log.refusals.extend(more.refusals);
    log.errors.extend(more.errors);
    log.elapsed += more.elapsed;
    log.credited = more.credited;
    log.final_position = more.final_position;
    log.final_state = more.final_state;
}

/// Registers the person of `identity_seed` in `organisation_id` through the platform's public
/// registration, with genuine photos (retaken as at a registration desk when refused).
pub async fn register(
    client: ProfileClient,
    clock: Arc<CohortClock>,
    policy: Arc<Policy>,
    identity_seed: u64,
    organisation_id: &str,
    password: &str,
) -> Result<String, ClientError> {
    let mut sim = SimLearner::new(
        client,
        clock,
        policy,
        identity_seed,
        organisation_id.to_owned(),
    );
    sim.password = password.to_owned();
    Ok(sim.register().await?.id_number_masked.clone())
}

#[cfg(test)]
mod tests {
    use super::content_per_hour;

    #[test]
    fn content_is_split_at_class_hour_boundaries() {
        let parts: Vec<(u32, f64)> = content_per_hour(1927.5, 2700.0, 2700.0).collect();
        assert_eq!(parts, vec![(0, 772.5)]);
        let parts: Vec<(u32, f64)> = content_per_hour(2000.0, 3000.0, 2700.0).collect();
        assert_eq!(parts, vec![(0, 700.0), (1, 300.0)]);
        assert_eq!(content_per_hour(500.0, 500.0, 2700.0).count(), 0);
    }
}
