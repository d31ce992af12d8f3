//! The population: many learners of one shared cohort, each with one behaviour of the mix,
//! studying the course lesson by lesson in sittings, a sitting in one form of its behaviour
//! (`crate::behaviour`). A member keeps a tally of its cheat attempts, what the platform
//! refused, the ledger (seconds it could legitimately be credited against seconds the platform
//! credited) and what its playbacks showed of the rules every playback keeps
//! (`crate::rules`). A round-the-clock member lives in a cohort of its own, whose clock it
//! moves on hour by hour. The load phase of the harness drives members; it decides nothing here.

use std::collections::BTreeMap;
use std::sync::Arc;

use duxue_profile::{Class, ClassRequest, ErrorCode, LessonCategory, LessonMode, ProfileClient};
use serde::{Deserialize, Serialize};

use crate::behaviour::{Behaviour, Counting, Form, LessonOrder, SecondWindow, Sitting};
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{Pacer, SimLearner};
use crate::outcome::ProbeError;
use crate::rules::PlaybackEvidence;
use crate::study::{AnswerKind, PopupStyle, StudyLog, StudyPlan, TwoWindows, two_windows};

/// Minutes per lesson of the population's course (short, so a sitting ends soon after the
/// load shape asks a learner to leave).
pub const LESSON_MINUTES: u32 = 10;

/// The shortest sitting, in cohort seconds: one refused at once is followed by a pause.
const MIN_SITTING_SECONDS: f64 = 60.0;

/// A round-the-clock member's cohort runs this many times faster than the population's, so
/// that its day of hourly sittings fits in the load phase.
const ROUND_THE_CLOCK_SPEED_UP: f64 = 2.0;

/// The population's shared world on the target: one cohort, a course of short lessons
/// (a quarter general), the class every member enrols in, a second class of the same course a
/// cooldown violator tries to join at once, and a class of an unsubsidised course where a
/// multi-window member opens its second window.
pub struct PopulationWorld {
    pub fixture: Fixture,
    pub second_class: Class,
    pub other_class: Class,
    /// Lesson ids in content order, and whether each is professional (taken in order).
    pub lessons: Vec<String>,
    pub professional: Vec<bool>,
    pub other_lessons: Vec<String>,
    /// What the world was set up with (a round-the-clock member sets up its own from it).
    ctx: ProbeContext,
    scale_factor: f64,
}

/// The population's course: four blocks of one general and three professional lessons.
fn course_shape() -> CourseShape {
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
    CourseShape {
        delivery: duxue_profile::Delivery::PureOnline,
        lessons,
    }
}

/// Lesson ids of a course in content order, with whether each is professional.
fn ordered_lessons(course: &duxue_profile::Course) -> (Vec<String>, Vec<bool>) {
    let mut ordered: Vec<_> = course.lessons.iter().collect();
    ordered.sort_by_key(|l| l.ordinal);
    ordered
        .iter()
        .map(|l| {
            (
                l.lesson_id.clone(),
                l.category == LessonCategory::Professional,
            )
        })
        .unzip()
}

impl PopulationWorld {
    /// Sets the world up on the target; `scale_factor` multiplies the context's clock scale.
    pub async fn new(ctx: &ProbeContext, scale_factor: f64) -> Result<Self, ProbeError> {
        let fixture = Fixture::new(ctx, "population", scale_factor, &course_shape()).await?;
        let second_class = fixture
            .client
            .create_class(&ClassRequest {
                course_id: fixture.course.course_id.clone(),
                organiser_id: fixture.enterprise.organisation_id.clone(),
                name: crate::fixture::names::class("population second"),
            })
            .await?;
        let (other_course, other_class) = fixture
            .unsubsidised_course(&CourseShape::pure_online(LESSON_MINUTES, 3))
            .await?;
        let (lessons, professional) = ordered_lessons(&fixture.course);
        let (other_lessons, _) = ordered_lessons(&other_course);
        Ok(PopulationWorld {
            fixture,
            second_class,
            other_class,
            lessons,
            professional,
            other_lessons,
            ctx: ctx.clone(),
            scale_factor,
        })
    }

