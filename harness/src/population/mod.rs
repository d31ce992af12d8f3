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
use duxue_scenarios::behaviour::Behaviour;
use duxue_scenarios::learner::Pacer;
use duxue_scenarios::population::{Member, PopulationWorld, Tally};
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

/// Writes one histogram as the only interval of an interval log.
pub fn write_single_interval(path: &Path, tag: &str, h: &hdrhistogram::Histogram<u64>) {
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
    if let Err(e) = written.and_then(|()| std::fs::write(path, &bytes).map_err(|e| e.to_string())) {
        tracing::error!("cannot write {}: {e}", path.display());
    }
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
    /// The User-Agent of every member's requests.
    pub user_agent: String,
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
    recorder: Arc<Recorder>,
    tallies: Mutex<Vec<Tally>>,
    active: AtomicU64,
    url: String,
    http: reqwest::Client,
    mode: ClientMode,
    shard: (u64, u64),
    /// When the load shape ends; members stop studying then.
    deadline: tokio::time::Instant,
    media_gate: Arc<tokio::sync::Semaphore>,
    user_agent: String,
}

impl Shared {
    fn member_client(&self, pacer: Arc<Pacer>) -> Result<ProfileClient, String> {
        let http = match self.mode {
            ClientMode::Shared => self.http.clone(),
            ClientMode::PerLearner => learner_http(&self.user_agent).map_err(|e| e.to_string())?,
        };
        let client = ProfileClient::with_http(http, ClientConfig::new(&self.url));
        Ok(client.observed(Arc::new(MemberObserver {
            recorder: self.recorder.clone(),
            pacer,
        })))
    }
}

fn learner_http(user_agent: &str) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(1)
        .build()
}

fn shared_http(learners: u64, user_agent: &str) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
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
    let http = shared_http(plan.learners, &plan.user_agent)
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
    let shared = Arc::new(Shared {
        world,
        recorder: recorder.clone(),
        tallies: Mutex::new(Vec::new()),
        active: AtomicU64::new(0),
        url: target_url.to_owned(),
        http: http.clone(),
        mode: plan.client_mode,
        shard: plan.shard,
        deadline: tokio::time::Instant::now()
            + plan.shape.ramp_up
            + plan.shape.hold
            + plan.shape.ramp_down,
        media_gate: Arc::new(tokio::sync::Semaphore::new(MEDIA_GATE)),
        user_agent: plan.user_agent.clone(),
    });

    let attack = goose_attack(plan, target_url, shared.clone())?;
    let stop = Arc::new(AtomicBool::new(false));
    let supervisors = start_supervisors(&shared, &http, stop.clone(), ctx).await;
    // The ticker stops last, so its final interval holds every request the phase made.
    let ticker_stop = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn(ticker(
        shared.clone(),
        plan.clone(),
        ticker_stop.clone(),
        progress_line(plan.progress),
    ));
    let goose_result = attack.execute().await;
    stop.store(true, Ordering::Relaxed);
    let staleness = supervisors.finish().await;
    ticker_stop.store(true, Ordering::Relaxed);
    let timeline = ticker.await.unwrap_or_default();
    write_single_interval(&plan.out.join(FRESHNESS_LOG), "freshness", &staleness);
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
    let _ = std::fs::write(
        plan.out.join("load/goose-metrics.txt"),
        goose_metrics.to_string(),
    );

    let mut tallies =
        std::mem::take(&mut *shared.tallies.lock().unwrap_or_else(|e| e.into_inner()));
    flag_bots(&shared, ctx, &mut tallies).await;
    write_tallies(&plan.out.join(TALLIES), &tallies);

    let section = section::build(
        plan,
        &shared.recorder,
        &tallies,
        timeline,
        freshness,
        started.elapsed(),
    );
    let (operations, _) = shared.recorder.snapshot();
    let load = judge::peak_load_held(&ctx.policy, plan.learners, &section, &operations);
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
    let mut attack = GooseAttack::initialize_with_config(config)
        .map_err(goose_error)?
        .set_default(GooseDefault::TestPlan, test_plan.as_str())
        .map_err(goose_error)?
        .set_client_builder_without_cookies(
            goose::client::GooseClientBuilder::new()
                .without_cookies()
                .timeout(Duration::from_secs(30)),
        )
        .map_err(goose_error)?;
    for (behaviour, weight) in plan.mix.weights() {
        if weight == 0 {
            continue;
        }
        let name = duxue_scenarios::population::behaviour_name(behaviour);
        let scenario = Scenario::new(&name)
            .set_weight(weight)
            .map_err(goose_error)?
            .register_transaction(
                arrive(shared.clone(), behaviour)
                    .set_name("arrive")
                    .set_on_start(),
            )
            .register_transaction(sitting(shared.clone()).set_name("sitting"))
            .register_transaction(leave(shared.clone()).set_name("leave").set_on_stop());
        attack = attack.register_scenario(scenario);
    }
    Ok(attack)
}

