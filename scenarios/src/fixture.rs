//! A probe's own world on the target: a cohort with its clock, an enterprise, an institution,
//! a labour-dispatch firm, a course proposed for the probe and a class. Probes never share
//! cohorts, so one probe's cheaters cannot disturb another's figures.

use std::sync::Arc;

use duxue_profile::{
    Class, ClassRequest, ClientError, Cohort, CohortRequest, Course, CourseProposal, Delivery,
    LessonCategory, LessonMode, LessonSpec, Organisation, OrganisationKind, OrganisationRequest,
    Policy, ProfileClient, SupervisorKind, SupervisorRequest,
};

use crate::clock::CohortClock;
use crate::context::ProbeContext;
use crate::learner::SimLearner;
use crate::outcome::ProbeError;

/// The shape of the course a probe studies.
#[derive(Clone, Debug)]
pub struct CourseShape {
    pub delivery: Delivery,
    /// (minutes, category, mode) in content order.
    pub lessons: Vec<(u32, LessonCategory, LessonMode)>,
}

impl CourseShape {
    /// A pure-online course: one general lesson then professional lessons, 25% general.
    pub fn pure_online(minutes: u32, professional_lessons: u32) -> Self {
        let mut lessons = vec![(minutes, LessonCategory::General, LessonMode::Online)];
        for _ in 0..professional_lessons.max(1) {
            lessons.push((minutes, LessonCategory::Professional, LessonMode::Online));
        }
        // Keep the general share within 20–35%: pad with professional lessons if needed.
        while lessons.len() < 4 {
            lessons.push((minutes, LessonCategory::Professional, LessonMode::Online));
        }
        CourseShape {
            delivery: Delivery::PureOnline,
            lessons,
        }
    }
}

/// Everything a probe set up on the target.
pub struct Fixture {
    pub client: ProfileClient,
    pub policy: Arc<Policy>,
    pub cohort: Cohort,
    pub clock: Arc<CohortClock>,
    pub enterprise: Organisation,
    pub institution: Organisation,
    pub course: Course,
    pub class: Class,
    seed: u64,
    run_nonce: u64,
    learners_made: std::sync::atomic::AtomicU64,
    /// The run's book of playbacks and this fixture's name in it.
    playbacks: Arc<crate::rules::Playbacks>,
    label: String,
}

impl Fixture {
    /// Creates a cohort at the context's clock scale times `scale_factor`, the organisations,
    /// a course of `shape` for a pure-online-and-approved occupation, and a class.
    pub async fn new(
        ctx: &ProbeContext,
        label: &str,
        scale_factor: f64,
        shape: &CourseShape,
    ) -> Result<Fixture, ProbeError> {
        Fixture::starting(ctx, label, scale_factor, shape, None).await
    }

