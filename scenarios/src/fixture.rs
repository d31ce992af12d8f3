//! A probe's own world on the target: a cohort with its clock, an enterprise, an institution,
//! a labour-dispatch firm, a course proposed for the probe and a class. Probes never share
//! cohorts, so one probe's cheaters cannot disturb another's figures.

use std::sync::Arc;

use duxue_profile::{
    Class, ClassRequest, Cohort, CohortRequest, Course, CourseProposal, Delivery, LessonCategory,
    LessonMode, LessonSpec, Organisation, OrganisationKind, OrganisationRequest, Policy,
    ProfileClient,
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
        let client = ctx.client.clone();
        let scale = ctx.clock_scale * scale_factor;
        let cohort = client
            .create_cohort(&CohortRequest {
                label: format!("duxue {label} (seed {})", ctx.seed),
                clock_scale: scale,
                start_at: None,
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

    /// Lesson ids of the course in content order.
    pub fn lesson(&self, index: usize) -> Result<&duxue_profile::Lesson, ProbeError> {
        let mut lessons: Vec<_> = self.course.lessons.iter().collect();
        lessons.sort_by_key(|l| l.ordinal);
        lessons
            .get(index)
            .copied()
            .ok_or_else(|| ProbeError::setup(format!("the proposed course has no lesson {index}")))
    }

    /// Creates another organisation in this cohort.
    pub async fn organisation(
        &self,
        name: &str,
        kind: OrganisationKind,
    ) -> Result<Organisation, ProbeError> {
        organisation(&self.client, &self.cohort, name, kind, self.seed).await
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