    /// A cohort of one's own for a round-the-clock member, its clock starting just after a
    /// midnight (China time) so that a day of hourly sittings is one calendar day.
    async fn own_world(&self) -> Result<Fixture, ProbeError> {
        let start = next_china_midnight(chrono::Utc::now()) + chrono::Duration::seconds(30);
        Fixture::starting(
            &self.ctx,
            "population round-the-clock",
            self.scale_factor * ROUND_THE_CLOCK_SPEED_UP,
            &course_shape(),
            Some(start),
        )
        .await
    }
}

/// The first midnight in China Standard Time (UTC+8) after `now`.
fn next_china_midnight(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let day = 86_400;
    let offset = 8 * 3600;
    let local = now.timestamp() + offset;
    let next = (local.div_euclid(day) + 1) * day - offset;
    chrono::DateTime::from_timestamp(next, 0).unwrap_or(now)
}

/// What one member did and what the platform made of it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    pub behaviour: String,
    pub learner_id: Option<String>,
    /// The cohort of a member that lives in one of its own (round-the-clock); `None`: the
    /// population's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort_id: Option<String>,
    /// The member got past registration and login.
    pub admitted: bool,
    /// Logins of a genuine person the platform refused (after the person's own retries).
    #[serde(default)]
    pub logins_refused: u32,
    pub sittings: u32,
    pub cheat_attempts: u32,
    pub attempts_refused: u32,
    /// Attempts and refusals per form of the behaviour: `[attempts, refused]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub forms: BTreeMap<String, [u32; 2]>,
    /// Cheats a platform can only catch after the fact (bots): flagged by its self-check.
    pub flagged_by_self_check: bool,
    pub creditable_seconds: f64,
    pub credited_seconds: f64,
    /// Credit above the ledger, beyond the per-sitting slack.
    pub excess_seconds: f64,
    /// Ledger seconds the platform did not credit, beyond the per-sitting slack.
    pub denied_seconds: f64,
    /// Largest stretch of continuous playback without a popup, over the member's playbacks.
    pub largest_popup_gap: f64,
    pub popups_seen: u32,
    /// Class hours played through in one playback, and how many had no capture.
    pub class_hours_watched: u32,
    pub class_hours_without_capture: u32,
    pub captures_seen: u32,
    /// Transport failures and malformed answers.
    pub errors: u32,
    /// Refusal codes the member met, with counts.
    pub refusals: BTreeMap<String, u32>,
}

/// One playback of a sitting, for the books.
struct Played<'a> {
    lesson_id: &'a str,
    log: &'a StudyLog,
    /// Somebody else sat in front of the camera: each capture answered is an attempt.
    stand_in: bool,
}

impl<'a> Played<'a> {
    fn of(plan: &'a StudyPlan, log: &'a StudyLog) -> Self {
        Played {
            lesson_id: &plan.lesson_id,
            log,
            stand_in: plan.captures == crate::study::CaptureStyle::OtherPerson,
        }
    }
}

