//! `duxue certify`: load the policy, application and catalog, reach the target, run a probe per
//! requirement concurrently (each with its own cohort and evidence tag), judge every catalog ID,
//! and write the run folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use duxue_platform::{Defect, Variant};
use duxue_profile::{ApplicationForm, Catalog, Policy, Verdict};
use duxue_reports::model::{
    Check, EvidenceRef, RequirementResult, RunIdentity, ShardInfo, TargetInfo,
};
use duxue_reports::{Interruption, REPORT_SCHEMA, RunReport, RunVerdict};
use duxue_scenarios::rules::{self, PlaybackEvidence, Playbacks};
use duxue_scenarios::{Outcome, ProbeContext, all_probes, seeds};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::CannotRun;
use crate::interrupt;
use crate::journal::Journal;
use crate::target::{self, Target};

/// The longest a single probe may run before it is judged INCONCLUSIVE.
const PROBE_TIMEOUT: Duration = Duration::from_secs(600);
pub const JOURNAL_PATH: &str = "evidence/journal.jsonl";
/// How the reason of a requirement a run did not judge at all begins.
pub const NOT_RUN: &str = "not run:";

/// Whether the run left requirement `r` out altogether (`--only`, no population phase).
pub fn not_run(r: &duxue_reports::model::RequirementResult) -> bool {
    r.checks.is_empty() && r.evidence.is_empty() && r.reason.starts_with(NOT_RUN)
}
/// How the reason of a requirement an interrupted run had not judged yet begins.
pub const INTERRUPTED_BEFORE: &str = "interrupted:";
/// The longest an interrupted run waits for the embedded platform to shut down.
const INTERRUPTED_SHUTDOWN: Duration = Duration::from_secs(2);

/// Everything a certification run needs, resolved from the command line.
#[derive(Clone, Debug)]
pub struct CertifyPlan {
    pub target: Option<String>,
    pub token: Option<String>,
    pub application: Option<PathBuf>,
    pub policy: String,
    pub learners: u64,
    pub clock_scale: f64,
    pub seed: u64,
    /// Mixed into every synthetic person's identity (see `duxue_scenarios::seeds::person`).
    pub run_nonce: u64,
    pub out: PathBuf,
    pub defects: Vec<Defect>,
    /// Conforming variants of the embedded reference platform.
    pub variants: Vec<Variant>,
    pub only: Vec<String>,
    pub concurrency: usize,
    pub progress: bool,
    /// Print a line saying what is being certified once the target answers.
    pub announce: bool,
    /// The population phase; `None` runs the probes only (LD-1 and LD-2 INCONCLUSIVE).
    pub population: Option<PopulationOptions>,
    /// Key that signs the bundle's manifest; `None`: a per-run key (self-signed).
    pub signing_key: Option<PathBuf>,
    /// A spot check of the same platform to compare the certification with.
    pub compare: Option<PathBuf>,
    /// Request timeout, trusted roots and User-Agent for reaching the target.
    pub transport: target::Transport,
}

/// The population phase's options, from the command line.
#[derive(Clone, Debug)]
pub struct PopulationOptions {
    pub clock_scale: f64,
    pub shape: crate::population::LoadShape,
    pub mix: crate::population::Mix,
    pub client_mode: crate::population::ClientMode,
    pub shard: (u64, u64),
    /// The agreed instant the load shape starts at (`--start-at`).
    pub start_at: Option<chrono::DateTime<Utc>>,
    /// Step the population up from `learners` until a budget breaks.
    pub find_capacity: bool,
}

/// Most steps `--find-capacity` takes (doubling each time).
const CAPACITY_STEPS: u32 = 6;

