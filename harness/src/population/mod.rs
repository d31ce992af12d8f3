//! The population phase of `duxue certify`: thousands of learners of a behaviour mix, ramped
//! like a morning peak by goose (closed model, embedded, no controllers), supervisors polling
//! their dashboards, latency in HdrHistograms from the intended send time, and at the end the
//! credit ledger and the LD-1 / LD-2 verdicts.

pub mod judge;
mod mix;
pub mod recorder;
pub mod section;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duxue_profile::client::ClientConfig;
use duxue_profile::{ProfileClient, SupervisorKind, SupervisorRequest, Verdict};
use duxue_scenarios::behaviour::{Behaviour, Counting};
use duxue_scenarios::learner::Pacer;
use duxue_scenarios::population::{Member, PopulationWorld, Tally, behaviour_named};
use duxue_scenarios::{Outcome, ProbeContext};
use goose::config::{GooseConfiguration, GooseDefault, GooseDefaultType};
use goose::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

pub use mix::Mix;
use recorder::{MemberObserver, Recorder};
pub use section::PopulationSection;

use crate::error::CannotRun;

/// Where the interval log of the phase is written, relative to the run folder.
pub const HISTOGRAM_LOG: &str = "load/latency.hlog";
/// Every member's tally, one JSON line each.
pub const TALLIES: &str = "load/learners.jsonl";
/// Supervisor dashboard staleness, one histogram (wall microseconds) in an interval log.
pub const FRESHNESS_LOG: &str = "load/freshness.hlog";

/// Writes a file of the run's evidence; a file that cannot be written stops the run, whose
/// report would otherwise refer to evidence that is not there.
pub fn write_evidence(path: &Path, bytes: &[u8]) -> Result<(), CannotRun> {
    std::fs::write(path, bytes).map_err(|e| evidence_unwritten(path, e))
}

fn evidence_unwritten(path: &Path, e: impl std::fmt::Display) -> CannotRun {
    CannotRun::new(
        format!("cannot write {}: {e}", path.display()),
        "check free disk space and that --out is writable",
    )
}

/// Writes one histogram as the only interval of an interval log.
pub fn write_single_interval(
    path: &Path,
    tag: &str,
    h: &hdrhistogram::Histogram<u64>,
) -> Result<(), CannotRun> {
    use hdrhistogram::serialization::V2Serializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let mut bytes = Vec::new();
    let mut serializer = V2Serializer::new();
    let written = IntervalLogWriterBuilder::new()
        .add_comment("duxue supervisor dashboard staleness, wall microseconds")
        .begin_log_with(&mut bytes, &mut serializer)
        .map_err(|e| format!("{e}"))
        .and_then(|mut w| {
            w.write_histogram(h, Duration::ZERO, Duration::from_secs(1), Tag::new(tag))
                .map_err(|e| format!("{e:?}"))
        });
    written.map_err(|e| evidence_unwritten(path, e))?;
    write_evidence(path, &bytes)
}

/// Members making images (registration photos, liveness frames) at once: a few per core keeps
/// the cores busy while a ramp of thousands holds only this many frame sets in memory.
const MEDIA_GATE: usize = 16;

/// How members reach the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientMode {
    /// One connection pool for every learner (learners are told apart by their tokens).
    Shared,
    /// A client, and so connections, of its own per learner (a platform that treats a
    /// connection as a device sees one device per learner).
    PerLearner,
}

impl From<ClientMode> for duxue_reports::model::ClientMode {
    fn from(mode: ClientMode) -> Self {
        match mode {
            ClientMode::Shared => duxue_reports::model::ClientMode::Shared,
            ClientMode::PerLearner => duxue_reports::model::ClientMode::PerLearner,
        }
    }
}

/// The load shape of a morning peak: logins ramp up, a hold at the peak, a ramp down.
#[derive(Clone, Copy, Debug)]
pub struct LoadShape {
    pub ramp_up: Duration,
    pub hold: Duration,
    pub ramp_down: Duration,
}

/// Everything the phase needs, from the command line.
#[derive(Clone, Debug)]
pub struct PopulationPlan {
    /// Peak concurrent learners (of this shard).
    pub learners: u64,
    /// Cohort-clock seconds per wall second for the population's cohort.
    pub clock_scale: f64,
    pub shape: LoadShape,
    pub mix: Mix,
    pub client_mode: ClientMode,
    /// This process's shard: (index, count); learner numbers are index + k × count.
    pub shard: (u64, u64),
    /// The instant the load shape starts at, agreed by every shard (`--start-at`).
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    pub progress: bool,
    pub out: PathBuf,
}