    /// As [`Fixture::new`], the cohort clock starting at `start_at` (the platform's choice
    /// when `None`).
    pub async fn starting(
        ctx: &ProbeContext,
        label: &str,
        scale_factor: f64,
        shape: &CourseShape,
        start_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Fixture, ProbeError> {
        let client = ctx.client.clone();
        let scale = ctx.clock_scale * scale_factor;
        let cohort = client
            .create_cohort(&CohortRequest {
                label: format!("duxue {label} (seed {})", ctx.seed),
                clock_scale: scale,
                start_at,
            })
            .await?;
        let clock = Arc::new(CohortClock::new(
            cohort.cohort_id.clone(),
            scale,
            cohort.clock.virtual_now,
        ));
        let model = clock.clone();
        let client = client.with_virtual_clock(Arc::new(move || model.now()));
        let enterprise = organisation(
            &client,
            &cohort,
            "企业",
            OrganisationKind::Enterprise,
            ctx.seed,
        )
        .await?;
        let institution = organisation(
            &client,
            &cohort,
            "培训学校",
            OrganisationKind::Institution,
            ctx.seed,
        )
        .await?;
        let occupation = ctx.course_occupation(shape.delivery)?;
        let course = client
            .propose_course(&proposal(shape, &occupation, label))
            .await?;
        let organiser = match shape.delivery {
            Delivery::PureOnline => &enterprise,
            Delivery::Blended => &institution,
        };
        let class = client
            .create_class(&ClassRequest {
                course_id: course.course_id.clone(),
                organiser_id: organiser.organisation_id.clone(),
                name: format!("{label} 班"),
            })
            .await?;
        Ok(Fixture {
            client,
            policy: ctx.policy.clone(),
            cohort,
            clock,
            enterprise,
            institution,
            course,
            class,
            seed: ctx.seed,
            run_nonce: ctx.run_nonce,
            learners_made: Default::default(),
            playbacks: ctx.playbacks.clone(),
            label: label.to_owned(),
        })
    }

    /// A new simulated learner employed by the fixture's enterprise, not yet registered: a new
    /// person in every run (its identity mixes in the run's nonce).
    pub fn learner(&self) -> SimLearner {
        let n = self
            .learners_made
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SimLearner::new(
            self.client.clone(),
            self.clock.clone(),
            self.policy.clone(),
            crate::seeds::mix(self.seed, n),
            self.enterprise.organisation_id.clone(),
        )
        .recording_playbacks(self.playbacks.clone(), &self.label)
        .in_run(self.run_nonce)
    }

    /// Learner number `n` of a population on this fixture: the same `n` under the same seed and
    /// run nonce is the same person, whichever process (shard) makes it.
    pub fn learner_numbered(&self, n: u64) -> SimLearner {
        SimLearner::new(
            self.client.clone(),
            self.clock.clone(),
            self.policy.clone(),
            crate::seeds::mix(crate::seeds::named(self.seed, "population"), n),
            self.enterprise.organisation_id.clone(),
        )
        .in_run(self.run_nonce)
    }

    /// A learner registered, logged in with a genuine liveness answer, and enrolled in the class.
    pub async fn enrolled_learner(&self) -> Result<(SimLearner, String), ProbeError> {
        let mut learner = self.learner();
        learner.register().await?;
        learner.login().await?;
        let enrolment = learner.enrol(&self.class.class_id).await?;
        Ok((learner, enrolment.enrolment_id))
    }

    /// `n` learners registered, logged in and enrolled, a few at a time: each login must
    /// answer its liveness challenge within the challenge's lifetime, which a queue of many
    /// learners' frames would outlast at a high clock scale.
    pub async fn enrolled_learners(
        &self,
        n: usize,
    ) -> Result<Vec<(SimLearner, String)>, ProbeError> {
        use futures::{StreamExt, TryStreamExt};
        let at_once = std::thread::available_parallelism().map_or(2, usize::from);
        futures::stream::iter((0..n).map(|_| self.enrolled_learner()))
            .buffered(at_once)
            .try_collect()
            .await
    }

    /// Lesson ids of the course in content order.
    pub fn lesson(&self, index: usize) -> Result<&duxue_profile::Lesson, ProbeError> {
        let mut lessons: Vec<_> = self.course.lessons.iter().collect();
        lessons.sort_by_key(|l| l.ordinal);
        lessons
            .get(index)
            .copied()
            .ok_or_else(|| ProbeError::setup(format!("the proposed course has no lesson {index}")))
    }

    /// Another course of `shape` for the same occupation, not subsidised (so enrolling in it
    /// meets no cooldown), and a class of it organised by the fixture's enterprise.
    pub async fn unsubsidised_course(
        &self,
        shape: &CourseShape,
    ) -> Result<(Course, Class), ProbeError> {
        let label = format!("{} 自选", self.label);
        let request = CourseProposal {
            subsidised: false,
            ..proposal(shape, &self.course.occupation, &label)
        };
        let course = self.client.propose_course(&request).await?;
        let class = self
            .client
            .create_class(&ClassRequest {
                course_id: course.course_id.clone(),
                organiser_id: self.enterprise.organisation_id.clone(),
                name: format!("{} 自选班", self.label),
            })
            .await?;
        Ok((course, class))
    }

    /// Creates another organisation in this cohort.
    pub async fn organisation(
        &self,
        name: &str,
        kind: OrganisationKind,
    ) -> Result<Organisation, ProbeError> {
        organisation(&self.client, &self.cohort, name, kind, self.seed).await
    }

    /// A supervisor account of `kind` in this cohort (of `organisation_id` for an enterprise or
    /// institution account), logged in; its session token.
    pub async fn supervisor(
        &self,
        kind: SupervisorKind,
        organisation_id: Option<&str>,
    ) -> Result<String, ClientError> {
        self.supervisor_via(&self.client, kind, organisation_id)
            .await
    }

    /// As [`Fixture::supervisor`], the session opened through `client` (a load phase's own).
    pub async fn supervisor_via(
        &self,
        client: &ProfileClient,
        kind: SupervisorKind,
        organisation_id: Option<&str>,
    ) -> Result<String, ClientError> {
        let credentials = self
            .client
            .create_supervisor(&SupervisorRequest {
                cohort_id: self.cohort.cohort_id.clone(),
                kind,
                organisation_id: organisation_id.map(str::to_owned),
            })
            .await?;
        Ok(client
            .supervisor_login(&credentials.username, &credentials.password)
            .await?
            .token)
    }

    /// The training authority's supervisor of this cohort, logged in; its session token.
    pub async fn authority(&self) -> Result<String, ProbeError> {
        crate::probes::setup(
            "create and log in an authority supervisor",
            self.supervisor(SupervisorKind::Authority, None).await,
        )
    }

    /// Moves the cohort clock forward, then reads it back: how many seconds it really moved
    /// (the platform's answer to the advance is not taken for it).
    pub async fn advance_read_back(&self, seconds: f64) -> Result<f64, ProbeError> {
        let before = self.client.read_clock(&self.cohort.cohort_id).await?;
        self.advance(seconds).await?;
        let after = self.client.read_clock(&self.cohort.cohort_id).await?;
        Ok((after.virtual_now - before.virtual_now).num_milliseconds() as f64 / 1e3)
    }

    /// Moves the cohort clock forward and keeps the harness's model in step.
    pub async fn advance(&self, seconds: f64) -> Result<(), ProbeError> {
        self.client
            .advance_clock(&self.cohort.cohort_id, seconds)
            .await?;
        self.clock.note_advance(seconds);
        Ok(())
    }
}

async fn organisation(
    client: &ProfileClient,
    cohort: &Cohort,
    name: &str,
    kind: OrganisationKind,
    seed: u64,
) -> Result<Organisation, ProbeError> {
    Ok(client
        .create_organisation(&OrganisationRequest {
            cohort_id: cohort.cohort_id.clone(),
            name: format!("{name}{:04}", seed % 10_000),
            kind,
        })
        .await?)
}

/// A course proposal of `shape` for `occupation`.
pub fn proposal(shape: &CourseShape, occupation: &str, label: &str) -> CourseProposal {
    CourseProposal {
        title: format!("{occupation} ({label})"),
        occupation: occupation.to_owned(),
        level: "五级".into(),
        delivery: shape.delivery,
        subsidised: true,
        lessons: shape
            .lessons
            .iter()
            .enumerate()
            .map(|(i, (minutes, category, mode))| LessonSpec {
                title: format!("第{}课", i + 1),
                minutes: *minutes,
                category: *category,
                mode: *mode,
            })
            .collect(),
    }
}