/// `--find-capacity`: runs the population at `learners`, 2×, 4×, … (each step in its own
/// folder `capacity/<learners>/` and its own cohort) until LD-1 fails or the steps run out.
/// The result is the largest step that held (or the first step when none did), with every
/// step's outcome among LD-1's figures.
async fn find_capacity(
    plan: &crate::population::PopulationPlan,
    ctx: &ProbeContext,
    url: &str,
    verdicts: &BTreeMap<String, Verdict>,
) -> Result<crate::population::PopulationResult, CannotRun> {
    let mut held: Option<crate::population::PopulationResult> = None;
    let mut first_failed = None;
    let mut steps = Vec::new();
    let mut learners = plan.learners;
    for _ in 0..CAPACITY_STEPS {
        let folder = format!("capacity/{learners}");
        let step = crate::population::PopulationPlan {
            learners,
            out: plan.out.join(&folder),
            ..plan.clone()
        };
        let mut result = crate::population::run(&step, ctx, url, verdicts).await?;
        result.section.histogram_log =
            Some(format!("{folder}/{}", crate::population::HISTOGRAM_LOG));
        let verdict = result.load.verdict;
        eprintln!(
            "  capacity: {learners} learners: LD-1 {} ({})",
            verdict.as_str(),
            truncate(&result.load.reason, 80)
        );
        steps.push(serde_json::json!({"learners": learners, "ld1": verdict.as_str(), "reason": result.load.reason}));
        if verdict == Verdict::Pass {
            held = Some(result);
            learners = learners.saturating_mul(2);
        } else {
            first_failed = Some(result);
            break;
        }
    }
    let capacity = held.as_ref().map(|r| r.section.learners_peak);
    let mut result = match (held, first_failed) {
        (Some(held), _) => held,
        (None, Some(failed)) => failed,
        (None, None) => unreachable!("at least one capacity step runs"),
    };
    let figures = &mut result.load.figures;
    figures.insert("capacity_steps".into(), serde_json::Value::from(steps));
    figures.insert(
        "capacity_learners".into(),
        capacity.map_or(serde_json::Value::Null, serde_json::Value::from),
    );
    Ok(result)
}

/// Loaded inputs shared by certify and calibrate.
pub struct Inputs {
    pub policy: Arc<Policy>,
    pub application: Arc<ApplicationForm>,
    pub catalog: Catalog,
}

pub fn load_inputs(policy: &str, application: Option<&Path>) -> Result<Inputs, CannotRun> {
    let policy = Policy::resolve(policy).map_err(|e| {
        CannotRun::new(
            format!("bad policy: {e}"),
            "fix the file or pass --policy xuchang-2022",
        )
    })?;
    let application = match application {
        Some(path) => ApplicationForm::load(path),
        None => ApplicationForm::reference(),
    }
    .map_err(|e| {
        CannotRun::new(
            format!("bad application form: {e}"),
            "fix the file (附件2 fields, see profile/applications/reference.toml)",
        )
    })?;
    let catalog = Catalog::builtin()
        .map_err(|e| CannotRun::new(format!("bad catalog: {e}"), "reinstall duxue"))?;
    Ok(Inputs {
        policy: Arc::new(policy),
        application: Arc::new(application),
        catalog,
    })
}

/// Checks an output folder can take a new run without overwriting one.
pub fn prepare_out(out: &Path) -> Result<(), CannotRun> {
    if out.join("report.json").exists() || out.join(JOURNAL_PATH).exists() {
        return Err(CannotRun::new(
            format!("{} already holds a run", out.display()),
            "choose another --out (runs are never overwritten)",
        ));
    }
    std::fs::create_dir_all(out.join("evidence")).map_err(|e| {
        CannotRun::new(
            format!("cannot create {}: {e}", out.display()),
            "choose a writable --out",
        )
    })
}

