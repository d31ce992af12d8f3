//! A probe's own world on the target: a cohort with its clock, an enterprise, an institution,
//! a labour-dispatch firm, a course proposed for the probe and a class. Probes never share
//! cohorts, so one probe's cheaters cannot disturb another's figures.
//!
//! Nothing the harness sends says what a cohort, organisation, course or class is for: names
//! are plausible and drawn at random per run (see [`names`]); the run folder keeps which is
//! which (`evidence/labels.json`). Learners of a trial register in an order drawn from the
//! seed ([`Fixture::enrolled_learners`]), so the first is not always the honest control.

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

/// Plausible names for what the harness creates on a target, drawn afresh in every run: a
/// `key` (what the thing is for, e.g. `PB-1`) picks a name but never appears in it.
pub mod names {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use duxue_profile::OrganisationKind;
    use rand::Rng;
    use rand::seq::IndexedRandom;

    const CITIES: [&str; 10] = [
        "许昌",
        "郑州",
        "洛阳",
        "开封",
        "平顶山",
        "漯河",
        "周口",
        "南阳",
        "新乡",
        "焦作",
    ];
    const BRANDS: [&str; 16] = [
        "瑞丰", "华信", "德润", "恒通", "鑫源", "正泰", "宏达", "佳和", "明远", "长兴", "永安",
        "金桥", "博雅", "同创", "嘉禾", "润泽",
    ];

    /// A random stream per run and key; every name also takes a fresh draw.
    fn rng(key: &str) -> rand_chacha::ChaCha8Rng {
        static SALT: OnceLock<u64> = OnceLock::new();
        static DRAWN: AtomicU64 = AtomicU64::new(0);
        let salt = *SALT.get_or_init(rand::random);
        let n = DRAWN.fetch_add(1, Ordering::Relaxed);
        crate::seeds::rng(crate::seeds::mix(salt, n), key)
    }

    /// A cohort's label (free text for the platform's logs).
    pub fn cohort(key: &str) -> String {
        let mut r = rng(key);
        format!(
            "{}年第{}批 {:04x}",
            r.random_range(2022..2027),
            r.random_range(1..13),
            r.random::<u16>()
        )
    }

    /// An organisation's name of this kind.
    pub fn organisation(key: &str, kind: OrganisationKind) -> String {
        let mut r = rng(key);
        let suffixes: &[&str] = match kind {
            OrganisationKind::Enterprise => &[
                "商贸有限公司",
                "电子科技有限公司",
                "实业有限公司",
                "物流有限公司",
            ],
            OrganisationKind::LabourDispatch => &["劳务派遣有限公司", "人力资源服务有限公司"],
            OrganisationKind::Institution => &["职业培训学校", "职业技能培训中心"],
        };
        format!(
            "{}{}{}",
            CITIES.choose(&mut r).unwrap_or(&CITIES[0]),
            BRANDS.choose(&mut r).unwrap_or(&BRANDS[0]),
            suffixes.choose(&mut r).unwrap_or(&suffixes[0])
        )
    }

    /// A course's title for an occupation and level.
    pub fn course(key: &str, occupation: &str, level: &str) -> String {
        let mut r = rng(key);
        let kinds = ["培训课程", "线上培训", "职业技能提升课程", "岗位技能课程"];
        format!(
            "{occupation}（{level}）{}",
            kinds.choose(&mut r).unwrap_or(&kinds[0])
        )
    }