/// What the phase produced.
pub struct PopulationResult {
    pub section: PopulationSection,
    pub load: Outcome,
    pub controls: Outcome,
    /// How the load shape started against the agreed instant, when there was one.
    pub start: Option<duxue_reports::model::StartSkew>,
}

/// State every goose user shares.
struct Shared {
    world: PopulationWorld,
    /// The behaviour of each learner number (the mix dealt out).
    behaviours: Vec<Behaviour>,
    recorder: Arc<Recorder>,
    tallies: Mutex<Vec<Tally>>,
    active: AtomicU64,
    /// How members reach the target (timeouts, trusted roots), without the conformance token.
    config: ClientConfig,
    http: reqwest::Client,
    mode: ClientMode,
    shard: (u64, u64),
    /// When the load shape ends; members stop studying then.
    deadline: tokio::time::Instant,
    media_gate: Arc<tokio::sync::Semaphore>,
}

impl Shared {
    fn member_client(&self, pacer: Arc<Pacer>) -> Result<ProfileClient, String> {
        let http = match self.mode {
            ClientMode::Shared => self.http.clone(),
            ClientMode::PerLearner => learner_http(&self.config).map_err(|e| e.to_string())?,
        };
        let client = ProfileClient::with_http(http, self.config.clone());
        Ok(client.observed(Arc::new(MemberObserver {
            recorder: self.recorder.clone(),
            pacer,
        })))
    }
}

fn learner_http(config: &ClientConfig) -> reqwest::Result<reqwest::Client> {
    config.http_builder().pool_max_idle_per_host(1).build()
}

fn shared_http(config: &ClientConfig, learners: u64) -> reqwest::Result<reqwest::Client> {
    config
        .http_builder()
        .pool_max_idle_per_host(learners.clamp(16, 4096) as usize)
        .tcp_nodelay(true)
        .build()
}

type MemberCell = Arc<tokio::sync::Mutex<Member>>;

/// Runs the population phase against `target_url`; `ctx` carries the conformance client
/// (its exchanges go to the evidence journal) used to set the population's world up.
pub async fn run(
    plan: &PopulationPlan,
    ctx: &ProbeContext,
    target_url: &str,
    probe_verdicts: &std::collections::BTreeMap<String, Verdict>,
) -> Result<PopulationResult, CannotRun> {
    let started = Instant::now();
    std::fs::create_dir_all(plan.out.join("load")).map_err(|e| {
        CannotRun::new(
            format!("cannot create {}/load: {e}", plan.out.display()),
            "choose a writable --out",
        )
    })?;
    let config = ctx.client.config().for_url(target_url);
    let http = shared_http(&config, plan.learners)
        .map_err(|e| CannotRun::new(format!("cannot build the HTTP client: {e}"), "check TLS"))?;
    // The barrier comes before the world is set up: the population's cohort clock starts with
    // its world, and a wait of minutes would pass cohort hours before anyone studied.
    let start = match plan.start_at {
        Some(at) => Some(crate::start::barrier(at, &http, target_url).await),
        None => None,
    };
    let world = PopulationWorld::new(ctx, plan.clock_scale / ctx.clock_scale)
        .await
        .map_err(|e| {
            CannotRun::new(
                format!("the population could not be set up on the target: {e}"),
                "check the target with `duxue certify --learners 0` first",
            )
        })?;
    let recorder = Arc::new(Recorder::default());
    let numbers = plan.learners.max(1).saturating_mul(plan.shard.1.max(1));
    let shared = Arc::new(Shared {
        world,
        behaviours: plan.mix.deal(numbers as usize),
        recorder: recorder.clone(),
        tallies: Mutex::new(Vec::new()),
        active: AtomicU64::new(0),
        config,
        http: http.clone(),
        mode: plan.client_mode,
        shard: plan.shard,
        deadline: tokio::time::Instant::now()
            + plan.shape.ramp_up
            + plan.shape.hold
            + plan.shape.ramp_down,
        media_gate: Arc::new(tokio::sync::Semaphore::new(MEDIA_GATE)),
    });

    let attack = goose_attack(plan, target_url, shared.clone())?;
    let stop = Arc::new(AtomicBool::new(false));
    let supervisors = start_supervisors(&shared, &http, stop.clone()).await;
    // The ticker stops last, so its final interval holds every request the phase made.
    let ticker_stop = Arc::new(AtomicBool::new(false));
    let log = std::fs::File::create(plan.out.join(HISTOGRAM_LOG))
        .map_err(|e| evidence_unwritten(&plan.out.join(HISTOGRAM_LOG), e))?;
    let ticker = tokio::spawn(ticker(
        shared.clone(),
        plan.clone(),
        ticker_stop.clone(),
        progress_line(plan.progress),
        log,
    ));
    let goose_result = attack.execute().await;
    stop.store(true, Ordering::Relaxed);
    let staleness = supervisors.finish().await;
    ticker_stop.store(true, Ordering::Relaxed);
    let (timeline, ticker_written) = ticker.await.unwrap_or_else(|e| {
        (
            Vec::new(),
            Err(CannotRun::new(
                format!("the population's ticker failed: {e}"),
                "report it",
            )),
        )
    });
    let evidence_written = ticker_written.and_then(|()| {
        write_single_interval(&plan.out.join(FRESHNESS_LOG), "freshness", &staleness)
    });
    let freshness = section::freshness(
        &staleness,
        ctx.policy.judging.supervisor_freshness_seconds.value * 1000.0,
    );
    let goose_metrics = goose_result.map_err(|e| {
        CannotRun::new(
            format!("the load generator failed: {e}"),
            "lower --learners or report it",
        )
    })?;
    write_evidence(
        &plan.out.join("load/goose-metrics.txt"),
        goose_metrics.to_string().as_bytes(),
    )?;
    evidence_written?;

    let mut tallies =
        std::mem::take(&mut *shared.tallies.lock().unwrap_or_else(|e| e.into_inner()));
    flag_bots(&shared, ctx, &mut tallies).await;
    write_tallies(&plan.out.join(TALLIES), &tallies)?;

    let section = section::build(
        plan,
        &shared.recorder,
        &tallies,
        timeline,
        freshness,
        started.elapsed(),
    );
    let (operations, _) = shared.recorder.snapshot();
    let load = judge::peak_load_held(&ctx.policy, plan.learners, &section, &operations, &tallies);
    let controls = judge::controls_hold_under_load(&ctx.policy, &section, &tallies, probe_verdicts);
    Ok(PopulationResult {
        section,
        load,
        controls,
        start,
    })
}