/// Runs a certification and writes the run folder; returns the report.
pub async fn certify(plan: &CertifyPlan) -> Result<RunReport, CannotRun> {
    let started_at = Utc::now();
    let started = Instant::now();
    if !(plan.clock_scale.is_finite() && plan.clock_scale > 0.0 && plan.clock_scale <= 10_000.0) {
        return Err(CannotRun::new(
            format!("--clock-scale {} is out of range", plan.clock_scale),
            "use a value between 1 and 10000",
        ));
    }
    let inputs = load_inputs(&plan.policy, plan.application.as_deref())?;
    for id in &plan.only {
        if inputs.catalog.get(id).is_none() {
            return Err(CannotRun::new(
                format!("--only names `{id}`, which is not in the catalog"),
                "use IDs such as ID-1, PB-4, SC-2",
            ));
        }
    }
    if let Some(path) = &plan.signing_key {
        duxue_reports::read_signing_key(path).map_err(|e| {
            CannotRun::new(
                format!("bad --signing-key: {e}"),
                "give a key written by `duxue report keygen FILE`",
            )
        })?;
    }
    let spot_check = match &plan.compare {
        Some(dir) => Some(crate::compare::read_sealed(
            dir,
            duxue_reports::model::RunMode::SpotCheck,
        )?),
        None => None,
    };
    prepare_out(&plan.out)?;

    let target = reach_target(plan, &inputs).await?;
    if plan.announce {
        eprintln!(
            "duxue certify: {} ({}), policy {}, seed {} (run nonce {}), clock ×{}, output {}",
            target.meta.platform_name,
            target.url,
            inputs.policy.id,
            plan.seed,
            plan.run_nonce,
            plan.clock_scale,
            plan.out.display()
        );
    }
    let result = run_probes(plan, &inputs, &target, started_at, started).await;
    if result.as_ref().is_ok_and(|r| r.interrupted.is_some()) {
        // Stopping was asked for: what the platform still has to flush is its business.
        let _ = tokio::time::timeout(INTERRUPTED_SHUTDOWN, target.shutdown()).await;
    } else {
        target.shutdown().await;
    }
    let mut report = result?;
    // An interrupted certification proves nothing to compare; its partial report is kept.
    if let Some(spot) = spot_check.as_ref().filter(|_| report.interrupted.is_none()) {
        report = crate::compare::attach(&report, spot, &plan.out)?;
    }
    write_report(&plan.out, &report, plan.signing_key.as_deref())?;
    Ok(report)
}

async fn reach_target(plan: &CertifyPlan, inputs: &Inputs) -> Result<Target, CannotRun> {
    match &plan.target {
        Some(url) => {
            if !plan.defects.is_empty() {
                return Err(CannotRun::new(
                    "--defect applies to the bundled reference platform only",
                    "drop --defect or drop --target",
                ));
            }
            if !plan.variants.is_empty() {
                return Err(CannotRun::new(
                    "--variant applies to the bundled reference platform only",
                    "drop --variant or drop --target",
                ));
            }
            let (_, meta) = target::connect(url, plan.token.clone(), &plan.transport).await?;
            if plan.token.is_none() {
                return Err(CannotRun::new(
                    "no conformance token for the target",
                    "pass --token (or DUXUE_CONFORMANCE_TOKEN) of the platform's conformance tenant",
                ));
            }
            Ok(Target {
                url: duxue_profile::base_url(url).to_owned(),
                conformance_token: plan.token.clone(),
                meta,
                embedded: None,
            })
        }
        None => {
            let (url, token, embedded) = target::start_embedded(
                &inputs.policy,
                &inputs.application,
                plan.defects.clone(),
                plan.variants.clone(),
                plan.seed,
            )
            .await?;
            let (_, meta) = target::connect(&url, Some(token.clone()), &plan.transport).await?;
            Ok(Target {
                url,
                conformance_token: Some(token),
                meta,
                embedded: Some(embedded),
            })
        }
    }
}