    /// A class's name.
    pub fn class(key: &str) -> String {
        let mut r = rng(key);
        format!(
            "{}年第{}期{}班",
            r.random_range(2022..2027),
            r.random_range(1..13),
            r.random_range(1..9)
        )
    }
}

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
                label: names::cohort(label),
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
        let enterprise =
            organisation(&client, &cohort, label, OrganisationKind::Enterprise).await?;
        let institution =
            organisation(&client, &cohort, label, OrganisationKind::Institution).await?;
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
                name: names::class(label),
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
        self.learner_with_seed(crate::seeds::mix(self.seed, n))
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
        self.enrol(self.learner()).await
    }

    /// `learner` registered, logged in with a genuine liveness answer, and enrolled in the
    /// class; its enrolment id.
    async fn enrol(&self, mut learner: SimLearner) -> Result<(SimLearner, String), ProbeError> {
        learner.register().await?;
        learner.login().await?;
        let enrolment = learner.enrol(&self.class.class_id).await?;
        Ok((learner, enrolment.enrolment_id))
    }

    /// `n` learners registered, logged in and enrolled, returned in the order asked. They
    /// register in an order drawn from the seed (the platform cannot tell the honest control by
    /// when it came), a few at a time: each login must answer its liveness challenge within the
    /// challenge's lifetime, which a queue of many learners' frames would outlast at a high
    /// clock scale.
    pub async fn enrolled_learners(
        &self,
        n: usize,
    ) -> Result<Vec<(SimLearner, String)>, ProbeError> {
        use futures::{StreamExt, TryStreamExt};
        use rand::seq::SliceRandom;
        let base = self
            .learners_made
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        let mut order: Vec<u64> = (0..n as u64).collect();
        order.shuffle(&mut crate::seeds::rng(
            crate::seeds::mix(self.seed, base),
            "order",
        ));
        let at_once = std::thread::available_parallelism().map_or(2, usize::from);
        let mut made: Vec<(u64, (SimLearner, String))> =
            futures::stream::iter(order.into_iter().map(|i| async move {
                let learner = self.learner_with_seed(crate::seeds::mix(self.seed, base + i));
                Ok::<_, ProbeError>((i, self.enrol(learner).await?))
            }))
            .buffered(at_once)
            .try_collect()
            .await?;
        made.sort_by_key(|(i, _)| *i);
        Ok(made.into_iter().map(|(_, made)| made).collect())
    }

    /// The `N` learners of a trial, as [`Fixture::enrolled_learners`].
    pub async fn enrolled_trial<const N: usize>(
        &self,
    ) -> Result<[(SimLearner, String); N], ProbeError> {
        self.enrolled_learners(N)
            .await?
            .try_into()
            .map_err(|_| ProbeError::setup("a learner of the trial was not made"))
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
        let purpose = format!("{} 自选", self.label);
        let request = CourseProposal {
            subsidised: false,
            ..proposal(shape, &self.course.occupation, &purpose)
        };
        let course = self.client.propose_course(&request).await?;
        let class = self
            .client
            .create_class(&ClassRequest {
                course_id: course.course_id.clone(),
                organiser_id: self.enterprise.organisation_id.clone(),
                name: names::class(&purpose),
            })
            .await?;
        Ok((course, class))
    }

    /// Creates another organisation in this cohort (`purpose` picks its name, unsent).
    pub async fn organisation(
        &self,
        purpose: &str,
        kind: OrganisationKind,
    ) -> Result<Organisation, ProbeError> {
        organisation(&self.client, &self.cohort, purpose, kind).await
    }

    /// A new learner of `seed`, its playbacks recorded in the run's book under this fixture's
    /// name, a new person in every run (its identity mixes in the run's nonce).
    fn learner_with_seed(&self, seed: u64) -> SimLearner {
        SimLearner::new(
            self.client.clone(),
            self.clock.clone(),
            self.policy.clone(),
            seed,
            self.enterprise.organisation_id.clone(),
        )
        .recording_playbacks(self.playbacks.clone(), &self.label)
        .in_run(self.run_nonce)
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
    purpose: &str,
    kind: OrganisationKind,
) -> Result<Organisation, ProbeError> {
    Ok(client
        .create_organisation(&OrganisationRequest {
            cohort_id: cohort.cohort_id.clone(),
            name: names::organisation(purpose, kind),
            kind,
        })
        .await?)
}

/// A course proposal of `shape` for `occupation` (`purpose` picks its title, unsent).
pub fn proposal(shape: &CourseShape, occupation: &str, purpose: &str) -> CourseProposal {
    CourseProposal {
        title: names::course(purpose, occupation, "五级"),
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