/// The goose attack: a scenario per behaviour of the mix, weighted; a test plan of the load
/// shape; our own shared client; no controllers, console tables or log files.
fn goose_attack(
    plan: &PopulationPlan,
    target_url: &str,
    shared: Arc<Shared>,
) -> Result<GooseAttack, CannotRun> {
    let goose_error = |e: GooseError| {
        CannotRun::new(
            format!("the load generator could not be configured: {e}"),
            "check --learners and the load shape options",
        )
    };
    let mut config = GooseConfiguration::default();
    config.host = Some(target_url.to_owned());
    config.no_telnet = true;
    config.no_autostart = false;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.quiet = 1;
    let peak = plan.learners.max(1);
    let test_plan = format!(
        "{peak},{}s;{peak},{}s;0,{}s",
        plan.shape.ramp_up.as_secs().max(1),
        plan.shape.hold.as_secs(),
        plan.shape.ramp_down.as_secs()
    );
    let attack = GooseAttack::initialize_with_config(config)
        .map_err(goose_error)?
        .set_default(GooseDefault::TestPlan, test_plan.as_str())
        .map_err(goose_error)?
        .set_client_builder_without_cookies(
            goose::client::GooseClientBuilder::new()
                .without_cookies()
                .timeout(Duration::from_secs(30)),
        )
        .map_err(goose_error)?;
    // One scenario: each learner's behaviour comes from the mix dealt out by learner number
    // (goose's own weighting gives the shares only for large populations).
    let scenario = Scenario::new("learner")
        .register_transaction(arrive(shared.clone()).set_name("arrive").set_on_start())
        .register_transaction(sitting(shared.clone()).set_name("sitting"))
        .register_transaction(leave(shared.clone()).set_name("leave").set_on_stop());
    Ok(attack.register_scenario(scenario))
}

fn transaction_error(message: impl std::fmt::Display) -> Box<TransactionError> {
    Box::new(TransactionError::Custom(message.to_string()))
}

