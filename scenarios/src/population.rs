//! The population: many learners of one shared cohort, each with one behaviour of the mix,
//! studying the course lesson by lesson in sittings. A member keeps a tally of its cheat
//! attempts, what the platform refused, and the ledger (seconds it could legitimately be
//! credited against seconds the platform credited). The load phase of the harness drives
//! members; it decides nothing here.

use std::collections::BTreeMap;
use std::sync::Arc;

use duxue_profile::{
    Class, ClassRequest, ErrorCode, EventKind, LessonCategory, LessonMode, PlaybackState,
    ProfileClient,
};
use serde::{Deserialize, Serialize};

use crate::behaviour::Behaviour;
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{
    CaptureStyle, Pacer, SimLearner, StudyLog, StudyPlan, TwoWindows, two_windows,
};
use crate::outcome::ProbeError;

/// Minutes per lesson of the population's course (short, so a sitting ends soon after the
/// load shape asks a learner to leave).
pub const LESSON_MINUTES: u32 = 10;

/// The shortest sitting, in cohort seconds: one refused at once is followed by a pause.
const MIN_SITTING_SECONDS: f64 = 60.0;

/// The population's shared world on the target: one cohort, a course of short lessons
/// (a quarter general), the class every member enrols in, and a second class of the same
/// course a cooldown violator tries to join at once.
pub struct PopulationWorld {
    pub fixture: Fixture,
    pub second_class: Class,
    /// Lesson ids in content order.
    pub lessons: Vec<String>,
}

impl PopulationWorld {
    /// Sets the world up on the target; `scale_factor` multiplies the context's clock scale.
    pub async fn new(ctx: &ProbeContext, scale_factor: f64) -> Result<Self, ProbeError> {
        let mut lessons = Vec::new();
        for _ in 0..4 {
            lessons.push((LESSON_MINUTES, LessonCategory::General, LessonMode::Online));
            for _ in 0..3 {
                lessons.push((
                    LESSON_MINUTES,
                    LessonCategory::Professional,
                    LessonMode::Online,
                ));
            }
        }
        let shape = CourseShape {
            delivery: duxue_profile::Delivery::PureOnline,
            lessons,
        };
        let fixture = Fixture::new(ctx, "population", scale_factor, &shape).await?;
        let second_class = fixture
            .client
            .create_class(&ClassRequest {
                course_id: fixture.course.course_id.clone(),
                organiser_id: fixture.enterprise.organisation_id.clone(),
                name: crate::fixture::names::class("population second"),
            })
            .await?;
        let mut ordered: Vec<_> = fixture.course.lessons.iter().collect();
        ordered.sort_by_key(|l| l.ordinal);
        let lessons = ordered.iter().map(|l| l.lesson_id.clone()).collect();
        Ok(PopulationWorld {
            fixture,
            second_class,
            lessons,
        })
    }

    /// Heartbeats per wall second one studying member sends at most.
    pub fn heartbeats_per_learner_second(&self) -> f64 {
        self.fixture.clock.scale / 10.0
    }
}

/// What one member did and what the platform made of it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    pub behaviour: String,
    pub learner_id: Option<String>,
    /// The member got past registration and login.
    pub admitted: bool,
    pub sittings: u32,
    pub cheat_attempts: u32,
    pub attempts_refused: u32,
    /// Cheats a platform can only catch after the fact (bots): flagged by its self-check.
    pub flagged_by_self_check: bool,
    pub creditable_seconds: f64,
    pub credited_seconds: f64,
    /// Credit above the ledger, beyond the per-sitting slack.
    pub excess_seconds: f64,
    /// Ledger seconds the platform did not credit, beyond the per-sitting slack.
    pub denied_seconds: f64,
    /// Largest stretch of an honest sitting's playback without a popup (content seconds).
    pub largest_popup_gap: f64,
    pub popups_seen: u32,
    /// Class hours played through in one sitting, and how many captures each had.
    pub class_hours_watched: u32,
    pub class_hours_without_capture: u32,
    pub captures_seen: u32,
    /// Transport failures and malformed answers.
    pub errors: u32,
    /// Refusal codes the member met, with counts.
    pub refusals: BTreeMap<String, u32>,
}