async fn run_probes(
    plan: &CertifyPlan,
    inputs: &Inputs,
    target: &Target,
    started_at: chrono::DateTime<Utc>,
    started: Instant,
) -> Result<RunReport, CannotRun> {
    let secrets: Vec<String> = target.conformance_token.iter().cloned().collect();
    let journal = Journal::create(&plan.out.join(JOURNAL_PATH), secrets).map_err(|e| {
        CannotRun::new(
            format!("cannot write the evidence journal: {e}"),
            "choose a writable --out",
        )
    })?;
    let run = RunContext {
        plan,
        inputs,
        target,
        journal: &journal,
        started_at,
        started,
    };
    let mut outcomes: BTreeMap<String, (Outcome, Duration)> = BTreeMap::new();
    run.save_partial(&outcomes)?;
    let (client, _) = target::connect(
        &target.url,
        target.conformance_token.clone(),
        &plan.transport,
    )
    .await?;

    let probes: Vec<_> = all_probes()
        .into_iter()
        .filter(|p| plan.only.is_empty() || plan.only.iter().any(|id| id == p.id))
        .collect();
    let progress = progress_bar(plan.progress, probes.len() as u64);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(plan.concurrency.max(1)));
    let playbacks = Arc::new(Playbacks::default());
    let mut tasks = Vec::new();
    for probe in probes {
        let ctx = ProbeContext {
            client: client.observed(journal.tagged(probe.id)),
            policy: inputs.policy.clone(),
            application: inputs.application.clone(),
            clock_scale: plan.clock_scale,
            seed: seeds::named(plan.seed, probe.id),
            run_nonce: plan.run_nonce,
            target_url: target.url.clone(),
            playbacks: playbacks.clone(),
        };
        let semaphore = semaphore.clone();
        let progress = progress.clone();
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let began = Instant::now();
            progress.set_message(format!("running {}", probe.id));
            let outcome = match tokio::time::timeout(PROBE_TIMEOUT, (probe.run)(ctx)).await {
                Ok(outcome) => outcome,
                Err(_) => Outcome::decided(
                    probe.id,
                    Verdict::Inconclusive,
                    format!(
                        "the probe did not finish within {} s",
                        PROBE_TIMEOUT.as_secs()
                    ),
                ),
            };
            let stats = journal.stats(probe.id);
            let outcome = outcome.with_unreadable_answers(
                stats.unreadable,
                stats.exchanges,
                stats.first_unreadable.as_deref().unwrap_or(""),
            );
            progress.inc(1);
            progress.println(format!(
                "  {:<5} {:<12} {}",
                probe.id,
                outcome.verdict.as_str(),
                truncate(&outcome.reason, 90)
            ));
            (outcome, began.elapsed())
        }));
    }
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let mut stream = futures::stream::iter(tasks).buffer_unordered(usize::MAX);
    let mut interrupted = None;
    loop {
        let joined = tokio::select! {
            joined = stream.next() => joined,
            cause = interrupt::requested() => {
                interrupted = Some(cause);
                break;
            }
        };
        match joined {
            None => break,
            Some(Ok((outcome, took))) => {
                outcomes.insert(outcome.requirement.to_owned(), (outcome, took));
                run.save_partial(&outcomes)?;
            }
            Some(Err(e)) => tracing::error!("a probe task failed: {e}"),
        }
    }
    progress.finish_and_clear();
    judge_every_playback(
        &mut outcomes,
        &inputs.policy,
        &playbacks.all(),
        plan.progress,
    );

    let mut population = None;
    let mut shard = None;
    if let Some(options) = plan
        .population
        .as_ref()
        .filter(|_| plan.learners > 0 && interrupted.is_none())
    {
        let began = Instant::now();
        let verdicts = outcomes
            .iter()
            .map(|(id, (o, _))| (id.clone(), o.verdict))
            .collect();
        let ctx = ProbeContext {
            client: client.observed(journal.tagged("population")),
            policy: inputs.policy.clone(),
            application: inputs.application.clone(),
            clock_scale: plan.clock_scale,
            seed: seeds::named(plan.seed, "population"),
            run_nonce: plan.run_nonce,
            target_url: target.url.clone(),
            // The population's playbacks are judged under load, by LD-2.
            playbacks: Arc::default(),
        };
        let population_plan = crate::population::PopulationPlan {
            learners: plan.learners,
            clock_scale: options.clock_scale,
            shape: options.shape,
            mix: options.mix.clone(),
            client_mode: options.client_mode,
            shard: options.shard,
            start_at: options.start_at,
            progress: plan.progress,
            out: plan.out.clone(),
        };
        let phase = async {
            if options.find_capacity {
                find_capacity(&population_plan, &ctx, &target.url, &verdicts).await
            } else {
                crate::population::run(&population_plan, &ctx, &target.url, &verdicts).await
            }
        };
        let result = tokio::select! {
            result = phase => Some(result?),
            cause = interrupt::requested() => {
                interrupted = Some(cause);
                None
            }
        };
        if let Some(result) = result {
            let took = began.elapsed();
            for outcome in [result.load, result.controls] {
                if plan.progress {
                    eprintln!(
                        "  {:<5} {:<12} {}",
                        outcome.requirement,
                        outcome.verdict.as_str(),
                        truncate(&outcome.reason, 90)
                    );
                }
                outcomes.insert(outcome.requirement.to_owned(), (outcome, took));
            }
            if options.shard.1 > 1 || options.start_at.is_some() {
                shard = Some(ShardInfo {
                    index: options.shard.0,
                    count: options.shard.1,
                    start_at: options.start_at,
                    start: result.start,
                });
            }
            population = Some(result.section);
        }
    }
    if interrupted.is_some() {
        aborts.iter().for_each(|a| a.abort());
        journal.close();
    }
    journal.flush().map_err(|e| {
        CannotRun::new(
            format!("cannot write the evidence journal: {e}"),
            "check free disk space",
        )
    })?;
    write_labels(&plan.out, &journal)?;
    let interruption = interrupted.map(|cause| Interruption {
        cause: cause.to_owned(),
        at: Utc::now(),
        torn_journal_lines: 0,
    });
    Ok(run.assemble(outcomes, population, interruption, shard))
}