fn arrive(shared: Arc<Shared>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            let pacer = Arc::new(Pacer::default());
            let client = shared
                .member_client(pacer.clone())
                .map_err(transaction_error)?;
            let (index, count) = shared.shard;
            let number = user.weighted_users_index as u64 * count + index;
            let behaviour = shared.behaviours[number as usize % shared.behaviours.len().max(1)];
            let member = Member::new(
                &shared.world,
                number,
                behaviour,
                client,
                pacer,
                shared.deadline,
                shared.media_gate.clone(),
            );
            let cell: MemberCell = Arc::new(tokio::sync::Mutex::new(member));
            user.set_session_data(cell.clone());
            let mut member = cell.lock().await;
            let arrived = member.arrive(&shared.world).await;
            // A learner is active once it got in, not when it arrived at the login page.
            if member.admitted() {
                shared.active.fetch_add(1, Ordering::Relaxed);
            }
            arrived.map_err(transaction_error)
        })
    }))
}

fn sitting(shared: Arc<Shared>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            let Some(cell) = user.get_session_data::<MemberCell>().cloned() else {
                return Err(transaction_error("the learner never arrived"));
            };
            let mut member = cell.lock().await;
            let was_admitted = member.admitted();
            let sat = member.sitting(&shared.world).await;
            if !was_admitted && member.admitted() {
                shared.active.fetch_add(1, Ordering::Relaxed);
            }
            sat.map_err(transaction_error)
        })
    }))
}

fn leave(shared: Arc<Shared>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            let Some(cell) = user.get_session_data::<MemberCell>().cloned() else {
                return Ok(());
            };
            let mut member = cell.lock().await;
            member.leave().await;
            if member.admitted() {
                shared.active.fetch_sub(1, Ordering::Relaxed);
            }
            shared
                .tallies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(member.tally.clone());
            Ok(())
        })
    }))
}

pub use duxue_reports::model::TimelinePoint as Tick;

/// Every wall second: the interval histograms to the log, a timeline point, the live line;
/// marks the peak (the hold of the shape) for the recorder.
/// Returns the timeline, and whether its evidence (the interval log, `load/harness.json`)
/// was written.
async fn ticker(
    shared: Arc<Shared>,
    plan: PopulationPlan,
    stop: Arc<AtomicBool>,
    line: ProgressBar,
    log: std::fs::File,
) -> (Vec<Tick>, Result<(), CannotRun>) {
    use hdrhistogram::serialization::V2Serializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let path = plan.out.join(HISTOGRAM_LOG);
    let mut failed: Option<String> = None;
    let mut file = std::io::BufWriter::new(log);
    let mut serializer = V2Serializer::new();
    let start_wall = std::time::SystemTime::now();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment("duxue population latency, microseconds from the intended send time")
        .add_comment("tag = profile operation id; one interval per wall second")
        .with_start_time(start_wall)
        .with_base_time(start_wall);
    // The ticker keeps marking the peak for the recorder even when its log cannot be written.
    let mut writer = match builder.begin_log_with(&mut file, &mut serializer) {
        Ok(w) => Some(w),
        Err(e) => {
            failed.get_or_insert(e.to_string());
            None
        }
    };
    let started = Instant::now();
    let mut usage = HarnessUsage::default();
    let peak_from = plan.shape.ramp_up;
    let peak_to = plan.shape.ramp_up + plan.shape.hold;
    let mut timeline = Vec::new();
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.tick().await;
    let mut last = Duration::ZERO;
    loop {
        interval.tick().await;
        // Everything recording stops before `stop` is set: the round that sees it takes all
        // that is left.
        let last_round = stop.load(Ordering::Relaxed);
        let now = started.elapsed();
        shared.recorder.set_peak(now >= peak_from && now < peak_to);
        for (operation, histogram) in shared.recorder.take_intervals() {
            let Some(writer) = writer.as_mut() else {
                continue;
            };
            if let Err(e) =
                writer.write_histogram(&histogram, last, now - last, Tag::new(&operation))
            {
                failed.get_or_insert(format!("{e:?}"));
            }
        }
        let requests = shared.recorder.interval_requests.swap(0, Ordering::Relaxed);
        let errors = shared.recorder.interval_errors.swap(0, Ordering::Relaxed);
        let active = shared.active.load(Ordering::Relaxed);
        usage.tick(now >= peak_from && now < peak_to, requests);
        timeline.push(Tick {
            t_s: (now.as_secs_f64() * 10.0).round() / 10.0,
            active,
            requests,
            errors,
        });
        let refused = shared.recorder.refusals.load(Ordering::Relaxed);
        line.set_message(format!(
            "population: {active}/{} learners, {requests} req/s, heartbeat p99 {}, {errors} errors/s, {refused} refusals so far",
            plan.learners,
            shared
                .recorder
                .peak_or_whole_p99_ms("heartbeat")
                .map_or("-".to_owned(), |ms| format!("{ms:.1} ms")),
        ));
        last = now;
        if last_round {
            break;
        }
    }
    line.finish_and_clear();
    drop(writer);
    use std::io::Write as _;
    if let Err(e) = file.flush() {
        failed.get_or_insert(e.to_string());
    }
    let written = match failed {
        Some(e) => Err(evidence_unwritten(&path, e)),
        None => usage.write(&plan.out.join("load/harness.json"), plan.learners),
    };
    (timeline, written)
}

