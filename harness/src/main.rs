//! `duxue`: the command line. Errors that stop a run print one line with what to do and exit 2;
//! a finished run exits 0 (CERTIFIED / CALIBRATED) or 1.

mod calibrate;
mod certify;
mod cli;
mod error;
mod journal;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cli::{
    CalibrateArgs, CertifyArgs, Cli, Command, MediaCommand, PlatformCommand, ReportCommand,
    ServeArgs,
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
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
        Command::Platform(PlatformCommand::Serve(args)) => serve(args).await,
        Command::Platform(PlatformCommand::Defects) => {
            for defect in duxue_platform::Defect::ALL {
                println!(
                    "{:<30} breaks {:<12} {}",
                    defect.name(),
                    defect.breaks().join(","),
                    defect.description()
                );
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
        Command::Report(ReportCommand::Render { dir }) => {
            let report = duxue_reports::render_run(&dir).map_err(|e| {
                CannotRun::new(
                    e.to_string(),
                    "give a run folder written by `duxue certify`",
                )
            })?;
            println!(
                "{}: {} (summary.md and junit.xml rendered)",
                dir.display(),
                report.verdict.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn default_out(kind: &str) -> PathBuf {
    PathBuf::from("out").join(format!(
        "{kind}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ))
}

fn template(args: &cli::RunOptions, out: PathBuf) -> certify::CertifyPlan {
    certify::CertifyPlan {
        target: None,
        token: None,
        application: None,
        policy: args.policy.clone(),
        learners: 0,
        clock_scale: args.clock_scale,
        seed: args.seed.unwrap_or_else(rand::random),
        out,
        defects: Vec::new(),
        only: args.only.clone(),
        concurrency: args.concurrency,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        announce: false,
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
    plan.learners = args.learners;
    plan.defects = target::parse_defects(&args.defects)?;
    plan.announce = true;
    let report = certify::certify(&plan).await?;
    certify::print_summary(&report, &plan.out);
    Ok(match report.verdict {
        RunVerdict::Certified => ExitCode::SUCCESS,
        RunVerdict::NotCertified => ExitCode::from(1),
    })
}

async fn calibrate_command(args: CalibrateArgs) -> Result<ExitCode, CannotRun> {
    let out = args.out.unwrap_or_else(|| default_out("calibrate"));
    let mut template = template(&args.run, out.clone());
    template.progress = false;
    let plan = calibrate::CalibratePlan {
        out: out.clone(),
        template,
        parallel: args.parallel,
        only: target::parse_defects(&args.defects)?,
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
        "{} — {} cases: {} as expected, {} not, {} not calibratable in this build; {}",
        calibration.verdict,
        calibration.cases.len(),
        calibration.cases.len() - missed - skipped,
        missed,
        skipped,
        out.join("calibration.json").display()
    );
    Ok(if missed == 0 {
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
        seed: args.seed,
    };
    let platform = duxue_platform::start(config, listener).await.map_err(|e| {
        CannotRun::new(
            format!("the platform did not start: {e}"),
            "check --database",
        )
    })?;
    eprintln!(
        "reference platform on http://{}{} (database {}, conformance {}); Ctrl-C stops it",
        platform.local_addr(),
        duxue_profile::BASE_PATH,
        args.database.display(),
        if args.conformance_token.is_some() {
            "on"
        } else {
            "off"
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