/// Where the run keeps what each name it sent was for (the names themselves say nothing).
pub const LABELS_PATH: &str = "evidence/labels.json";

/// Writes `evidence/labels.json`: per probe, the cohorts, organisations, courses and classes
/// it created, by the names and ids the target saw.
fn write_labels(out: &Path, journal: &Journal) -> Result<(), CannotRun> {
    let labels = serde_json::json!({
        "schema": "duxue.labels/v1",
        "note": "what the harness created for each probe, by the names it sent; names are drawn at random per run and never say what they are for",
        "probes": journal.names(),
    });
    let bytes = serde_json::to_vec_pretty(&labels).map_err(|e| {
        CannotRun::new(
            format!("cannot encode {LABELS_PATH}: {e}"),
            "report this as a bug",
        )
    })?;
    std::fs::write(out.join(LABELS_PATH), bytes).map_err(|e| {
        CannotRun::new(
            format!("cannot write {LABELS_PATH}: {e}"),
            "check free disk space",
        )
    })
}

/// What a run's report is made of besides the outcomes.
struct RunContext<'a> {
    plan: &'a CertifyPlan,
    inputs: &'a Inputs,
    target: &'a Target,
    journal: &'a Arc<Journal>,
    started_at: chrono::DateTime<Utc>,
    started: Instant,
}

impl RunContext<'_> {
    /// Writes `report.json` as it stands (verdict INTERRUPTED, cause unknown): a run that dies
    /// from here on leaves a report of what it had judged, which `duxue report render` brings
    /// up to date with the journal and seals.
    fn save_partial(
        &self,
        outcomes: &BTreeMap<String, (Outcome, Duration)>,
    ) -> Result<(), CannotRun> {
        let report = self.assemble(
            outcomes.clone(),
            None,
            Some(Interruption {
                cause: Interruption::UNKNOWN.to_owned(),
                at: Utc::now(),
                torn_journal_lines: 0,
            }),
            None,
        );
        duxue_reports::write_report_json(&self.plan.out, &report).map_err(|e| {
            CannotRun::new(
                format!("cannot write the partial report: {e}"),
                "check free disk space",
            )
        })
    }

    /// The report of the run; with `interrupted`, marked INTERRUPTED whatever was judged.
    fn assemble(
        &self,
        outcomes: BTreeMap<String, (Outcome, Duration)>,
        population: Option<duxue_reports::model::PopulationReport>,
        interrupted: Option<Interruption>,
        shard: Option<ShardInfo>,
    ) -> RunReport {
        let (plan, inputs, target) = (self.plan, self.inputs, self.target);
        let requirements =
            judge_catalog(plan, inputs, self.journal, outcomes, interrupted.is_some());
        let info = RunInfo {
            started_at: self.started_at,
            started: self.started,
            seed: plan.seed,
            run_nonce: plan.run_nonce,
            clock_scale: plan.clock_scale,
            learners: plan.learners,
            url: target.url.clone(),
            embedded: target.embedded.is_some(),
            defects: target
                .embedded
                .as_ref()
                .map(|e| e.defects.iter().map(|d| d.name().to_owned()).collect())
                .unwrap_or_default(),
            variants: target
                .embedded
                .as_ref()
                .map(|e| e.variants.iter().map(|v| v.name().to_owned()).collect())
                .unwrap_or_default(),
            meta: &target.meta,
            inputs,
            requests: self.journal.total(),
            shard,
        };
        assemble(info, requirements, population, interrupted)
    }
}