/// One member of the population.
pub struct Member {
    pub behaviour: Behaviour,
    learner: SimLearner,
    enrolment: Option<String>,
    next_lesson: usize,
    class_hour: f64,
    /// The platform's credit per lesson after the last sitting (credit is per lesson, so a
    /// sitting earns the difference).
    credited_so_far: BTreeMap<String, f64>,
    /// When the load phase ends: no sitting or pause runs past it.
    deadline: tokio::time::Instant,
    popup_window: f64,
    /// Bounds how many members make images (registration, liveness, captures) at once, so
    /// a ramp of thousands does not hold thousands of frame sets in memory.
    media_gate: Arc<tokio::sync::Semaphore>,
    pub tally: Tally,
}

impl Member {
    /// Member `number`: a synthetic person of the population's enterprise talking through
    /// `client`, its heartbeats announced to `pacer`.
    pub fn new(
        world: &PopulationWorld,
        number: u64,
        behaviour: Behaviour,
        client: ProfileClient,
        pacer: Arc<Pacer>,
        deadline: tokio::time::Instant,
        media_gate: Arc<tokio::sync::Semaphore>,
    ) -> Member {
        let mut learner = world.fixture.learner_numbered(number).paced(client, pacer);
        if behaviour == Behaviour::ReplaySpoofer {
            learner = learner.replaying_one_recording();
        }
        Member {
            behaviour,
            learner,
            enrolment: None,
            next_lesson: 0,
            class_hour: world.fixture.policy.class_hour_seconds(),
            credited_so_far: BTreeMap::new(),
            deadline,
            popup_window: f64::from(world.fixture.policy.rules.popup_answer_window_seconds.value),
            media_gate,
            tally: Tally {
                behaviour: behaviour_name(behaviour),
                ..Tally::default()
            },
        }
    }

