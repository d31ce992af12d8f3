//! `duxue spot-check`: the road test (PRODUCT.md §10). Learner accounts the bureau holds on a
//! live platform study on the platform's own clock, honestly or cheating in a mix and order
//! drawn afresh for every run, while the bureau's supervisor account watches; no conformance
//! endpoint, token or label is used and nothing in the traffic names the tool. What real time
//! allows is judged; the rest is SKIPPED with its reason. The run folder, report, signing and
//! verification are certify's, marked `mode: spot_check`.

pub mod files;
mod judge;
mod road;
mod schedule;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use duxue_profile::{Auth, LiveStatus, Policy, ProfileClient, SupervisorKind, Verdict, operation};
use duxue_reports::RunReport;
use duxue_reports::model::{EvidenceRef, RunMode};
use duxue_scenarios::clock::CohortClock;
use duxue_scenarios::{Outcome, ProbeContext, ProbeError, seeds};
use rand::Rng;
use rand::seq::IndexedRandom;

use self::files::{AccountsFile, SupervisorAccount, SupervisorFile};
use self::judge::{Expectation, ExportLine, ImageCheck, Observations};
use self::road::{RoadLearner, Sitting, SittingRecord};
use self::schedule::{Interlude, Step};
use crate::certify::{self, JOURNAL_PATH};
use crate::error::CannotRun;
use crate::journal::Journal;

/// Everything a spot check needs, resolved from the command line.
#[derive(Clone, Debug)]
pub struct SpotCheckPlan {
    pub target: String,
    pub accounts: PathBuf,
    pub supervisor: PathBuf,
    /// Wall time the accounts study.
    pub duration: Duration,
    pub seed: u64,
    pub out: PathBuf,
    pub policy: String,
    /// The platform's clock scale: 1 on a real platform; more only against a simulated
    /// platform whose production clock runs faster (tests).
    pub clock_scale: f64,
    /// Request timeout, trusted roots and User-Agent.
    pub transport: crate::target::Transport,
    pub signing_key: Option<PathBuf>,
    pub progress: bool,
}