/// What a run's identity is made of, besides its verdicts.
pub struct RunInfo<'a> {
    pub started_at: chrono::DateTime<Utc>,
    pub started: Instant,
    pub seed: u64,
    pub run_nonce: u64,
    pub clock_scale: f64,
    pub learners: u64,
    pub url: String,
    pub embedded: bool,
    pub defects: Vec<String>,
    pub variants: Vec<String>,
    pub meta: &'a duxue_profile::PlatformMeta,
    pub inputs: &'a Inputs,
    pub requests: u64,
    /// The shard's index, agreed start and skew, when the run is one of several.
    pub shard: Option<ShardInfo>,
}

/// The report of a run: its identity, verdict and counts around the requirements; with
/// `interrupted`, marked INTERRUPTED whatever was judged.
pub fn assemble(
    info: RunInfo<'_>,
    requirements: Vec<RequirementResult>,
    population: Option<duxue_reports::model::PopulationReport>,
    interrupted: Option<Interruption>,
) -> RunReport {
    let inputs = info.inputs;
    RunReport {
        schema: REPORT_SCHEMA.to_owned(),
        mode: Default::default(),
        verdict: if interrupted.is_some() {
            RunVerdict::Interrupted
        } else {
            RunReport::decide(&requirements)
        },
        counts: RunReport::count(&requirements),
        run: RunIdentity {
            run_id: format!(
                "{}-{:016x}",
                info.started_at.format("%Y%m%dT%H%M%SZ"),
                info.seed
            ),
            started_at: info.started_at,
            finished_at: Utc::now(),
            wall_seconds: (info.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            seed: info.seed,
            run_nonce: info.run_nonce,
            clock_scale: info.clock_scale,
            learners: info.learners,
            target: TargetInfo {
                url: info.url,
                embedded: info.embedded,
                platform_name: info.meta.platform_name.clone(),
                operator: info.meta.operator.clone(),
                profile_version: info.meta.profile_version.clone(),
                defects: info.defects,
                variants: info.variants,
            },
            harness_version: env!("CARGO_PKG_VERSION").to_owned(),
            profile_version: duxue_profile::PROFILE_VERSION.to_owned(),
            catalog_version: inputs.catalog.catalog_version.clone(),
            catalog_sha256: inputs.catalog.sha256.clone(),
            policy_id: inputs.policy.id.clone(),
            policy_sha256: inputs.policy.sha256.clone(),
            application: serde_json::to_value(&*inputs.application).unwrap_or_default(),
            requests: info.requests,
            evidence_journal: JOURNAL_PATH.to_owned(),
            shard: info.shard,
            merged: None,
        },
        requirements,
        population,
        comparison: None,
        interrupted,
    }
}

/// The rules every playback keeps, judged on every playback the probes made: popup gaps
/// (PB-4) and captures per class hour (BC-1), added to those requirements' own outcomes.
fn judge_every_playback(
    outcomes: &mut BTreeMap<String, (Outcome, Duration)>,
    policy: &Policy,
    playbacks: &[PlaybackEvidence],
    progress: bool,
) {
    let rules: [(&str, RuleOverRun); 2] = [
        ("PB-4", rules::every_playback_popup_gaps),
        ("BC-1", rules::every_playback_captures),
    ];
    for (id, judge) in rules {
        let Some((outcome, took)) = outcomes.remove(id) else {
            continue;
        };
        let before = outcome.verdict;
        let outcome = judge(outcome, policy, playbacks);
        if progress && outcome.verdict != before {
            eprintln!(
                "  {id:<5} {:<12} {} (over every playback of the run)",
                outcome.verdict.as_str(),
                truncate(&outcome.reason, 70)
            );
        }
        outcomes.insert(id.to_owned(), (outcome, took));
    }
}

type RuleOverRun = fn(Outcome, &Policy, &[PlaybackEvidence]) -> Outcome;

/// One result per catalog ID, in catalog order; IDs without an outcome are INCONCLUSIVE or
/// SKIPPED with the reason.
fn judge_catalog(
    plan: &CertifyPlan,
    inputs: &Inputs,
    journal: &Journal,
    mut outcomes: BTreeMap<String, (Outcome, Duration)>,
    interrupted: bool,
) -> Vec<RequirementResult> {
    let population_planned = plan.population.is_some() && plan.learners > 0;
    inputs
        .catalog
        .requirements
        .iter()
        .map(|req| {
            let selected = plan.only.is_empty() || plan.only.contains(&req.id);
            let (outcome, took) = match outcomes.remove(&req.id) {
                Some(found) => found,
                None => {
                    let (verdict, reason) = if interrupted
                        && (if req.area == "load" { population_planned } else { selected })
                    {
                        (
                            Verdict::Inconclusive,
                            format!("{INTERRUPTED_BEFORE} the run stopped before this requirement was judged"),
                        )
                    } else if req.area == "load" {
                        (
                            Verdict::Inconclusive,
                            format!("{NOT_RUN} no population phase in this run (--learners 0)"),
                        )
                    } else if !plan.only.is_empty() && !plan.only.contains(&req.id) {
                        // Not judged is not met: a partial run is never CERTIFIED.
                        (
                            Verdict::Inconclusive,
                            format!("{NOT_RUN} not selected by --only"),
                        )
                    } else {
                        (
                            Verdict::Inconclusive,
                            "no probe ran for this requirement".to_owned(),
                        )
                    };
                    (Outcome::decided("", verdict, reason), Duration::ZERO)
                }
            };
            let stats = journal.stats(&req.id);
            let evidence = if stats.exchanges > 0 {
                vec![EvidenceRef {
                    journal: JOURNAL_PATH.to_owned(),
                    tag: req.id.clone(),
                    first_seq: stats.first_seq,
                    last_seq: stats.last_seq,
                    exchanges: stats.exchanges,
                }]
            } else {
                Vec::new()
            };
            requirement_result(req, outcome, took, evidence)
        })
        .collect()
}

/// A catalog requirement's entry in the report, from the outcome that judged it.
pub fn requirement_result(
    req: &duxue_profile::Requirement,
    outcome: Outcome,
    took: Duration,
    evidence: Vec<EvidenceRef>,
) -> RequirementResult {
    RequirementResult {
        id: req.id.clone(),
        area: req.area.clone(),
        source: req.source.clone(),
        text_zh: req.text_zh.clone(),
        text_en: req.text_en.clone(),
        mandatory: req.mandatory,
        verdict: outcome.verdict,
        reason: outcome.reason,
        figures: outcome.figures,
        checks: outcome
            .checks
            .into_iter()
            .map(|c| Check {
                name: c.name,
                passed: c.passed,
                detail: c.detail,
            })
            .collect(),
        evidence,
        wall_seconds: (took.as_secs_f64() * 10.0).round() / 10.0,
    }
}

/// Writes `report.json`, renders the report files from it and seals the folder (manifest of
/// every file's SHA-256, signed with `signing_key` or a per-run key).
pub fn write_report(
    out: &Path,
    report: &RunReport,
    signing_key: Option<&Path>,
) -> Result<(), CannotRun> {
    duxue_reports::write_report_json(out, report).map_err(|e| {
        CannotRun::new(
            format!("cannot write report.json: {e}"),
            "check free disk space",
        )
    })?;
    let key = match signing_key {
        Some(path) => duxue_reports::SigningKeySource::File(path.to_owned()),
        None => duxue_reports::SigningKeySource::Ephemeral,
    };
    duxue_reports::seal_run(out, key).map_err(|e| {
        CannotRun::new(
            format!("cannot render or seal the report: {e}"),
            "check free disk space; report it if it persists",
        )
    })?;
    Ok(())
}

fn progress_bar(enabled: bool, length: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} probes  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// The one-screen summary printed at the end of a run.
pub fn print_summary(report: &RunReport, out: &Path) {
    println!();
    for r in &report.requirements {
        println!(
            "{:<5} {:<12} {}",
            r.id,
            r.verdict.as_str(),
            truncate(&r.reason, 100)
        );
    }
    println!();
    println!(
        "{} — {}",
        report.verdict.as_str(),
        duxue_reports::summary::counts_line(report, ", ")
    );
    println!(
        "{} requests in {:.1} s; report: {}",
        report.run.requests,
        report.run.wall_seconds,
        out.join("summary.md").display()
    );
}