fn transaction_error(message: impl std::fmt::Display) -> Box<TransactionError> {
    Box::new(TransactionError::Custom(message.to_string()))
}

fn arrive(shared: Arc<Shared>, behaviour: Behaviour) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            let pacer = Arc::new(Pacer::default());
            let client = shared
                .member_client(pacer.clone())
                .map_err(transaction_error)?;
            let (index, count) = shared.shard;
            let number = user.weighted_users_index as u64 * count + index;
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
            shared.active.fetch_add(1, Ordering::Relaxed);
            let mut member = cell.lock().await;
            member
                .arrive(&shared.world)
                .await
                .map_err(transaction_error)
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
            member
                .sitting(&shared.world)
                .await
                .map_err(transaction_error)
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
            shared.active.fetch_sub(1, Ordering::Relaxed);
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
async fn ticker(
    shared: Arc<Shared>,
    plan: PopulationPlan,
    stop: Arc<AtomicBool>,
    line: ProgressBar,
) -> Vec<Tick> {
    use hdrhistogram::serialization::V2Serializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let path = plan.out.join(HISTOGRAM_LOG);
    let mut file = match std::fs::File::create(&path) {
        Ok(f) => std::io::BufWriter::new(f),
        Err(e) => {
            tracing::error!("cannot write {}: {e}", path.display());
            return Vec::new();
        }
    };
    let mut serializer = V2Serializer::new();
    let start_wall = std::time::SystemTime::now();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment("duxue population latency, microseconds from the intended send time")
        .add_comment("tag = profile operation id; one interval per wall second")
        .with_start_time(start_wall)
        .with_base_time(start_wall);
    let mut writer = match builder.begin_log_with(&mut file, &mut serializer) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("cannot write {}: {e}", path.display());
            return Vec::new();
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
            if let Err(e) =
                writer.write_histogram(&histogram, last, now - last, Tag::new(&operation))
            {
                tracing::warn!("interval log: {e:?}");
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
    usage.write(&plan.out.join("load/harness.json"), plan.learners);
    drop(writer);
    use std::io::Write as _;
    let _ = file.flush();
    timeline
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
    ctx: &ProbeContext,
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
        let credentials = ctx
            .client
            .create_supervisor(&SupervisorRequest {
                cohort_id: fx.cohort.cohort_id.clone(),
                kind,
                organisation_id,
            })
            .await;
        let Ok(credentials) = credentials else {
            tracing::warn!("population: a {kind:?} supervisor could not be created");
            continue;
        };
        let client = ProfileClient::with_http(http.clone(), ClientConfig::new(&shared.url))
            .observed(Arc::new(MemberObserver {
                recorder: shared.recorder.clone(),
                pacer: Arc::new(Pacer::default()),
            }));
        let Ok(session) = client
            .supervisor_login(&credentials.username, &credentials.password)
            .await
        else {
            continue;
        };
        let clock = fx.clock.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut staleness = recorder::histogram();
            let mut polls = tokio::time::interval(Duration::from_secs(2));
            // Bounded: at most one poll per 2 s until the phase stops.
            while !stop.load(Ordering::Relaxed) {
                polls.tick().await;
                let Ok(list) = client.list_learners(&session.token).await else {
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

/// Bots (popup auto-clickers, round-the-clock scripts) cannot be refused at the time; the
/// platform's course-brushing self-check must flag them afterwards.
async fn flag_bots(shared: &Shared, ctx: &ProbeContext, tallies: &mut [Tally]) {
    let bots = ["popup-auto-clicker", "round-the-clock"];
    let token = match supervisor_token(shared, ctx).await {
        Some(token) => token,
        None => return,
    };
    let client = ProfileClient::with_http(shared.http.clone(), ClientConfig::new(&shared.url));
    let Ok(report) = client.self_check(&token).await else {
        return;
    };
    for tally in tallies.iter_mut() {
        if !bots.contains(&tally.behaviour.as_str()) || !tally.admitted {
            continue;
        }
        tally.cheat_attempts += 1;
        let flagged = report
            .flagged
            .iter()
            .any(|f| Some(&f.learner_id) == tally.learner_id.as_ref());
        if flagged {
            tally.flagged_by_self_check = true;
            tally.attempts_refused += 1;
        }
    }
}

async fn supervisor_token(shared: &Shared, ctx: &ProbeContext) -> Option<String> {
    let credentials = ctx
        .client
        .create_supervisor(&SupervisorRequest {
            cohort_id: shared.world.fixture.cohort.cohort_id.clone(),
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
pub fn write_tallies(path: &Path, tallies: &[Tally]) {
    let mut text = String::new();
    for tally in tallies {
        if let Ok(line) = serde_json::to_string(tally) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    if let Err(e) = std::fs::write(path, text) {
        tracing::error!("cannot write {}: {e}", path.display());
    }
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

    fn write(&self, path: &Path, learners: u64) {
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
        let _ = std::fs::write(path, serde_json::to_vec_pretty(&json).unwrap_or_default());
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