fn progress_line(enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// Supervisors of each kind polling their dashboards; each poll measures how stale the
/// dashboard is for learners it shows studying.
struct Supervisors {
    tasks: Vec<tokio::task::JoinHandle<hdrhistogram::Histogram<u64>>>,
}

impl Supervisors {
    async fn finish(self) -> hdrhistogram::Histogram<u64> {
        let mut merged = recorder::histogram();
        for task in self.tasks {
            if let Ok(h) = task.await {
                let _ = merged.add(&h);
            }
        }
        merged
    }
}

async fn start_supervisors(
    shared: &Arc<Shared>,
    http: &reqwest::Client,
    stop: Arc<AtomicBool>,
) -> Supervisors {
    let fx = &shared.world.fixture;
    let kinds = [
        (SupervisorKind::Authority, None),
        (SupervisorKind::Audit, None),
        (
            SupervisorKind::Enterprise,
            Some(fx.enterprise.organisation_id.clone()),
        ),
        (
            SupervisorKind::Institution,
            Some(fx.institution.organisation_id.clone()),
        ),
    ];
    let mut tasks = Vec::new();
    for (kind, organisation_id) in kinds {
        let client = ProfileClient::with_http(http.clone(), shared.config.clone()).observed(
            Arc::new(MemberObserver {
                recorder: shared.recorder.clone(),
                pacer: Arc::new(Pacer::default()),
            }),
        );
        let token = match fx
            .supervisor_via(&client, kind, organisation_id.as_deref())
            .await
        {
            Ok(token) => token,
            Err(e) => {
                tracing::warn!("population: a {kind:?} supervisor could not be created: {e}");
                continue;
            }
        };
        let clock = fx.clock.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut staleness = recorder::histogram();
            let mut polls = tokio::time::interval(Duration::from_secs(2));
            // Bounded: at most one poll per 2 s until the phase stops.
            while !stop.load(Ordering::Relaxed) {
                polls.tick().await;
                let Ok(list) = client.list_learners(&token).await else {
                    continue;
                };
                let now = clock.now();
                for status in &list.learners {
                    if status.status != duxue_profile::LiveStatus::Studying {
                        continue;
                    }
                    if let Some(seen) = status.last_seen_at {
                        let virtual_ms = (now - seen).num_milliseconds().max(0) as f64;
                        let wall_micros = virtual_ms * 1000.0 / clock.scale;
                        let _ = staleness.record((wall_micros as u64).max(1));
                    }
                }
            }
            staleness
        }));
    }
    Supervisors { tasks }
}

/// Scripts (popup auto-clickers, round-the-clock learners) cannot be refused at the time; the
/// platform's course-brushing self-check must flag them afterwards, in the population's cohort
/// or in a round-the-clock member's own.
async fn flag_bots(shared: &Shared, ctx: &ProbeContext, tallies: &mut [Tally]) {
    let is_script = |t: &Tally| {
        behaviour_named(&t.behaviour).is_some_and(|b| b.unit().counts == Counting::SelfCheck)
    };
    let population = shared.world.fixture.cohort.cohort_id.clone();
    let mut cohorts: Vec<String> = tallies
        .iter()
        .filter(|t| is_script(t) && t.admitted)
        .map(|t| t.cohort_id.clone().unwrap_or_else(|| population.clone()))
        .collect();
    cohorts.sort();
    cohorts.dedup();
    let client = ProfileClient::with_http(shared.http.clone(), shared.config.clone());
    let mut flagged = std::collections::BTreeSet::new();
    for cohort in &cohorts {
        let Some(token) = supervisor_token(cohort, ctx).await else {
            continue;
        };
        let Ok(report) = client.self_check(&token).await else {
            continue;
        };
        flagged.extend(report.flagged.into_iter().map(|f| f.learner_id));
    }
    for tally in tallies.iter_mut() {
        if !is_script(tally) || !tally.admitted {
            continue;
        }
        let caught = tally
            .learner_id
            .as_ref()
            .is_some_and(|id| flagged.contains(id));
        tally.cheat_attempts += 1;
        tally.flagged_by_self_check = caught;
        tally.attempts_refused += u32::from(caught);
        let form = tally
            .forms
            .entry("caught-by-the-self-check".into())
            .or_default();
        form[0] += 1;
        form[1] += u32::from(caught);
    }
}