/// Parses a duration such as `60m`, `90s`, `1h30m` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds > 0.0)
            .then(|| Duration::from_secs_f64(seconds))
            .ok_or_else(|| format!("`{text}` is not a positive duration"));
    }
    let mut total = 0.0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(format!("`{text}`: unknown unit `{c}` (use h, m, s)")),
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration such as 60m or 1h30m"))?;
        total += value * unit;
        number.clear();
    }
    if !number.is_empty() || total <= 0.0 {
        return Err(format!("`{text}` is not a duration such as 60m or 1h30m"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// A supervisor account that logged in.
struct Supervisor {
    account: SupervisorAccount,
    token: String,
    kind: SupervisorKind,
}

/// An account as the platform knows it (for isolation trials and the watcher).
#[derive(Clone, Debug)]
struct Registered {
    learner_id: String,
    enrolment_id: String,
    /// Its last playback, ended.
    playback: Option<String>,
}

/// What the accounts share while they run.
struct Shared {
    deadline: tokio::time::Instant,
    scale: f64,
    policy: Arc<Policy>,
    observations: Mutex<Observations>,
    /// Per account: its learner id, enrolment and last ended playback (for isolation trials).
    registry: Mutex<BTreeMap<usize, Registered>>,
    /// A supervision operation to try with learner tokens (SV-3).
    supervisor_probe: Option<String>,
}

impl Shared {
    fn observe(&self, f: impl FnOnce(&mut Observations)) {
        f(&mut self.observations.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Platform seconds left until the deadline.
    fn left(&self) -> f64 {
        self.deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .as_secs_f64()
            * self.scale
    }
}

/// Runs a spot check and writes the run folder; returns the report.
pub async fn spot_check(plan: &SpotCheckPlan) -> Result<RunReport, CannotRun> {
    let started_at = Utc::now();
    let started = Instant::now();
    if !(plan.clock_scale.is_finite() && plan.clock_scale > 0.0 && plan.clock_scale <= 1_000.0) {
        return Err(CannotRun::new(
            format!("--clock-scale {} is out of range", plan.clock_scale),
            "leave it out against a real platform (its clock is real time); tests use up to 1000",
        ));
    }
    let accounts = AccountsFile::load(&plan.accounts)?;
    let supervisors = SupervisorFile::load(&plan.supervisor)?;
    let inputs = certify::load_inputs(&plan.policy, None)?;
    if let Some(path) = &plan.signing_key {
        duxue_reports::read_signing_key(path).map_err(|e| {
            CannotRun::new(
                format!("bad --signing-key: {e}"),
                "give a key written by `duxue report keygen FILE`",
            )
        })?;
    }
    certify::prepare_out(&plan.out)?;
    let (client, meta) = crate::target::connect(&plan.target, None, &plan.transport).await?;
    // The address the connection reached decides whether plain HTTP is on loopback (SC-1).
    let reached = match operation("getMeta") {
        Some(op) => client
            .send_raw(op, &[], Auth::Anonymous, None)
            .await
            .ok()
            .and_then(|a| a.remote_addr)
            .map(|addr| addr.ip()),
        None => None,
    };
    eprintln!(
        "duxue spot-check: {} ({}), {} accounts, {} s, seed {}, output {}",
        meta.platform_name,
        plan.target,
        accounts.accounts.len(),
        plan.duration.as_secs(),
        plan.seed,
        plan.out.display()
    );
    let secrets: Vec<String> = accounts
        .accounts
        .iter()
        .map(|a| a.password.clone())
        .chain(supervisors.supervisors.iter().map(|s| s.password.clone()))
        .collect();
    let journal = Journal::create(&plan.out.join(JOURNAL_PATH), secrets).map_err(|e| {
        CannotRun::new(
            format!("cannot write the evidence journal: {e}"),
            "choose a writable --out",
        )
    })?;
    let clock = Arc::new(CohortClock::new(
        "production".into(),
        plan.clock_scale,
        meta.server_time,
    ));
    let model = clock.clone();
    let client = client.with_virtual_clock(Arc::new(move || model.now()));
    let watcher_client = client.observed(journal.tagged(SUPERVISOR_TAG));

    let mut signed_in = Vec::new();
    for account in &supervisors.supervisors {
        let session = sign_in(&watcher_client, account).await?;
        signed_in.push(Supervisor {
            account: account.clone(),
            token: session.token,
            kind: session.kind,
        });
    }
    let monitor = signed_in
        .iter()
        .find(|s| matches!(s.kind, SupervisorKind::Authority | SupervisorKind::Audit))
        .unwrap_or(&signed_in[0])
        .token
        .clone();

    let mut rng = seeds::rng(plan.seed, "spot-check");
    let max_gap = f64::from(inputs.policy.rules.heartbeat_max_gap_seconds.value);
    let schedule = schedule::draw(&mut rng, accounts.accounts.len(), max_gap);
    let shared = Arc::new(Shared {
        deadline: tokio::time::Instant::now() + plan.duration,
        scale: plan.clock_scale,
        policy: inputs.policy.clone(),
        observations: Mutex::new(Observations {
            scoped_accounts: signed_in
                .iter()
                .filter(|s| {
                    matches!(
                        s.kind,
                        SupervisorKind::Enterprise | SupervisorKind::Institution
                    )
                })
                .count(),
            ..Observations::default()
        }),
        registry: Mutex::new(BTreeMap::new()),
        supervisor_probe: Some("listLearners".into()),
    });

    let mut days = Vec::new();
    for (index, account) in accounts.accounts.iter().enumerate() {
        let learner_client = client.observed(journal.tagged(&account_tag(index)));
        let road = RoadLearner::new(
            index,
            account.clone(),
            learner_client,
            clock.clone(),
            inputs.policy.clone(),
            plan.seed,
        );
        let day = Day {
            road,
            start_after: schedule.start_after[index],
            first_login: schedule.first_login[index].clone(),
            steps: schedule.steps[index].clone(),
            rng: seeds::rng(seeds::mix(plan.seed, index as u64), "day"),
            shared: shared.clone(),
        };
        days.push(tokio::spawn(day.run()));
    }
    let watch = tokio::spawn(watch(
        watcher_client.clone(),
        monitor.clone(),
        shared.clone(),
        seeds::rng(plan.seed, "watch"),
    ));
    let progress = progress_line(plan.progress, plan.duration);
    let mut roads = Vec::new();
    for day in days {
        match day.await {
            Ok(road) => roads.push(road),
            Err(e) => shared.observe(|o| o.errors.push(format!("an account's task failed: {e}"))),
        }
    }
    let _ = watch.await;
    progress.finish_and_clear();

    // After the day: what supervisors see of it.
    review(&watcher_client, &signed_in, &monitor, &roads, &shared).await;
    for road in &mut roads {
        if road.token().is_some() {
            let _ = road.log_out().await;
        }
    }
    journal.flush().map_err(|e| {
        CannotRun::new(
            format!("cannot write the evidence journal: {e}"),
            "check free disk space",
        )
    })?;

    let observations = std::mem::take(
        &mut *shared
            .observations
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    );
    let ctx = ProbeContext {
        client: client.clone(),
        policy: inputs.policy.clone(),
        application: inputs.application.clone(),
        clock_scale: plan.clock_scale,
        seed: plan.seed,
        run_nonce: 0,
        target_url: plan.target.clone(),
        playbacks: Arc::default(),
    };
    let outcomes = judge_all(&ctx, &observations, reached);
    let took = started.elapsed();
    let requirements = inputs
        .catalog
        .requirements
        .iter()
        .map(|req| {
            let outcome = outcomes
                .iter()
                .find(|o| o.requirement == req.id)
                .cloned()
                .unwrap_or_else(|| {
                    Outcome::decided("", Verdict::Skipped, judge::skipped_reason(&req.id))
                });
            let evidence = evidence_for(&req.id, &journal, &observations, roads.len());
            let wall = if judge::JUDGED.contains(&req.id.as_str()) {
                took
            } else {
                Duration::ZERO
            };
            certify::requirement_result(req, outcome, wall, evidence)
        })
        .collect::<Vec<_>>();
    let identity = certify::RunInfo {
        started_at,
        started,
        seed: plan.seed,
        // A spot check registers no one: its people are the accounts the bureau holds.
        run_nonce: 0,
        clock_scale: plan.clock_scale,
        learners: accounts.accounts.len() as u64,
        url: plan.target.clone(),
        embedded: false,
        defects: Vec::new(),
        variants: Vec::new(),
        meta: &meta,
        inputs: &inputs,
        requests: journal.total(),
        shard: None,
    };
    let mut report = certify::assemble(identity, requirements, None, None);
    report.mode = RunMode::SpotCheck;
    if !observations.errors.is_empty() {
        tracing::warn!(errors = ?observations.errors, "steps of the spot check failed");
    }
    certify::write_report(&plan.out, &report, plan.signing_key.as_deref())?;
    Ok(report)
}

/// `duxue register-accounts`: what to register where.
#[derive(Clone, Debug)]
pub struct RegisterPlan {
    pub target: String,
    pub supervisor: PathBuf,
    pub count: usize,
    /// Classes to join in turn; empty: every class the supervisor sees.
    pub classes: Vec<String>,
    pub out: PathBuf,
    pub seed: u64,
    /// Request timeout, trusted roots and User-Agent.
    pub transport: crate::target::Transport,
}

/// Registers `count` synthetic people through the platform's public registration, each in the
/// organisation that runs its class, and writes the accounts file; returns how many.
pub async fn register_accounts(plan: &RegisterPlan) -> Result<usize, CannotRun> {
    if plan.count < 2 {
        return Err(CannotRun::new(
            format!("--count {} is too few for a spot check", plan.count),
            "register at least two accounts (eight or more are hard to single out)",
        ));
    }
    if plan.out.exists() {
        return Err(CannotRun::new(
            format!("{} already exists", plan.out.display()),
            "choose a new --out (an accounts file holds passwords and is never overwritten)",
        ));
    }
    let supervisors = SupervisorFile::load(&plan.supervisor)?;
    let policy = Arc::new(
        Policy::resolve("xuchang-2022")
            .map_err(|e| CannotRun::new(format!("bad policy: {e}"), "reinstall duxue"))?,
    );
    let (client, meta) = crate::target::connect(&plan.target, None, &plan.transport).await?;
    let account = &supervisors.supervisors[0];
    let session = sign_in(&client, account).await?;
    let listed = client.list_classes(&session.token).await.map_err(|e| {
        CannotRun::new(
            format!("the supervisor's class list: {e}"),
            "give an authority or audit account in --supervisor",
        )
    })?;
    let classes: Vec<duxue_profile::Class> = if plan.classes.is_empty() {
        listed.classes
    } else {
        let mut chosen = Vec::new();
        for id in &plan.classes {
            let class = listed
                .classes
                .iter()
                .find(|c| &c.class_id == id)
                .ok_or_else(|| {
                    CannotRun::new(
                        format!("class `{id}` is not among the classes the supervisor sees"),
                        "give --class IDs from the supervisor's class list, or none",
                    )
                })?;
            chosen.push(class.clone());
        }
        chosen
    };
    if classes.is_empty() {
        return Err(CannotRun::new(
            "the supervisor sees no class to join",
            "give an authority or audit account of the production side in --supervisor",
        ));
    }
    let clock = Arc::new(CohortClock::new("production".into(), 1.0, meta.server_time));
    let mut rng = seeds::rng(plan.seed, "accounts");
    let mut accounts = AccountsFile::default();
    for n in 0..plan.count {
        let class = &classes[n % classes.len()];
        // Seeds below 2^53: TOML integers are signed, and people copy them by hand.
        let identity_seed = rng.random_range(0..(1u64 << 53));
        let password = forged_token(&mut rng);
        road::register(
            client.clone(),
            clock.clone(),
            policy.clone(),
            identity_seed,
            &class.organiser_id,
            &password,
        )
        .await
        .map_err(|e| {
            CannotRun::new(
                format!("registering account {} failed: {e}", n + 1),
                "check that the platform accepts registrations in this class's organisation",
            )
        })?;
        accounts.accounts.push(files::Account {
            identity_seed,
            id_number: duxue_media::identity(identity_seed).id_number,
            password,
            class_id: class.class_id.clone(),
        });
    }
    files::write_new(
        &plan.out,
        "# Learner accounts for `duxue spot-check --accounts` (passwords: keep this file private)",
        &accounts,
    )
    .map_err(|e| {
        CannotRun::new(
            format!("cannot write {}: {e}", plan.out.display()),
            "choose a writable --out",
        )
    })?;
    Ok(accounts.accounts.len())
}

/// Writes the reference platform's production supervisor accounts in the `--supervisor` format.
pub fn write_production_supervisors(
    path: &std::path::Path,
    seed: &duxue_platform::domain::production::ProductionSeed,
) -> Result<(), CannotRun> {
    let file = SupervisorFile {
        supervisors: seed
            .supervisors
            .iter()
            .map(|s| SupervisorAccount {
                username: s.username.clone(),
                password: s.password.clone(),
                kind: Some(s.kind),
                organisation_id: s.organisation_id.clone(),
                organisation_name: s.organisation_name.clone(),
            })
            .collect(),
    };
    files::write_new(
        path,
        "# Supervisor accounts of the reference platform's production side, for `duxue \
         spot-check --supervisor` (passwords: keep this file private)",
        &file,
    )
    .map_err(|e| {
        CannotRun::new(
            format!(
                "cannot write the supervisor accounts to {}: {e}",
                path.display()
            ),
            "pass --supervisor-file with a new file in a writable folder",
        )
    })
}

const SUPERVISOR_TAG: &str = "supervisor";

fn account_tag(index: usize) -> String {
    format!("account-{:02}", index + 1)
}

fn progress_line(enabled: bool, duration: Duration) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(duration.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} s of the spot check",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    let ticking = bar.clone();
    tokio::spawn(async move {
        while !ticking.is_finished() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            ticking.inc(1);
        }
    });
    bar
}

/// The journal tags a requirement's evidence lies under.
fn evidence_for(
    id: &str,
    journal: &Journal,
    o: &Observations,
    accounts: usize,
) -> Vec<EvidenceRef> {
    if !judge::JUDGED.contains(&id) || id == "SC-1" {
        return Vec::new();
    }
    let mut tags = BTreeSet::new();
    if id.starts_with("SV") || id == "BC-3" {
        tags.insert(SUPERVISOR_TAG.to_owned());
    }
    let wanted = |s: &Sitting| match id {
        "PB-1" => matches!(s, Sitting::Seek { .. } | Sitting::Honest),
        "PB-2" => matches!(s, Sitting::SpeedUp { .. }),
        "PB-3" => *s == Sitting::SecondWindow,
        "PB-4" => matches!(s, Sitting::Honest | Sitting::AutoClick { .. }),
        "BC-1" => true,
        "PB-5" => matches!(s, Sitting::Idle | Sitting::Silent { .. }),
        "BC-3" => matches!(s, Sitting::CaptureSpoof | Sitting::CaptureIgnored),
        "ID-5" => *s == Sitting::SecondDevice,
        _ => false,
    };
    for s in o.sittings.iter().filter(|s| wanted(&s.sitting)) {
        tags.insert(account_tag(s.account));
    }
    if matches!(
        id,
        "ID-3" | "ID-4" | "SC-2" | "SC-3" | "SV-2" | "SV-5" | "SV-7"
    ) {
        for index in 0..accounts {
            tags.insert(account_tag(index));
        }
    }
    tags.into_iter()
        .filter_map(|tag| {
            let stats = journal.stats(&tag);
            (stats.exchanges > 0).then(|| EvidenceRef {
                journal: JOURNAL_PATH.to_owned(),
                tag,
                first_seq: stats.first_seq,
                last_seq: stats.last_seq,
                exchanges: stats.exchanges,
            })
        })
        .collect()
}

/// Every requirement a spot check judges.
fn judge_all(ctx: &ProbeContext, o: &Observations, reached: Option<IpAddr>) -> Vec<Outcome> {
    vec![
        judge::login_trials("ID-3", o),
        judge::login_trials("ID-4", o),
        judge::id5(o),
        judge::pb1(ctx, o),
        judge::pb2(o),
        judge::pb3(o),
        judge::pb4(ctx, o),
        judge::pb5(ctx, o),
        judge::bc1(ctx, o),
        judge::bc3(ctx, o),
        judge::sv2(ctx, o),
        judge::sv3(o),
        judge::sv5(o),
        judge::sv7(ctx, o),
        judge::sc1(&ctx.target_url, reached),
        judge::expectations(
            "SC-2",
            &o.tokens,
            "no token trial was made within the duration",
        ),
        judge::expectations(
            "SC-3",
            &o.isolation,
            "no isolation trial was made within the duration",
        ),
    ]
}

/// One account's day on the platform.
struct Day {
    road: RoadLearner,
    start_after: f64,
    first_login: Vec<road::LoginTrial>,
    steps: Vec<Step>,
    rng: rand_chacha::ChaCha8Rng,
    shared: Arc<Shared>,
}

impl Day {
    async fn run(mut self) -> RoadLearner {
        if let Err(e) = self.live().await {
            let index = self.road.index;
            self.shared
                .observe(|o| o.errors.push(format!("account {}: {e}", index + 1)));
        }
        self.road
    }

    async fn pause(&self, seconds: f64) {
        let seconds = seconds.min(self.shared.left()).max(0.0);
        self.road.clock().sleep(seconds).await;
    }

    async fn live(&mut self) -> Result<(), ProbeError> {
        self.pause(self.start_after).await;
        let ttl = f64::from(
            self.shared
                .policy
                .rules
                .liveness_challenge_ttl_seconds
                .value,
        );
        let trials = self.road.log_in(&self.first_login, ttl).await?;
        let index = self.road.index;
        self.shared
            .observe(|o| o.trials.extend(trials.into_iter().map(|t| (index, t))));
        self.road.enrol().await?;
        let baseline = self.road.progress().await?.credited_seconds;
        self.register(None);
        self.shared.observe(|o| {
            o.exports.push(ExportLine {
                account: index,
                exported: None,
                exported_hours: None,
                progress: 0.0,
                baseline,
                creditable: 0.0,
                slack: 0.0,
            })
        });
        for step in std::mem::take(&mut self.steps) {
            if self.shared.left() < 60.0 {
                break;
            }
            match step {
                Step::Pause(seconds) => self.pause(seconds).await,
                Step::Sit(sitting) => {
                    let budget = self.budget(&sitting).min(self.shared.left());
                    let Some(record) = self.road.sit(&sitting, budget).await? else {
                        // Nothing left to study: the course is done.
                        break;
                    };
                    let playback = record.log.playback.as_ref().map(|p| p.playback_id.clone());
                    self.register(playback);
                    self.shared.observe(|o| {
                        if let Some(line) = o.exports.iter_mut().find(|l| l.account == index) {
                            line.creditable += record.ledger;
                            line.slack += record.slack;
                        }
                        o.sittings.push(record)
                    });
                }
                Step::Interlude(interlude) => self.interlude(interlude).await?,
            }
        }
        Ok(())
    }

    /// Records the account's learner id, enrolment and last playback for isolation trials.
    fn register(&self, playback: Option<String>) {
        let (Some(learner), Ok(enrolment)) = (self.road.learner_id(), self.road.enrolment_id())
        else {
            return;
        };
        let mut registry = self
            .shared
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entry = registry
            .entry(self.road.index)
            .or_insert_with(|| Registered {
                learner_id: learner.to_owned(),
                enrolment_id: enrolment.to_owned(),
                playback: None,
            });
        if playback.is_some() {
            entry.playback = playback;
        }
    }

    /// Platform seconds a sitting of this kind is given.
    fn budget(&mut self, sitting: &Sitting) -> f64 {
        let rules = &self.shared.policy.rules;
        let popup_gap = f64::from(rules.popup_max_gap_seconds.value);
        let popup_window = f64::from(rules.popup_answer_window_seconds.value);
        match *sitting {
            Sitting::Honest => self.rng.random_range(900.0..2_700.0),
            Sitting::Seek { after, .. } => after + self.rng.random_range(240.0..420.0),
            Sitting::SpeedUp { .. } => self.rng.random_range(240.0..480.0),
            Sitting::SecondWindow | Sitting::SecondDevice => self.rng.random_range(480.0..900.0),
            Sitting::Idle => popup_gap + popup_window + self.rng.random_range(90.0..240.0),
            Sitting::Silent { after, length } => {
                after + length + self.rng.random_range(90.0..240.0)
            }
            Sitting::AutoClick { .. } => self.rng.random_range(600.0..1_200.0),
            // A capture comes somewhere in the class hour: the road plays on until the first
            // class hour whose capture is still ahead is through (`RoadLearner::sit`).
            Sitting::CaptureSpoof | Sitting::CaptureIgnored => f64::INFINITY,
        }
    }

    async fn interlude(&mut self, interlude: Interlude) -> Result<(), ProbeError> {
        let index = self.road.index;
        match interlude {
            Interlude::Relogin => {
                let old = self.road.log_out().await?;
                let answer = self.road.client().get_me(&old).await;
                let sample = refusable("a logged-out token (getMe)", answer);
                self.shared.observe(|o| o.tokens.push(sample));
                let away = self.rng.random_range(20.0..120.0);
                self.pause(away).await;
                let ttl = f64::from(
                    self.shared
                        .policy
                        .rules
                        .liveness_challenge_ttl_seconds
                        .value,
                );
                let trials = self.road.log_in(&[], ttl).await?;
                self.shared
                    .observe(|o| o.trials.extend(trials.into_iter().map(|t| (index, t))));
            }
            Interlude::ForgedTokens => {
                let forged = forged_token(&mut self.rng);
                let enrolment = self.road.enrolment_id()?.to_owned();
                let mut samples = Vec::new();
                for (op, args) in [
                    ("getMe", vec![]),
                    ("listEnrolments", vec![]),
                    ("getProgress", vec![enrolment.as_str()]),
                ]
                .into_iter()
                .chain(
                    self.shared
                        .supervisor_probe
                        .as_deref()
                        .map(|op| (op, vec![])),
                ) {
                    let Some(op) = operation(op) else { continue };
                    for (auth, what) in [
                        (Auth::Anonymous, "no token"),
                        (Auth::Bearer(&forged), "a forged token"),
                    ] {
                        let answer = self.road.client().send_raw(op, &args, auth, None).await;
                        samples.push(status_refusal(
                            &format!(
                                "{} {} with {what}",
                                op.method.as_str().to_uppercase(),
                                op.path
                            ),
                            answer,
                        ));
                    }
                }
                self.shared.observe(|o| o.tokens.extend(samples));
            }
            Interlude::PeekAtOther => {
                let others: Vec<Registered> = self
                    .shared
                    .registry
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter(|(i, _)| **i != index)
                    .map(|(_, v)| v.clone())
                    .collect();
                let Some(Registered {
                    enrolment_id: enrolment,
                    playback,
                    ..
                }) = others.choose(&mut self.rng).cloned()
                else {
                    return Ok(());
                };
                let token = self.road.token().unwrap_or_default().to_owned();
                let client = self.road.client().clone();
                let mut samples = vec![refusable(
                    "another learner's progress, with a learner token",
                    client.get_progress(&token, &enrolment).await,
                )];
                if let Some(playback) = playback {
                    samples.push(refusable(
                        "stopping another learner's (ended) playback, with a learner token",
                        client.stop_playback(&token, &playback).await,
                    ));
                }
                self.shared.observe(|o| o.isolation.extend(samples));
            }
        }
        Ok(())
    }
}

/// A token the platform never issued, shaped like a real one (no word in it).
fn forged_token(rng: &mut rand_chacha::ChaCha8Rng) -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rng.random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A typed answer that had to be a refusal.
fn refusable<T>(what: &str, answer: Result<T, duxue_profile::ClientError>) -> Expectation {
    let (held, detail) = match answer {
        Ok(_) => (Some(false), "answered".to_owned()),
        Err(e) if e.is_refusal() => (Some(true), e.to_string()),
        Err(e) => (None, e.to_string()),
    };
    Expectation {
        check: format!("{what} is refused"),
        held,
        detail,
    }
}

/// A raw answer that had to be 401 or 403.
fn status_refusal(
    what: &str,
    answer: Result<duxue_profile::RawAnswer, duxue_profile::ClientError>,
) -> Expectation {
    let (held, detail) = match answer {
        Ok(a) => (
            Some(a.status == 401 || a.status == 403),
            format!("HTTP {}", a.status),
        ),
        Err(e) => (None, e.to_string()),
    };
    Expectation {
        check: format!("{what} is refused"),
        held,
        detail,
    }
}

/// The supervisor's dashboard: polls live status at a person's pace until the deadline, and
/// keeps what it showed of the spot check's accounts.
async fn watch(
    client: ProfileClient,
    token: String,
    shared: Arc<Shared>,
    mut rng: rand_chacha::ChaCha8Rng,
) {
    while tokio::time::Instant::now() < shared.deadline {
        let ours: BTreeSet<String> = shared
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|r| r.learner_id.clone())
            .collect();
        match client.list_learners(&token).await {
            Ok(list) => {
                let at = tokio::time::Instant::now();
                let seen: BTreeMap<String, LiveStatus> = list
                    .learners
                    .into_iter()
                    .filter(|l| ours.contains(&l.learner_id))
                    .map(|l| (l.learner_id, l.status))
                    .collect();
                shared.observe(|o| o.polls.push((at, seen)));
            }
            Err(e) => shared.observe(|o| o.errors.push(format!("live status: {e}"))),
        }
        tokio::time::sleep(Duration::from_secs_f64(rng.random_range(1.0..3.0))).await;
    }
}

/// After the day: images (SV-5), the completion export (SV-7), the states of cheated captures
/// (BC-3) and what scoped accounts and learner tokens see (SV-3).
async fn review(
    client: &ProfileClient,
    supervisors: &[Supervisor],
    monitor: &str,
    roads: &[RoadLearner],
    shared: &Shared,
) {
    let sittings: Vec<SittingRecord> = shared
        .observations
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .sittings
        .clone();
    let mut images = Vec::new();
    let mut states = BTreeMap::new();
    for road in roads {
        let Some(learner) = road.learner_id() else {
            continue;
        };
        // Liveness frames: the first frame of up to two answers this account sent.
        match client.list_liveness(monitor, learner).await {
            Ok(list) => {
                for attempt in list
                    .attempts
                    .iter()
                    .filter(|a| road.frames_sent().contains_key(&a.challenge_id))
                    .take(2)
                {
                    let sent = &road.frames_sent()[&attempt.challenge_id];
                    if let (Some(image), Some(expected)) =
                        (attempt.frame_image_ids.first(), sent.first())
                    {
                        images.push(
                            same_image(
                                client,
                                monitor,
                                &format!(
                                    "account {}: a frame of liveness answer {}",
                                    road.index + 1,
                                    attempt.challenge_id
                                ),
                                image,
                                expected,
                            )
                            .await,
                        );
                    } else if !sent.is_empty() {
                        images.push(ImageCheck {
                            what: format!(
                                "account {}: liveness answer {}",
                                road.index + 1,
                                attempt.challenge_id
                            ),
                            same: Some(false),
                            detail: "listed without its frames".into(),
                        });
                    }
                }
            }
            Err(e) => images.push(ImageCheck::unlisted(
                format!("account {}: liveness list", road.index + 1),
                &e,
            )),
        }
        let uploaded: Vec<(String, String)> = sittings
            .iter()
            .filter(|s| s.account == road.index)
            .flat_map(|s| s.log.captures())
            .filter_map(|c| Some((c.event_id.clone(), c.image_sha256.clone()?)))
            .collect();
        let cheated: BTreeSet<String> = sittings
            .iter()
            .filter(|s| s.account == road.index)
            .filter(|s| matches!(s.sitting, Sitting::CaptureSpoof | Sitting::CaptureIgnored))
            .flat_map(|s| s.log.captures().map(|c| c.event_id.clone()))
            .collect();
        if uploaded.is_empty() && cheated.is_empty() {
            continue;
        }
        match client.list_captures(monitor, learner).await {
            Ok(list) => {
                for record in &list.captures {
                    if cheated.contains(&record.event_id) {
                        states.insert(record.event_id.clone(), record.state);
                    }
                }
                for (event, expected) in uploaded.iter().take(3) {
                    let image_id = list
                        .captures
                        .iter()
                        .find(|c| &c.event_id == event)
                        .and_then(|c| c.image_id.clone());
                    match image_id {
                        Some(image) => images.push(
                            same_image(
                                client,
                                monitor,
                                &format!("account {}: capture {event}", road.index + 1),
                                &image,
                                expected,
                            )
                            .await,
                        ),
                        None => images.push(ImageCheck {
                            what: format!("account {}: capture {event}", road.index + 1),
                            same: Some(false),
                            detail: "not listed with its image".into(),
                        }),
                    }
                }
            }
            Err(e) => images.push(ImageCheck::unlisted(
                format!("account {}: capture list", road.index + 1),
                &e,
            )),
        }
    }

    // SV-7: each class's completion export against each account's progress.
    let mut lines: BTreeMap<usize, (Option<f64>, Option<u32>, f64)> = BTreeMap::new();
    let classes: BTreeSet<&str> = roads.iter().map(|r| r.account.class_id.as_str()).collect();
    for class in classes {
        let export = client.export_completion(monitor, class).await;
        for road in roads.iter().filter(|r| r.account.class_id == class) {
            let (Some(learner), Ok(progress)) = (road.learner_id(), road.progress().await) else {
                continue;
            };
            let line = export
                .as_ref()
                .ok()
                .and_then(|e| e.learners.iter().find(|l| l.learner_id == learner));
            lines.insert(
                road.index,
                (
                    line.map(|l| l.credited_seconds),
                    line.map(|l| l.class_hours),
                    progress.credited_seconds,
                ),
            );
        }
    }

    // SV-3: scoped accounts list their own and none of the others; learner tokens are no
    // supervisor's.
    let organiser: BTreeMap<String, String> = match client.list_classes(monitor).await {
        Ok(list) => list
            .classes
            .into_iter()
            .map(|c| (c.class_id, c.organiser_id))
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    let mut scope = Vec::new();
    for sup in supervisors.iter().filter(|s| {
        matches!(
            s.kind,
            SupervisorKind::Enterprise | SupervisorKind::Institution
        )
    }) {
        let Some(org) = sup.account.organisation_id.as_deref() else {
            scope.push(Expectation {
                check: format!("scoped account `{}` is judged", sup.account.username),
                held: None,
                detail: "--supervisor gives no organisation_id for it".into(),
            });
            continue;
        };
        let listed = client.list_learners(&sup.token).await;
        let ids: BTreeSet<String> = match &listed {
            Ok(list) => list.learners.iter().map(|l| l.learner_id.clone()).collect(),
            Err(e) => {
                scope.push(Expectation {
                    check: format!("`{}` lists its learners", sup.account.username),
                    held: e.is_refusal().then_some(false),
                    detail: e.to_string(),
                });
                continue;
            }
        };
        for road in roads {
            let Some(learner) = road.learner_id() else {
                continue;
            };
            let own = road.organisation_id() == Some(org)
                || organiser.get(&road.account.class_id).map(String::as_str) == Some(org);
            let shown = ids.contains(learner);
            let detail = if shown { "listed" } else { "not listed" };
            if own {
                scope.push(Expectation {
                    check: format!(
                        "account {} is listed to its own organisation's supervisor `{}`",
                        road.index + 1,
                        sup.account.username
                    ),
                    held: Some(shown),
                    detail: detail.into(),
                });
            } else {
                scope.push(Expectation {
                    check: format!(
                        "account {} (another organisation) is not listed to `{}`",
                        road.index + 1,
                        sup.account.username
                    ),
                    held: Some(!shown),
                    detail: detail.into(),
                });
                scope.push(refusable(
                    &format!(
                        "account {}'s record (another organisation), to `{}`",
                        road.index + 1,
                        sup.account.username
                    ),
                    client.get_learner(&sup.token, learner).await,
                ));
            }
        }
    }
    if let (Some(road), Some(other)) = (
        roads.iter().find(|r| r.token().is_some()),
        roads.iter().rev().find_map(|r| r.learner_id()),
    ) {
        let token = road.token().unwrap_or_default();
        scope.push(refusable(
            "the supervisor's learner list, with a learner token",
            client.list_learners(token).await,
        ));
        scope.push(refusable(
            "a learner record, with a learner token",
            client.get_learner(token, other).await,
        ));
    }

    shared.observe(|o| {
        o.images.extend(images);
        o.capture_states.extend(states);
        o.scope.extend(scope);
        for line in &mut o.exports {
            if let Some((exported, hours, progress)) = lines.get(&line.account) {
                line.exported = *exported;
                line.exported_hours = *hours;
                line.progress = *progress;
            }
        }
        o.exports.retain(|l| lines.contains_key(&l.account));
    });
}

async fn same_image(
    client: &ProfileClient,
    token: &str,
    what: &str,
    image_id: &str,
    expected: &str,
) -> ImageCheck {
    match client.get_image(token, image_id).await {
        Ok(bytes) => {
            let same = duxue_scenarios::learner::sha256(&bytes) == expected;
            ImageCheck {
                what: what.to_owned(),
                same: Some(same),
                detail: format!(
                    "{} bytes, sha256 {}",
                    bytes.len(),
                    if same { "equal" } else { "differs" }
                ),
            }
        }
        Err(e) => ImageCheck {
            what: what.to_owned(),
            same: e.is_refusal().then_some(false),
            detail: e.to_string(),
        },
    }
}

/// Logs an account of the --supervisor file in; a refusal is the file's to fix.
async fn sign_in(
    client: &duxue_profile::ProfileClient,
    account: &SupervisorAccount,
) -> Result<duxue_profile::SupervisorSession, CannotRun> {
    client
        .supervisor_login(&account.username, &account.password)
        .await
        .map_err(|e| {
            CannotRun::new(
                format!(
                    "supervisor account `{}` cannot log in: {e}",
                    account.username
                ),
                "check the username and password in --supervisor",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("60m"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2.5m"), Ok(Duration::from_secs(150)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("m").is_err());
    }
}