/// One member of the population.
pub struct Member {
    pub behaviour: Behaviour,
    number: u64,
    learner: SimLearner,
    /// The class to enrol in, the lessons to study in order and which are professional: the
    /// population's, or the member's own world's.
    class_id: String,
    lessons: Vec<String>,
    professional: Vec<bool>,
    own_world: Option<Fixture>,
    enrolment: Option<String>,
    other_enrolment: Option<String>,
    next_lesson: usize,
    class_hour: f64,
    /// The platform's credit per lesson after the last sitting (credit is per lesson, so a
    /// sitting earns the difference).
    credited_so_far: BTreeMap<String, f64>,
    /// Credited minus creditable over every sitting so far: what earlier sittings left over
    /// or under the ledger.
    balance: f64,
    /// When the load phase ends: no sitting or pause runs past it.
    deadline: tokio::time::Instant,
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
            number,
            learner,
            class_id: world.fixture.class.class_id.clone(),
            lessons: world.lessons.clone(),
            professional: world.professional.clone(),
            own_world: None,
            enrolment: None,
            other_enrolment: None,
            next_lesson: 0,
            class_hour: world.fixture.policy.class_hour_seconds(),
            credited_so_far: BTreeMap::new(),
            balance: 0.0,
            deadline,
            media_gate,
            tally: Tally {
                behaviour: behaviour_name(behaviour),
                ..Tally::default()
            },
        }
    }

    /// Whether the member got in (a learner counts as active only then).
    pub fn admitted(&self) -> bool {
        self.tally.admitted
    }

    fn unit_forms(&self) -> &'static [Form] {
        self.behaviour.forms()
    }

    /// The form of the next sitting: the behaviour's forms in turn, each member starting at
    /// its own.
    fn next_form(&self) -> &'static Form {
        let forms = self.unit_forms();
        let turn = self.number as usize + self.tally.sittings as usize;
        &forms[turn % forms.len()]
    }

    /// Registers (genuinely: spoofers cheat at login, not at the registration desk), logs in
    /// as the behaviour presents itself, and enrols; a round-the-clock member first sets up its
    /// own world. A cooldown violator then tries a second class at once, a multi-window member
    /// enrols in the unsubsidised course of its second window.
    pub async fn arrive(&mut self, world: &PopulationWorld) -> Result<(), ProbeError> {
        let round_the_clock = self
            .unit_forms()
            .iter()
            .any(|f| matches!(f.sitting(), Sitting::RoundTheClock { .. }));
        if round_the_clock {
            let own = world.own_world().await?;
            let client = self.learner.client().clone();
            let pacer = self.learner.pacer.clone().unwrap_or_default();
            self.learner = own.learner_numbered(self.number).paced(client, pacer);
            self.class_id = own.class.class_id.clone();
            let (lessons, professional) = ordered_lessons(&own.course);
            (self.lessons, self.professional) = (lessons, professional);
            self.tally.cohort_id = Some(own.cohort.cohort_id.clone());
            self.own_world = Some(own);
        }
        let gate = self.media_gate.clone();
        let _permit = gate.acquire_owned().await;
        let registered = self.learner.register().await.map(|_| ());
        self.note(registered)?;
        self.tally.learner_id = self.learner.learner.as_ref().map(|l| l.learner_id.clone());
        if !self.log_in().await? {
            return Ok(());
        }
        self.enrol(world).await
    }

    async fn enrol(&mut self, world: &PopulationWorld) -> Result<(), ProbeError> {
        let enrolment = self.learner.enrol(&self.class_id).await?;
        self.enrolment = Some(enrolment.enrolment_id);
        let forms = self.unit_forms();
        if let Some(form) = forms
            .iter()
            .find(|f| f.sitting() == Sitting::SecondEnrolment)
        {
            let second = self.learner.enrol(&world.second_class.class_id).await;
            let refused = match second {
                Err(ProbeError::Client(e)) if e.code().is_some() => {
                    let code = e.code().cloned().unwrap_or(ErrorCode::CooldownActive);
                    self.refused(&code);
                    true
                }
                Err(ProbeError::Client(_)) => {
                    self.tally.errors += 1;
                    false
                }
                _ => false,
            };
            self.count_attempt(&form.name, refused);
        }
        let other_course = forms
            .iter()
            .any(|f| f.sitting() == Sitting::TwoWindows(SecondWindow::OtherCourse));
        if other_course {
            match self.learner.enrol(&world.other_class.class_id).await {
                Ok(e) => self.other_enrolment = Some(e.enrolment_id),
                Err(ProbeError::Client(e)) if e.code().is_none() => self.tally.errors += 1,
                Err(e) => tracing::debug!("population: an unsubsidised enrolment failed: {e}"),
            }
        }
        Ok(())
    }

    /// Logs in as the behaviour presents itself; false when the platform kept it out.
    async fn log_in(&mut self) -> Result<bool, ProbeError> {
        let how = self.behaviour.presentation();
        let spoof = how != crate::learner::Presentation::Genuine;
        let form = &self.unit_forms()[0].name;
        match self.learner.login_as(how).await {
            Ok(_) => {
                self.tally.admitted = true;
                if spoof {
                    self.count_attempt(form, false);
                }
                Ok(true)
            }
            Err(e) => match e.code().cloned() {
                Some(code) if spoof => {
                    self.refused(&code);
                    self.count_attempt(form, true);
                    Ok(false)
                }
                Some(_) => {
                    // A genuine person refused: the platform kept out somebody it must admit.
                    self.tally.logins_refused += 1;
                    self.note(Err(e))?;
                    Ok(false)
                }
                None => {
                    self.note(Err(e))?;
                    Ok(false)
                }
            },
        }
    }

    /// One sitting: a learner kept out tries again; everybody else studies the next lesson in
    /// the next form of their behaviour. Returns after at most about one and a half lessons
    /// of cohort time.
    pub async fn sitting(&mut self, world: &PopulationWorld) -> Result<(), ProbeError> {
        let started = self.learner.clock().elapsed();
        let result = self.sit(world).await;
        // A person refused at the start of a lesson does not try again within the minute;
        // goose calls this in a loop, so a sitting that ended at once must not spin either.
        // A round-the-clock member moves its own clock on instead.
        let took = self.learner.clock().elapsed() - started;
        if took < MIN_SITTING_SECONDS && self.own_world.is_none() {
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
            // Kept out: wait a while, then try again.
            self.pause(120.0).await;
            if self.left_cohort_seconds() < 1.0 {
                return Ok(());
            }
            let gate = self.media_gate.clone();
            let permit = gate.acquire_owned().await;
            let admitted = self.log_in().await?;
            drop(permit);
            if admitted {
                self.enrol(world).await?;
            }
            return Ok(());
        }
        let Some(enrolment) = self.enrolment.clone() else {
            self.wait_out_phase().await;
            return Ok(());
        };
        let Some(lesson) = self.lessons.get(self.next_lesson).cloned() else {
            // Course finished: rest, as a learner between courses would.
            self.pause(600.0).await;
            return Ok(());
        };
        let lesson_seconds = f64::from(LESSON_MINUTES) * 60.0;
        let budget = (lesson_seconds * 1.5).min(self.left_cohort_seconds());
        if budget < 1.0 {
            self.wait_out_phase().await;
            return Ok(());
        }
        let form = self.next_form();
        let plan = form.plan(&enrolment, &lesson, budget);
        let ledger_before = self.learner.ledger().total();
        let completed_lesson = match form.sitting() {
            Sitting::TwoWindows(second) => {
                self.study_in_two_windows(world, form, &plan, second)
                    .await?
            }
            Sitting::SecondDevice => self.study_with_second_device(form, &plan).await?,
            Sitting::LessonOrder(order) => {
                self.try_out_of_order(form, &enrolment, order).await?;
                self.study_plainly(form, &plan, self.ledger_total()).await?
            }
            Sitting::RoundTheClock { study, .. } => {
                let plan = StudyPlan {
                    budget_seconds: study.min(budget),
                    until_complete: false,
                    ..plan
                };
                let done = self.study_plainly(form, &plan, ledger_before).await?;
                self.next_hour().await?;
                done
            }
            Sitting::Study | Sitting::SecondEnrolment => {
                self.study_plainly(form, &plan, ledger_before).await?
            }
        };
        if completed_lesson {
            self.next_lesson += 1;
        }
        Ok(())
    }

    /// Plays `plan` in one window; true when the lesson is done.
    async fn study_plainly(
        &mut self,
        form: &Form,
        plan: &StudyPlan,
        ledger_before: f64,
    ) -> Result<bool, ProbeError> {
        let log = self.learner.study(plan).await?;
        let played = [Played::of(plan, &log)];
        let (credited, creditable, slack) = self.account(&played, ledger_before);
        self.count_form(form, plan, &log, (credited, creditable, slack));
        Ok(lesson_done(&log))
    }

    /// A round-the-clock member's cohort clock moves on to a minute past the next hour.
    async fn next_hour(&mut self) -> Result<(), ProbeError> {
        let Some(own) = &self.own_world else {
            return Ok(());
        };
        let now = own.clock.now().timestamp();
        let next = (now.div_euclid(3600) + 1) * 3600 + 60;
        own.advance((next - now) as f64).await
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

    /// Tries a professional lesson before its time: the last one (`SkipAhead`), or the next
    /// one after starting the current one without completing it (`NextBeforeDone`).
    async fn try_out_of_order(
        &mut self,
        form: &Form,
        enrolment: &str,
        order: LessonOrder,
    ) -> Result<(), ProbeError> {
        let current = self.next_lesson;
        let later = match order {
            LessonOrder::SkipAhead => self.lessons.len().checked_sub(1),
            LessonOrder::NextBeforeDone => {
                (current + 1..self.lessons.len()).find(|i| self.professional[*i])
            }
        };
        let Some(later) = later.filter(|l| {
            *l > current + usize::from(order == LessonOrder::SkipAhead)
                && self.professional[..*l].iter().skip(current).any(|p| *p)
        }) else {
            return Ok(());
        };
        if order == LessonOrder::NextBeforeDone {
            // Started, not completed.
            let start = StudyPlan {
                until_complete: false,
                ..form.plan(enrolment, &self.lessons[current], 60.0)
            };
            let before = self.ledger_total();
            let log = self.learner.study(&start).await?;
            self.account(&[Played::of(&start, &log)], before);
        }
        let lesson = self.lessons[later].clone();
        let plan = StudyPlan {
            until_complete: false,
            ..StudyPlan::honest(enrolment, &lesson, 60.0)
        };
        let log = self.learner.study(&plan).await?;
        match &log.start_refused {
            Some(code) => {
                self.refused(code);
                self.count_attempt(&form.name, true);
            }
            None => {
                // Played out of order: every second it was credited is cheating.
                let neutralised = self.account_cheat_only(&log, &lesson);
                self.count_attempt(&form.name, neutralised);
            }
        }
        Ok(())
    }

    /// Studies `plan` in this window and, a moment later, a second window on the lesson of
    /// `second`. True when the first window's lesson is done.
    async fn study_in_two_windows(
        &mut self,
        world: &PopulationWorld,
        form: &Form,
        plan: &StudyPlan,
        second: SecondWindow,
    ) -> Result<bool, ProbeError> {
        let (enrolment_b, lesson_b) = match second {
            SecondWindow::SameLesson => (plan.enrolment_id.clone(), plan.lesson_id.clone()),
            SecondWindow::OtherLesson => {
                // A general lesson (never locked) other than this one.
                let other = (0..self.lessons.len())
                    .find(|i| !self.professional[*i] && self.lessons[*i] != plan.lesson_id);
                match other {
                    Some(i) => (plan.enrolment_id.clone(), self.lessons[i].clone()),
                    None => return self.study_plainly(form, plan, self.ledger_total()).await,
                }
            }
            SecondWindow::OtherCourse => match (&self.other_enrolment, world.other_lessons.first())
            {
                (Some(e), Some(l)) => (e.clone(), l.clone()),
                _ => return self.study_plainly(form, plan, self.ledger_total()).await,
            },
        };
        let ledger_before = self.ledger_total();
        let mut window_b = self.learner.twin();
        let plan_b = StudyPlan {
            until_complete: false,
            budget_seconds: plan.budget_seconds / 3.0,
            ..StudyPlan::honest(&enrolment_b, &lesson_b, plan.budget_seconds)
        };
        let clock = self.learner.clock().clone();
        let a_done = std::sync::atomic::AtomicBool::new(false);
        let first = async {
            let log = self.learner.study(plan).await;
            a_done.store(true, std::sync::atomic::Ordering::Relaxed);
            log
        };
        // The second window opens a moment after the first, while the first still plays.
        let second_window = async {
            clock.sleep(15.0).await;
            if a_done.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            window_b.study(&plan_b).await.map(Some)
        };
        let (a, b) = tokio::join!(first, second_window);
        let a = a?;
        let Some(mut b) = b? else {
            self.account(&[Played::of(plan, &a)], ledger_before);
            return Ok(lesson_done(&a));
        };
        let overlap = two_windows(&a, &b);
        // The later window's account of a lesson both played is the lesson's credit now.
        if second == SecondWindow::SameLesson {
            match self
                .learner
                .lesson_credit(&plan.enrolment_id, &plan.lesson_id)
                .await
            {
                Some(credited) => b.credited = credited,
                None => self.tally.errors += 1,
            }
        }
        let played: Vec<Played> = if second == SecondWindow::SameLesson {
            vec![Played::of(plan, &b)]
        } else {
            vec![Played::of(plan, &a), Played::of(&plan_b, &b)]
        };
        let (credited, creditable, slack) = self.account(&played, ledger_before);
        self.tally.errors += b.errors.len() as u32;
        match overlap {
            TwoWindows::Refused(code) => {
                self.refused(&code);
                self.count_attempt(&form.name, true);
            }
            TwoWindows::BothPlayed => {
                self.count_attempt(&form.name, false);
                tracing::info!(
                    credited,
                    creditable,
                    slack,
                    "population: two windows played at once"
                );
            }
            // The first window's sitting ended just as the second opened: no attempt.
            TwoWindows::NotOverlapped => tracing::debug!("two windows that never overlapped"),
        }
        Ok(lesson_done(&a))
    }

    /// Studies a third of `plan`; then the same person logs in on a second device and carries
    /// on there. One live session per account: the first session must end, or the second
    /// login be refused.
    async fn study_with_second_device(
        &mut self,
        form: &Form,
        plan: &StudyPlan,
    ) -> Result<bool, ProbeError> {
        let half = StudyPlan {
            until_complete: false,
            budget_seconds: plan.budget_seconds / 3.0,
            ..plan.clone()
        };
        let before = self.ledger_total();
        let first = self.learner.study(&half).await?;
        self.account(&[Played::of(&half, &first)], before);
        let old_token = self.learner.token()?.to_owned();
        let mut device_b = self.learner.twin();
        match device_b.login().await {
            Err(e) if e.code().is_some() => {
                // Any refusal keeps the account in one place.
                let code = e.code().cloned().unwrap_or(ErrorCode::SessionConflict);
                self.refused(&code);
                self.count_attempt(&form.name, true);
                return self.study_plainly(form, plan, self.ledger_total()).await;
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        // The first device asks again; its session must be over.
        let old = self.learner.client().get_me(&old_token).await;
        let ended = matches!(&old, Err(e) if e.is(&ErrorCode::SessionRevoked) || e.is(&ErrorCode::Unauthorized));
        if ended {
            self.refused(&ErrorCode::SessionRevoked);
        }
        self.count_attempt(&form.name, ended);
        self.learner.session = device_b.session.clone();
        self.study_plainly(form, plan, self.ledger_total()).await
    }

    fn ledger_total(&self) -> f64 {
        self.learner.ledger().total()
    }

    /// Adds a sitting's playbacks to the tally: the credit the platform added to their lessons
    /// against what the ledger added, refusals, and what the playbacks showed of the rules
    /// every playback keeps. Returns (credited, creditable, slack) of the sitting, creditable
    /// with what earlier sittings were left under the ledger: a class hour withheld in this
    /// sitting takes away, on both sides, what earlier sittings earned in it, and the platform
    /// had credited less of that than the ledger (within their slack), so the sitting's own
    /// difference is judged, never an earlier one again.
    fn account(&mut self, played: &[Played<'_>], ledger_before: f64) -> (f64, f64, f64) {
        let mut credited = 0.0;
        let mut slack = 0.0;
        for p in played {
            let t = &mut self.tally;
            if let Some(code) = &p.log.start_refused {
                *t.refusals.entry(code.to_string()).or_default() += 1;
                continue;
            }
            for (_, code) in &p.log.refusals {
                *t.refusals.entry(code.to_string()).or_default() += 1;
            }
            t.errors += p.log.errors.len() as u32;
            credited += newly_credited(&mut self.credited_so_far, p.lesson_id, p.log.credited);
            slack += p.log.credit_slack();
            self.account_rules(p.log);
        }
        let creditable = self.ledger_total() - ledger_before;
        let before = self.balance;
        self.balance += credited - creditable;
        let (owed, ahead) = ((-before).max(0.0), before.max(0.0));
        let t = &mut self.tally;
        t.creditable_seconds += creditable;
        t.credited_seconds += credited;
        t.excess_seconds += (credited - creditable - owed - slack).max(0.0);
        t.denied_seconds += (creditable - credited - ahead - slack).max(0.0);
        if (credited - creditable).abs() > slack {
            tracing::info!(
                behaviour = %t.behaviour,
                learner = t.learner_id.as_deref().unwrap_or("-"),
                credited,
                creditable,
                slack,
                "a sitting's credit is off the ledger by more than the slack"
            );
        }
        for p in played.iter().filter(|p| p.stand_in) {
            for capture in p.log.captures().filter(|c| c.answered) {
                let refused = capture.passed == Some(false);
                self.count_attempt("capture-by-somebody-else", refused);
            }
        }
        (credited, creditable + owed, slack)
    }

    /// An attempt per sitting in which a cheat of counting `ledger` was tried: refused when
    /// the platform took no answer of the cheat and credited no more than the ledger.
    fn count_form(
        &mut self,
        form: &Form,
        plan: &StudyPlan,
        log: &StudyLog,
        (credited, creditable, slack): (f64, f64, f64),
    ) {
        if self.behaviour.unit().counts != Counting::Ledger || !tried(plan, log) {
            return;
        }
        let taken = log
            .answers
            .iter()
            .any(|a| a.kind != AnswerKind::Right && a.accepted());
        let neutralised = credited <= creditable + slack;
        self.count_attempt(&form.name, neutralised && !taken);
    }

    /// An out-of-order playback that was let in: its credit is all cheating. True when it was
    /// credited nothing (beyond the slack).
    fn account_cheat_only(&mut self, log: &StudyLog, lesson_id: &str) -> bool {
        let slack = log.credit_slack();
        let credited = newly_credited(&mut self.credited_so_far, lesson_id, log.credited);
        self.balance += credited;
        self.tally.credited_seconds += credited;
        self.tally.excess_seconds += (credited - slack).max(0.0);
        credited <= slack
    }

    /// Popup gaps and captures per class hour of one playback, measured as PB-4 and BC-1
    /// measure them (`crate::rules`).
    fn account_rules(&mut self, log: &StudyLog) {
        let evidence = PlaybackEvidence::of("population", log, self.class_hour);
        let t = &mut self.tally;
        t.largest_popup_gap = t.largest_popup_gap.max(evidence.popup_gaps.largest());
        t.popups_seen += evidence.popup_gaps.popups() as u32;
        for hour in &evidence.class_hours {
            t.class_hours_watched += 1;
            t.captures_seen += hour.captures as u32;
            if hour.captures == 0 {
                t.class_hours_without_capture += 1;
            }
        }
    }

    fn count_attempt(&mut self, form: &str, refused: bool) {
        let t = &mut self.tally;
        t.cheat_attempts += 1;
        t.attempts_refused += u32::from(refused);
        let entry = t.forms.entry(form.to_owned()).or_default();
        entry[0] += 1;
        entry[1] += u32::from(refused);
    }

    fn refused(&mut self, code: &ErrorCode) {
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

/// Whether a sitting of `plan` tried its cheat: it jumped or rewound, played faster or
/// declared a rate, left a popup or capture unanswered or answered one wrongly, late or after
/// the stop, played without focus or went silent.
fn tried(plan: &StudyPlan, log: &StudyLog) -> bool {
    let beats = log.acks > 0 || !log.refusals.is_empty();
    let popup_seen = log.popups().next().is_some();
    log.seeks > 0
        || (beats && (plan.rate > 1.0 || plan.speed > 1.0 || !plan.focused))
        || (popup_seen
            && plan.popups != PopupStyle::Human
            && !matches!(plan.popups, PopupStyle::Bot { .. }))
        || (matches!(
            plan.captures,
            crate::study::CaptureStyle::Ignore | crate::study::CaptureStyle::StopWhenAsked
        ) && log.captures().next().is_some())
        || plan
            .silence
            .is_some_and(|(after, length)| log.elapsed >= after + length)
        || !log.answers.is_empty()
}

/// Whether a playback finished its lesson.
fn lesson_done(log: &StudyLog) -> bool {
    let lesson = log
        .playback
        .as_ref()
        .map_or(f64::INFINITY, |p| p.lesson_seconds);
    log.start_refused.is_none() && log.credited >= lesson - 20.0
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

/// The behaviour of a name written by [`behaviour_name`].
pub fn behaviour_named(name: &str) -> Option<Behaviour> {
    Behaviour::ALL
        .into_iter()
        .find(|b| behaviour_name(*b) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_round_the_clock_study_starts_at_a_china_midnight() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-03-05T17:30:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        // 01:30 on 6 March in China; the next midnight there is 16:00 UTC on 6 March.
        assert_eq!(
            next_china_midnight(now).to_rfc3339(),
            "2024-03-06T16:00:00+00:00"
        );
    }
}