async fn supervisor_token(cohort_id: &str, ctx: &ProbeContext) -> Option<String> {
    let credentials = ctx
        .client
        .create_supervisor(&SupervisorRequest {
            cohort_id: cohort_id.to_owned(),
            kind: SupervisorKind::Authority,
            organisation_id: None,
        })
        .await
        .ok()?;
    ctx.client
        .supervisor_login(&credentials.username, &credentials.password)
        .await
        .ok()
        .map(|s| s.token)
}

/// Writes every member's tally as one JSON line (`load/learners.jsonl`).
pub fn write_tallies(path: &Path, tallies: &[Tally]) -> Result<(), CannotRun> {
    let mut text = String::new();
    for tally in tallies {
        let line = serde_json::to_string(tally).map_err(|e| evidence_unwritten(path, e))?;
        text.push_str(&line);
        text.push('\n');
    }
    write_evidence(path, text.as_bytes())
}

/// Process CPU seconds, the part of them spent making synthetic media and the media jobs run,
/// at one moment.
#[derive(Clone, Copy)]
struct CpuReading {
    total: f64,
    media: f64,
    media_jobs: u64,
}

impl CpuReading {
    fn now() -> Self {
        CpuReading {
            total: process_cpu_seconds(),
            media: duxue_scenarios::learner::media_cpu_seconds(),
            media_jobs: duxue_scenarios::learner::media_jobs(),
        }
    }
}

/// The harness's own cost (for the population benchmark): process CPU time over the hold and
/// over the phase, requests in the hold, peak RSS. On Linux, from /proc/self.
#[derive(Default)]
struct HarnessUsage {
    at_start: Option<CpuReading>,
    at_hold_start: Option<CpuReading>,
    at_hold_end: Option<CpuReading>,
    hold_requests: u64,
}

impl HarnessUsage {
    fn tick(&mut self, in_hold: bool, requests: u64) {
        let cpu = CpuReading::now();
        self.at_start.get_or_insert(cpu);
        if in_hold {
            self.at_hold_start.get_or_insert(cpu);
            self.at_hold_end = Some(cpu);
            self.hold_requests += requests;
        }
    }

    fn write(&self, path: &Path, learners: u64) -> Result<(), CannotRun> {
        let end = CpuReading::now();
        let (hold_cpu, hold_media, hold_media_jobs) = match (self.at_hold_start, self.at_hold_end) {
            (Some(a), Some(b)) => (
                b.total - a.total,
                b.media - a.media,
                b.media_jobs - a.media_jobs,
            ),
            _ => (0.0, 0.0, 0),
        };
        let start = self.at_start.unwrap_or(end);
        let per_request = |seconds: f64| seconds * 1e6 / self.hold_requests.max(1) as f64;
        let json = serde_json::json!({
            "learners": learners,
            "cpu_seconds_phase": end.total - start.total,
            "media_cpu_seconds_phase": end.media - start.media,
            "cpu_seconds_hold": hold_cpu,
            "media_cpu_seconds_hold": hold_media,
            "media_jobs_hold": hold_media_jobs,
            "media_cpu_ms_per_job_hold": hold_media * 1e3 / hold_media_jobs.max(1) as f64,
            "requests_hold": self.hold_requests,
            "cpu_us_per_request_hold": per_request(hold_cpu),
            "cpu_us_per_request_hold_without_media": per_request(hold_cpu - hold_media),
            "peak_rss_kb": peak_rss_kb(),
            "note": "process-wide: includes an embedded platform when there is no --target",
        });
        write_evidence(path, &serde_json::to_vec_pretty(&json).unwrap_or_default())
    }
}

/// User plus system CPU seconds of this process (0 where /proc is absent).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 11 and 12 after the name; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
