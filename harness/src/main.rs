//! `duxue`: the command line. Errors that stop a run print one line with what to do and exit 2;
//! a finished run exits 0 (CERTIFIED / CALIBRATED) or 1.

mod calibrate;
mod certify;
mod cli;
mod compare;
mod error;
mod interrupt;
mod journal;
mod merge;
mod population;
mod spot_check;
mod start;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cli::{
    CalibrateArgs, CertifyArgs, Cli, Command, MediaCommand, PlatformCommand, RegisterAccountsArgs,
    ReportCommand, ServeArgs, SpotCheckArgs,
};
use duxue_profile::{ApplicationForm, Policy};
use duxue_reports::RunVerdict;
use error::CannotRun;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!(
                "{} — run `duxue --help` (or `duxue <command> --help`) for usage",
                first.trim()
            );
            return ExitCode::from(2);
        }
    };
    let mut filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // The certificate verifier logs each failure itself; the harness reports it in its one
    // line (`--log rustls_platform_verifier=error` shows it again).
    if !cli.log.contains("rustls_platform_verifier")
        && let Ok(quiet) = "rustls_platform_verifier=off".parse()
    {
        filter = filter.add_directive(quiet);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    keep_freed_memory();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> Result<ExitCode, CannotRun> {
    match command {
        Command::Certify(args) => certify_command(args).await,
        Command::Calibrate(args) => calibrate_command(args).await,
        Command::Merge(args) => {
            let report = merge::merge(&merge::MergePlan {
                dirs: &args.dirs,
                out: &args.out,
                policy: &args.policy,
                public_key: args.public_key.as_deref(),
                signing_key: args.signing_key.as_deref(),
            })?;
            certify::print_summary(&report, &args.out);
            if let Some(m) = &report.run.merged {
                println!(
                    "merged {} shards: largest start skew {} s, start spread {} s (a merge accepts up to {} s)",
                    m.shards.len(),
                    m.largest_start_skew_s,
                    m.start_spread_s,
                    m.start_spread_bound_s
                );
            }
            Ok(verdict_exit(&report, &args.out))
        }
        Command::SpotCheck(args) => spot_check_command(args).await,
        Command::RegisterAccounts(args) => register_accounts_command(args).await,
        Command::Platform(PlatformCommand::Serve(args)) => serve(*args).await,
        Command::Platform(PlatformCommand::Defects) => {
            target::manifest()?;
            for defect in duxue_platform::Defect::ALL {
                let breaks = defect.breaks().join(",");
                println!(
                    "{:<30} breaks {:<12} {}",
                    defect.name(),
                    if breaks.is_empty() {
                        // A defeat device: certify must not see it (its spot_check_fails).
                        "-"
                    } else {
                        &breaks
                    },
                    defect.description()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Platform(PlatformCommand::Variants) => {
            target::manifest()?;
            for variant in duxue_platform::Variant::ALL {
                println!("{:<24} {}", variant.name(), variant.description());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Media(MediaCommand::Generate {
            out,
            per_class,
            seed,
        }) => {
            let manifest = duxue_media::write_labelled_set(&out, per_class, seed).map_err(|e| {
                CannotRun::new(
                    format!("cannot write the media set: {e}"),
                    "choose a writable --out",
                )
            })?;
            println!(
                "wrote {} files and manifest.json to {}",
                manifest.entries.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Media(MediaCommand::Identity { seed, out }) => {
            let person = duxue_media::write_identity(&out, seed).map_err(|e| {
                CannotRun::new(
                    format!("cannot write the identity: {e}"),
                    "choose a writable --out",
                )
            })?;
            println!(
                "{} {} (phone {}): {}, {} and identity.json in {}; register with these and put \
                 identity_seed = {seed} in the spot check's --accounts file",
                person.name,
                person.id_number,
                person.phone,
                person.face_image,
                person.id_card_image,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Media(MediaCommand::Score { set, decisions }) => media_score(&set, &decisions),
        Command::Report(command) => report_command(command),
    }
}

/// `duxue media score`: a vendor's decisions on a generated set, scored against its labels.
fn media_score(set: &std::path::Path, decisions: &std::path::Path) -> Result<ExitCode, CannotRun> {
    let manifest_path = set.join("manifest.json");
    let manifest: duxue_media::Manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        .map_err(|e| {
            CannotRun::new(
                format!("cannot read {}: {e}", manifest_path.display()),
                "give --set the folder written by `duxue media generate`",
            )
        })?;
    let text = std::fs::read_to_string(decisions).map_err(|e| {
        CannotRun::new(
            format!("cannot read {}: {e}", decisions.display()),
            "give --decisions your engine's CSV of `presentation,decision` lines",
        )
    })?;
    let decided = duxue_media::score::read_decisions(&manifest, &text).map_err(|e| {
        CannotRun::new(
            format!("{}: {e}", decisions.display()),
            "write one `presentation,decision` line (accept or refuse) for every face, capture and liveness presentation of manifest.json",
        )
    })?;
    let score = duxue_media::score::score(&manifest, &decided);
    println!(
        "duxue media score: set {} (seed {}, {} per class), {} decisions from {}",
        set.display(),
        manifest.seed,
        manifest.per_class,
        decided.len(),
        decisions.display()
    );
    print!("{}", score.table());
    Ok(ExitCode::SUCCESS)
}

/// `duxue report render|verify|keygen`.
fn report_command(command: ReportCommand) -> Result<ExitCode, CannotRun> {
    match command {
        ReportCommand::Render { dir, signing_key } => {
            let key = match signing_key {
                Some(path) => duxue_reports::SigningKeySource::File(path),
                None => duxue_reports::SigningKeySource::Ephemeral,
            };
            let sealed = duxue_reports::seal_run(&dir, key).map_err(|e| match e {
                duxue_reports::SealError::Key(e) => CannotRun::new(
                    e.to_string(),
                    "give --signing-key a key file from `duxue report keygen FILE`",
                ),
                e => CannotRun::new(
                    e.to_string(),
                    "give a run folder written by `duxue certify`",
                ),
            })?;
            println!(
                "{}: {} (report.html, summary.md, junit.xml rendered; {} files sealed in manifest.json, public key {}{})",
                dir.display(),
                sealed.verdict.as_str(),
                sealed.files,
                sealed.public_key,
                if sealed.self_signed {
                    ", self-signed"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Verify { dir, public_key } => {
            let trusted = match &public_key {
                Some(path) => Some(duxue_reports::read_public_key(path).map_err(|e| {
                    CannotRun::new(
                        e.to_string(),
                        "give --public-key the FILE.pub written by `duxue report keygen FILE`",
                    )
                })?),
                None => None,
            };
            let outcome = duxue_reports::verify_run(&dir, trusted.as_ref()).map_err(|e| {
                CannotRun::new(
                    e.to_string(),
                    "give the folder of a run written by `duxue certify`",
                )
            })?;
            match outcome.first_problem() {
                None => {
                    println!(
                        "{}: intact — {} files and the signature hold (public key {}{})",
                        dir.display(),
                        outcome.files_checked,
                        outcome.public_key,
                        if outcome.key_trusted {
                            ", as given"
                        } else if outcome.self_signed {
                            ", self-signed: pass --public-key to check who sealed it"
                        } else {
                            ", from the manifest: pass --public-key to check who sealed it"
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(problem) => {
                    let more = outcome.problems.len() - 1;
                    println!(
                        "{}: NOT INTACT — {problem}{}",
                        dir.display(),
                        if more > 0 {
                            format!(" (and {more} more)")
                        } else {
                            String::new()
                        }
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        ReportCommand::Compare {
            certify,
            spot_check,
            out,
            signing_key,
        } => {
            let out = out.unwrap_or_else(|| default_out("compare"));
            let report =
                compare::compare_runs(&certify, &spot_check, &out, signing_key.as_deref())?;
            print_comparison(&report, &out);
            Ok(verdict_exit(&report, &out))
        }
        ReportCommand::Keygen { file } => {
            let public = duxue_reports::generate_key_file(&file).map_err(|e| {
                CannotRun::new(e.to_string(), "choose a new file name in a writable folder")
            })?;
            let public = hex::encode(public.as_bytes());
            eprintln!(
                "wrote the signing key to {} (keep it secret) and its public key to {}",
                file.display(),
                duxue_reports::bundle::pub_path(&file).display()
            );
            println!("{public}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The lab and the road side by side, one line per requirement that either judged.
fn print_comparison(report: &duxue_reports::RunReport, out: &std::path::Path) {
    let Some(comparison) = &report.comparison else {
        return;
    };
    println!();
    println!("{:<5} {:<13} {:<13}", "", "certify", "spot check");
    for r in &comparison.requirements {
        println!(
            "{:<5} {:<13} {:<13}{}",
            r.id,
            r.lab.as_str(),
            r.road.as_str(),
            if r.divergent { " DIVERGENT" } else { "" }
        );
    }
    println!();
    println!(
        "{} — certification {}, spot check {} ({}); {} divergent{}; report: {}",
        report.verdict.as_str(),
        comparison.certify_verdict.as_str(),
        comparison.spot_check.verdict.as_str(),
        comparison.spot_check.run_id,
        comparison.divergent.len(),
        if comparison.divergent.is_empty() {
            String::new()
        } else {
            format!(" ({})", comparison.divergent.join(", "))
        },
        out.join("summary.md").display()
    );
}

fn user_agent(given: Option<String>) -> String {
    given.unwrap_or_else(|| duxue_profile::BROWSER_USER_AGENT.to_owned())
}

/// How a command's requests reach its target, from its options.
fn transport(
    args: cli::TransportArgs,
    user_agent_given: Option<String>,
) -> Result<target::Transport, CannotRun> {
    let timeout = args.request_timeout;
    if !(timeout.is_finite() && (0.5..=3600.0).contains(&timeout)) {
        return Err(CannotRun::new(
            format!("--request-timeout {timeout} is out of range"),
            "give seconds between 0.5 and 3600",
        ));
    }
    Ok(target::Transport {
        request_timeout: std::time::Duration::from_secs_f64(timeout),
        ca_cert: args.ca_cert,
        user_agent: user_agent(user_agent_given),
    })
}

async fn spot_check_command(args: SpotCheckArgs) -> Result<ExitCode, CannotRun> {
    let duration = spot_check::parse_duration(&args.duration)
        .map_err(|e| CannotRun::new(format!("bad --duration: {e}"), "give e.g. --duration 60m"))?;
    let plan = spot_check::SpotCheckPlan {
        target: args.target.trim_end_matches('/').to_owned(),
        accounts: args.accounts,
        supervisor: args.supervisor,
        duration,
        seed: args.seed.unwrap_or_else(rand::random),
        out: args.out.unwrap_or_else(|| default_out("spot-check")),
        policy: args.policy,
        clock_scale: args.clock_scale,
        transport: transport(args.transport, args.user_agent)?,
        signing_key: args.signing_key,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let report = spot_check::spot_check(&plan).await?;
    certify::print_summary(&report, &plan.out);
    Ok(verdict_exit(&report, &plan.out))
}

async fn register_accounts_command(args: RegisterAccountsArgs) -> Result<ExitCode, CannotRun> {
    let plan = spot_check::RegisterPlan {
        target: args.target.trim_end_matches('/').to_owned(),
        supervisor: args.supervisor,
        count: args.count,
        classes: args.classes,
        out: args.out,
        seed: args.seed.unwrap_or_else(rand::random),
        transport: transport(args.transport, args.user_agent)?,
    };
    let written = spot_check::register_accounts(&plan).await?;
    println!(
        "registered {} accounts; --accounts file: {}",
        written,
        plan.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn default_out(kind: &str) -> PathBuf {
    PathBuf::from("out").join(format!(
        "{kind}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ))
}

fn population_options(
    args: &cli::PopulationArgs,
) -> Result<Option<certify::PopulationOptions>, CannotRun> {
    if args.learners == 0 {
        return Ok(None);
    }
    let scale = args.population_clock_scale;
    if !(scale.is_finite() && scale > 0.0 && scale <= 1_000.0) {
        return Err(CannotRun::new(
            format!("--population-clock-scale {scale} is out of range"),
            "use a value between 1 and 1000",
        ));
    }
    if args.learners > 100_000 {
        return Err(CannotRun::new(
            format!(
                "--learners {} is more than one process holds",
                args.learners
            ),
            "split the run with --shard I/N (see deploy/)",
        ));
    }
    let mix = match &args.mix {
        Some(spec) => population::Mix::parse(spec).map_err(|e| {
            CannotRun::new(
                format!("bad --mix: {e}"),
                "give name=weight pairs or a TOML file with a [mix] table",
            )
        })?,
        None => population::Mix::default(),
    };
    let shard = args
        .shard
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?)))
        .filter(|(i, n)| *n > 0 && i < n)
        .ok_or_else(|| {
            CannotRun::new(
                format!("bad --shard `{}`", args.shard),
                "give I/N with 0 <= I < N, e.g. --shard 0/4",
            )
        })?;
    let start_at = match &args.start_at {
        Some(text) => Some(start::parse_start_at(text, chrono::Utc::now()).map_err(|e| {
            CannotRun::new(
                format!("bad --start-at: {e}"),
                "give an instant ahead, RFC 3339 (2026-03-01T08:00:00+08:00) or +SECONDS from now, the same for every shard",
            )
        })?),
        None => None,
    };
    if start_at.is_some() && args.find_capacity {
        return Err(CannotRun::new(
            "--find-capacity steps its population up one run after another; it cannot start with --start-at",
            "drop one of the two",
        ));
    }
    if args.hold == 0 {
        return Err(CannotRun::new(
            "--hold 0 leaves no peak to judge",
            "give --hold of at least a few seconds",
        ));
    }
    Ok(Some(certify::PopulationOptions {
        clock_scale: scale,
        shape: population::LoadShape {
            ramp_up: std::time::Duration::from_secs(args.ramp_up),
            hold: std::time::Duration::from_secs(args.hold),
            ramp_down: std::time::Duration::from_secs(args.ramp_down),
        },
        mix,
        client_mode: args.client_mode,
        shard,
        start_at,
        find_capacity: args.find_capacity,
    }))
}

fn template(args: &cli::RunOptions, out: PathBuf) -> certify::CertifyPlan {
    certify::CertifyPlan {
        target: None,
        token: None,
        application: None,
        policy: args.policy.clone(),
        learners: args.population.learners,
        clock_scale: args.clock_scale,
        seed: args.seed.unwrap_or_else(rand::random),
        run_nonce: args.run_nonce.unwrap_or_else(rand::random),
        out,
        defects: Vec::new(),
        variants: Vec::new(),
        only: args.only.clone(),
        concurrency: args.concurrency,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        announce: false,
        population: None,
        signing_key: None,
        compare: None,
        transport: target::Transport {
            user_agent: user_agent(args.user_agent.clone()),
            ..Default::default()
        },
    }
}

async fn certify_command(args: CertifyArgs) -> Result<ExitCode, CannotRun> {
    let mut plan = template(
        &args.run,
        args.out.unwrap_or_else(|| default_out("certify")),
    );
    plan.target = args.target;
    plan.token = args.token;
    plan.application = args.application;
    plan.population = population_options(&args.run.population)?;
    plan.signing_key = args.signing_key;
    plan.compare = args.compare;
    plan.defects = target::parse_defects(&args.defects)?;
    plan.variants = target::parse_variants(&args.variants)?;
    plan.announce = true;
    plan.transport = transport(args.transport, args.run.user_agent)?;
    interrupt::install().map_err(|e| {
        CannotRun::new(
            format!("cannot listen for SIGINT and SIGTERM: {e}"),
            "report this as a bug",
        )
    })?;
    let report = certify::certify(&plan).await?;
    certify::print_summary(&report, &plan.out);
    print_comparison(&report, &plan.out);
    Ok(verdict_exit(&report, &plan.out))
}

/// The exit code of a finished run: 0 CERTIFIED, 1 NOT CERTIFIED; an interrupted run did not
/// finish (2), and says so in one line.
fn verdict_exit(report: &duxue_reports::RunReport, out: &std::path::Path) -> ExitCode {
    match report.verdict {
        RunVerdict::Certified => ExitCode::SUCCESS,
        RunVerdict::NotCertified => ExitCode::from(1),
        RunVerdict::Interrupted => {
            let cause = report
                .interrupted
                .as_ref()
                .map_or("a signal", |i| i.cause.as_str());
            eprintln!(
                "error: the run was interrupted ({cause}); {} holds a partial report marked INTERRUPTED — run again to certify",
                out.display()
            );
            ExitCode::from(2)
        }
    }
}

async fn calibrate_command(args: CalibrateArgs) -> Result<ExitCode, CannotRun> {
    if args.run.population.start_at.is_some() {
        return Err(CannotRun::new(
            "--start-at is for the shards of one certify run; calibrate runs its cases by itself",
            "drop --start-at",
        ));
    }
    let out = args.out.unwrap_or_else(|| default_out("calibrate"));
    let mut template = template(&args.run, out.clone());
    template.progress = false;
    template.population = population_options(&args.run.population)?;
    let seed = template.seed;
    let plan = calibrate::CalibratePlan {
        out: out.clone(),
        template,
        parallel: args.parallel,
        defects: target::parse_defects(&args.defects)?,
        variants: target::parse_variants(&args.variants)?,
        sample: args.sample.map(|size| calibrate::Sample {
            size,
            seed: args.sample_seed.unwrap_or(seed),
        }),
        population_sample: args.population_sample.map(|size| calibrate::Sample {
            size,
            seed: args.sample_seed.unwrap_or(seed),
        }),
    };
    let calibration = calibrate::calibrate(&plan).await?;
    let missed = calibration
        .cases
        .iter()
        .filter(|c| !c.ok && c.not_calibrated.is_none())
        .count();
    let skipped = calibration
        .cases
        .iter()
        .filter(|c| c.not_calibrated.is_some())
        .count();
    println!(
        "{} — {} cases: {} as expected, {} not, {} not calibratable in this run; {}",
        calibration.verdict,
        calibration.cases.len(),
        calibration.cases.len() - missed - skipped,
        missed,
        skipped,
        out.join("calibration.json").display()
    );
    for left_out in &calibration.partial {
        println!("  partial: {left_out}");
    }
    Ok(if calibration.verdict == "CALIBRATED" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn serve(args: ServeArgs) -> Result<ExitCode, CannotRun> {
    let policy = Policy::resolve(&args.policy).map_err(|e| {
        CannotRun::new(
            format!("bad policy: {e}"),
            "fix the file or pass --policy xuchang-2022",
        )
    })?;
    let application = match &args.application {
        Some(path) => ApplicationForm::load(path),
        None => ApplicationForm::reference(),
    }
    .map_err(|e| CannotRun::new(format!("bad application form: {e}"), "fix the file"))?;
    let defects = target::parse_defects(&args.defects)?;
    let scale = args.clock_scale;
    if !(scale.is_finite() && scale > 0.0 && scale <= 1_000.0) {
        return Err(CannotRun::new(
            format!("--clock-scale {scale} is out of range"),
            "leave it out (real time); tests of a simulated platform use up to 1000",
        ));
    }
    let supervisor_file = args.supervisor_file.clone().unwrap_or_else(|| {
        let mut name = args.database.clone().into_os_string();
        name.push(".supervisors.toml");
        PathBuf::from(name)
    });
    if !args.database.exists() && supervisor_file.exists() {
        return Err(CannotRun::new(
            format!(
                "{} already exists, and a new database would write its supervisor accounts there",
                supervisor_file.display()
            ),
            "remove it, or pass --supervisor-file NEW_FILE",
        ));
    }
    let variants = target::parse_variants(&args.variants)?;
    let listener = tokio::net::TcpListener::bind((args.address.as_str(), args.port))
        .await
        .map_err(|e| {
            CannotRun::new(
                format!("cannot listen on {}:{}: {e}", args.address, args.port),
                "choose another --port or --address",
            )
        })?;
    let config = duxue_platform::PlatformConfig {
        database: args.database.clone(),
        policy,
        application,
        conformance_token: args.conformance_token.clone(),
        defects,
        variants,
        seed: args.seed,
        production_clock_scale: scale,
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(duxue_platform::TlsFiles { cert, key }),
        _ => None,
    };
    let started = match &tls {
        Some(tls) => duxue_platform::start_tls(config, listener, tls).await,
        None => duxue_platform::start(config, listener).await,
    };
    let platform = started.map_err(|e| match e {
        duxue_platform::PlatformError::Config(message) if tls.is_some() => CannotRun::new(
            format!("the platform did not start: {message}"),
            "give --tls-cert a PEM certificate chain and --tls-key its PEM private key",
        ),
        e => CannotRun::new(
            format!("the platform did not start: {e}"),
            "check --database",
        ),
    })?;
    if let Some(seed) = platform.production_seed() {
        spot_check::write_production_supervisors(&supervisor_file, seed)?;
        eprintln!(
            "production side: {} organisations, {} classes; supervisor accounts written to {}",
            seed.organisations.len(),
            seed.classes.len(),
            supervisor_file.display()
        );
    }
    eprintln!(
        "reference platform on {}{} (database {}, conformance {}, production clock ×{}{}); Ctrl-C stops it",
        platform.base_url(),
        duxue_profile::BASE_PATH,
        args.database.display(),
        if args.conformance_token.is_some() {
            "on"
        } else {
            "off"
        },
        scale,
        if scale == 1.0 {
            ", real time"
        } else {
            ", TESTING ONLY"
        }
    );
    let _ = tokio::signal::ctrl_c().await;
    platform.shutdown().await.map_err(|e| {
        CannotRun::new(
            format!("shutdown: {e}"),
            "the database may need a restart to recover",
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Stops glibc's malloc from handing freed image buffers back to the kernel. A liveness answer
/// holds a dozen canvases of a few hundred kilobytes; with glibc's default, self-adjusting
/// thresholds they were mapped fresh and unmapped again for every job, and the kernel's
/// zeroing of the new pages took about a fifth of the time of making a liveness answer (600
/// answers on one thread: 3.9 s, of which 0.85 s system; 3.0 s with these settings). With
/// fixed thresholds large buffers come from the heap and stay there for the next job; the peak
/// resident size is what the jobs touch at once either way.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        }
    }
}