    /// Registers (genuinely: spoofers cheat at login, not at the registration desk), logs in
    /// as the behaviour presents itself, and enrols. A cooldown violator then tries a second
    /// class at once.
    pub async fn arrive(&mut self, world: &PopulationWorld) -> Result<(), ProbeError> {
        let gate = self.media_gate.clone();
        let _permit = gate.acquire_owned().await;
        let registered = self.learner.register().await.map(|_| ());
        self.note(registered)?;
        self.tally.learner_id = self.learner.learner.as_ref().map(|l| l.learner_id.clone());
        if !self.log_in().await? {
            return Ok(());
        }
        let enrolment = self.learner.enrol(&world.fixture.class.class_id).await?;
        self.enrolment = Some(enrolment.enrolment_id);
        if self.behaviour == Behaviour::CooldownViolator {
            self.tally.cheat_attempts += 1;
            let second = self.learner.enrol(&world.second_class.class_id).await;
            match second {
                Err(ProbeError::Client(e)) if e.is(&ErrorCode::CooldownActive) => {
                    self.refused(&ErrorCode::CooldownActive);
                }
                Err(ProbeError::Client(e)) if e.code().is_none() => self.tally.errors += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Logs in as the behaviour presents itself; false when the platform kept it out.
    async fn log_in(&mut self) -> Result<bool, ProbeError> {
        let how = self.behaviour.presentation();
        let spoof = how != crate::learner::Presentation::Genuine;
        if spoof {
            self.tally.cheat_attempts += 1;
        }
        match self.learner.login_as(how).await {
            Ok(_) => {
                self.tally.admitted = true;
                Ok(true)
            }
            Err(e) => match e.code().cloned() {
                Some(code) if spoof => {
                    self.refused(&code);
                    Ok(false)
                }
                _ => {
                    self.note(Err(e))?;
                    Ok(false)
                }
            },
        }
    }

    /// One sitting: a spoofer kept out tries again; everybody else studies the next lesson
    /// in their style, a multi-window learner in a second window as well, a multi-login
    /// learner logging in on a second device half-way, an out-of-order learner first trying
    /// the last lesson. Returns after at most about one and a half lessons of cohort time.
    pub async fn sitting(&mut self, world: &PopulationWorld) -> Result<(), ProbeError> {
        let started = self.learner.clock().elapsed();
        let result = self.sit(world).await;
        // A person refused at the start of a lesson does not try again within the minute;
        // goose calls this in a loop, so a sitting that ended at once must not spin either.
        let took = self.learner.clock().elapsed() - started;
        if took < MIN_SITTING_SECONDS {
            self.pause(MIN_SITTING_SECONDS - took).await;
        }
        result
    }

    async fn sit(&mut self, world: &PopulationWorld) -> Result<(), ProbeError> {
        if self.left_cohort_seconds() < 1.0 {
            self.wait_out_phase().await;
            return Ok(());
        }
        self.tally.sittings += 1;
        if !self.tally.admitted {
            if self.tally.learner_id.is_none() {
                // Never registered: nothing to do in this phase.
                self.wait_out_phase().await;
                return Ok(());
            }
            // Kept out: wait a while, then try the spoof again.
            self.pause(120.0).await;
            if self.left_cohort_seconds() < 1.0 {
                return Ok(());
            }
            let gate = self.media_gate.clone();
            let permit = gate.acquire_owned().await;
            let admitted = self.log_in().await?;
            drop(permit);
            if admitted {
                let enrolment = self.learner.enrol(&world.fixture.class.class_id).await?;
                self.enrolment = Some(enrolment.enrolment_id);
            }
            return Ok(());
        }
        let Some(enrolment) = self.enrolment.clone() else {
            self.wait_out_phase().await;
            return Ok(());
        };
        let Some(lesson) = world.lessons.get(self.next_lesson).cloned() else {
            // Course finished: rest, as a learner between courses would.
            self.pause(600.0).await;
            return Ok(());
        };
        if self.behaviour == Behaviour::OutOfOrder {
            self.try_out_of_order(world, &enrolment).await?;
        }
        let lesson_seconds = f64::from(LESSON_MINUTES) * 60.0;
        let budget = (lesson_seconds * 1.5).min(self.left_cohort_seconds());
        if budget < 1.0 {
            self.wait_out_phase().await;
            return Ok(());
        }
        let plan = self.behaviour.plan(&enrolment, &lesson, budget);
        let started = self.learner.clock().elapsed();
        let (log, extra_creditable_cap) = match self.behaviour {
            Behaviour::MultiWindow => self.study_in_two_windows(&plan).await?,
            Behaviour::MultiLogin => (self.study_with_second_device(&plan).await?, None),
            _ => (self.learner.study(&plan).await?, None),
        };
        let elapsed = self.learner.clock().elapsed() - started;
        self.account(
            &log,
            &plan,
            extra_creditable_cap.map(|cap: f64| cap.min(elapsed)),
        );
        if log.start_refused.is_none() && log.credited >= lesson_seconds - 20.0 {
            self.next_lesson += 1;
        }
        Ok(())
    }

    /// Cohort seconds left until the load phase ends.
    fn left_cohort_seconds(&self) -> f64 {
        let left = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        left.as_secs_f64() * self.learner.clock().scale
    }

    /// Waits until the load phase ends, or a second once it has: goose calls `sitting` in a
    /// loop, and a member with nothing to do must not spin.
    async fn wait_out_phase(&self) {
        let now = tokio::time::Instant::now();
        tokio::time::sleep_until(self.deadline.max(now + std::time::Duration::from_secs(1))).await;
    }

    /// Sleeps `cohort_seconds`, or until the phase ends if that is sooner.
    async fn pause(&self, cohort_seconds: f64) {
        let seconds = cohort_seconds.min(self.left_cohort_seconds()).max(0.0);
        self.learner.clock().sleep(seconds).await;
    }

    /// Logs out; the tally is final after this.
    pub async fn leave(&mut self) {
        if let Ok(token) = self.learner.token() {
            let _ = self.learner.client().logout(token).await;
        }
    }

    async fn try_out_of_order(
        &mut self,
        world: &PopulationWorld,
        enrolment: &str,
    ) -> Result<(), ProbeError> {
        let Some(last) = world.lessons.last() else {
            return Ok(());
        };
        if self.next_lesson + 1 >= world.lessons.len() {
            return Ok(());
        }
        self.tally.cheat_attempts += 1;
        let plan = StudyPlan {
            until_complete: false,
            ..StudyPlan::honest(enrolment, last, 60.0)
        };
        let log = self.learner.study(&plan).await?;
        match &log.start_refused {
            Some(code) => self.refused(code),
            None => {
                // Played out of order: every second it was credited is cheating.
                self.account_cheat_only(&log, last);
            }
        }
        Ok(())
    }

    /// Studies `plan` in this window and, a moment later, the same lesson in a second one.
    /// Returns the first window's log and a cap on the ledger: the sitting's elapsed time.
    async fn study_in_two_windows(
        &mut self,
        plan: &StudyPlan,
    ) -> Result<(StudyLog, Option<f64>), ProbeError> {
        let mut window_b = self.learner.twin();
        let plan_b = StudyPlan {
            until_complete: false,
            budget_seconds: plan.budget_seconds / 3.0,
            ..plan.clone()
        };
        let clock = self.learner.clock().clone();
        let a_done = std::sync::atomic::AtomicBool::new(false);
        let first = async {
            let log = self.learner.study(plan).await;
            a_done.store(true, std::sync::atomic::Ordering::Relaxed);
            log
        };
        // The second window opens a moment after the first, while the first still plays.
        let second = async {
            clock.sleep(15.0).await;
            if a_done.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            window_b.study(&plan_b).await.map(Some)
        };
        let (a, b) = tokio::join!(first, second);
        let a = a?;
        let Some(b) = b? else {
            return Ok((a, None));
        };
        match two_windows(&a, &b) {
            TwoWindows::Refused(code) => {
                self.tally.cheat_attempts += 1;
                self.refused(&code);
            }
            TwoWindows::BothPlayed => self.tally.cheat_attempts += 1,
            // The first window's sitting ended just as the second opened: no attempt.
            TwoWindows::NotOverlapped => tracing::debug!("two windows that never overlapped"),
        }
        self.tally.errors += b.errors.len() as u32;
        let mut merged = a;
        merged.creditable += b.creditable;
        // Both windows played the same lesson: its credit once both are done, or else the
        // later window's last word on it (credit is per lesson).
        merged.credited = match self
            .learner
            .lesson_credit(&plan.enrolment_id, &plan.lesson_id)
            .await
        {
            Some(credited) => credited,
            None => {
                self.tally.errors += 1;
                merged.credited.max(b.credited)
            }
        };
        Ok((merged, Some(f64::INFINITY)))
    }

    /// Studies `plan`; half-way the same person logs in on a second device and carries on
    /// there. One live session per account: the first session must end, or the second
    /// login be refused.
    async fn study_with_second_device(&mut self, plan: &StudyPlan) -> Result<StudyLog, ProbeError> {
        self.tally.cheat_attempts += 1;
        let half = StudyPlan {
            until_complete: false,
            budget_seconds: plan.budget_seconds / 3.0,
            ..plan.clone()
        };
        let first = self.learner.study(&half).await?;
        let old_token = self.learner.token()?.to_owned();
        let mut device_b = self.learner.twin();
        match device_b.login().await {
            Err(e) if e.is(&ErrorCode::SessionConflict) => {
                self.refused(&ErrorCode::SessionConflict);
                self.account(&first, &half, None);
                return self.learner.study(plan).await;
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        // The first device asks again; its session must be over.
        let old = self.learner.client().get_me(&old_token).await;
        if matches!(&old, Err(e) if e.is(&ErrorCode::SessionRevoked) || e.is(&ErrorCode::Unauthorized))
        {
            self.refused(&ErrorCode::SessionRevoked);
        }
        self.learner.session = device_b.session.clone();
        self.account(&first, &half, None);
        self.learner.study(plan).await
    }

    /// Adds a sitting's log to the tally: the ledger, refusals, popups and captures.
    fn account(&mut self, log: &StudyLog, plan: &StudyPlan, creditable_cap: Option<f64>) {
        let t = &mut self.tally;
        if let Some(code) = &log.start_refused {
            *t.refusals.entry(code.to_string()).or_default() += 1;
            return;
        }
        for (_, code) in &log.refusals {
            *t.refusals.entry(code.to_string()).or_default() += 1;
        }
        t.errors += log.errors.len() as u32;
        let creditable = match creditable_cap {
            Some(cap) => log.creditable.min(cap),
            None => log.creditable,
        };
        let slack = log.credit_slack();
        let credited = newly_credited(&mut self.credited_so_far, &plan.lesson_id, log.credited);
        let t = &mut self.tally;
        t.creditable_seconds += creditable;
        t.credited_seconds += credited;
        t.excess_seconds += (credited - creditable - slack).max(0.0);
        t.denied_seconds += (creditable - credited - slack).max(0.0);
        if (credited - creditable).abs() > slack {
            tracing::info!(
                behaviour = %t.behaviour,
                learner = t.learner_id.as_deref().unwrap_or("-"),
                lesson = %plan.lesson_id,
                credited,
                creditable,
                slack,
                heartbeats = log.heartbeats_sent,
                acks = log.acks,
                refusals = ?log.refusals,
                "a sitting's credit is off the ledger by more than the slack"
            );
        }

        let cheat = match self.behaviour {
            Behaviour::Seeker => plan.seek.is_some().then_some(ErrorCode::SeekForbidden),
            Behaviour::Speeder2 | Behaviour::Speeder4 => Some(ErrorCode::RateForbidden),
            _ => None,
        };
        if let Some(code) = cheat
            && log.heartbeats_sent > 0
        {
            t.cheat_attempts += 1;
            let neutralised = credited <= creditable + slack;
            if log.refused_with(&code) || neutralised {
                t.attempts_refused += 1;
            }
        }
        // An idler has cheated once a popup's answer window ran out while it kept playing.
        let window = self.popup_window + log.credit_slack();
        if self.behaviour == Behaviour::Idler
            && log
                .popups()
                .any(|p| !p.answered && log.elapsed - p.seen_at > window)
        {
            t.cheat_attempts += 1;
            let stopped = log.refused_with(&ErrorCode::PlaybackStopped)
                || log.final_state == Some(PlaybackState::Stopped);
            if stopped && credited <= creditable + slack {
                t.attempts_refused += 1;
            }
        }
        if plan.captures == CaptureStyle::OtherPerson {
            for capture in log.captures().filter(|c| c.answered) {
                t.cheat_attempts += 1;
                if capture.passed == Some(false) {
                    t.attempts_refused += 1;
                }
            }
        }
        if self.behaviour == Behaviour::Honest {
            self.account_enforcement(log);
        }
    }

    /// An out-of-order playback that was let in: its credit is all cheating.
    fn account_cheat_only(&mut self, log: &StudyLog, lesson_id: &str) {
        let slack = log.credit_slack();
        let credited = newly_credited(&mut self.credited_so_far, lesson_id, log.credited);
        self.tally.credited_seconds += credited;
        self.tally.excess_seconds += (credited - slack).max(0.0);
        if credited <= slack {
            self.tally.attempts_refused += 1;
        }
    }

    /// Popup gaps and captures per class hour of an honest sitting, as PB-4 and CP-1 measure
    /// them.
    fn account_enforcement(&mut self, log: &StudyLog) {
        let hour = self.class_hour;
        let t = &mut self.tally;
        let start = log.playback.as_ref().map_or(0.0, |p| p.start_position);
        let mut last = start;
        for popup in log.popups() {
            t.largest_popup_gap = t.largest_popup_gap.max(popup.position - last);
            last = popup.position;
            t.popups_seen += 1;
        }
        t.largest_popup_gap = t.largest_popup_gap.max(log.final_position - last);
        let lesson_end = log.playback.as_ref().map_or(0.0, |p| p.lesson_seconds);
        // Class hours of this lesson played through in this sitting.
        let mut h = (start / hour).floor();
        while h * hour < lesson_end {
            let end = ((h + 1.0) * hour).min(lesson_end);
            if start <= h * hour && log.final_position >= end - 1.0 {
                t.class_hours_watched += 1;
                let captures = log
                    .events
                    .iter()
                    .filter(|e| e.kind == EventKind::Capture)
                    .filter(|e| e.position >= h * hour - 15.0 && e.position < end + 15.0)
                    .count();
                t.captures_seen += captures as u32;
                if captures == 0 {
                    t.class_hours_without_capture += 1;
                }
            }
            h += 1.0;
        }
    }

    fn refused(&mut self, code: &ErrorCode) {
        self.tally.attempts_refused += 1;
        *self.tally.refusals.entry(code.to_string()).or_default() += 1;
    }

    /// Counts a transport failure as an error; a refusal outside the script is returned.
    fn note(&mut self, result: Result<(), duxue_profile::ClientError>) -> Result<(), ProbeError> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.code().is_none() => {
                self.tally.errors += 1;
                Err(e.into())
            }
            Err(e) => {
                if let Some(code) = e.code() {
                    *self.tally.refusals.entry(code.to_string()).or_default() += 1;
                }
                Err(e.into())
            }
        }
    }
}

/// What a lesson's credit grew by since the last sitting of it.
fn newly_credited(so_far: &mut BTreeMap<String, f64>, lesson_id: &str, now: f64) -> f64 {
    let before = so_far.insert(lesson_id.to_owned(), now).unwrap_or(0.0);
    now - before
}

/// A behaviour's name on the wire of duxue's own files (`honest`, `speeder2`, ...).
pub fn behaviour_name(behaviour: Behaviour) -> String {
    serde_json::to_value(behaviour)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{behaviour:?}"))
}
