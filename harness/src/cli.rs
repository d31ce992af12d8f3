//! The command line of `duxue` (clap derive). Each subcommand's options are the contract that
//! scripts rely on (PRODUCT.md §7).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "duxue",
    version,
    about = "督学 duxue — certify online vocational-training platforms against the Xuchang 2022 controls",
    long_about = "duxue drives a training platform's profile v1 API the way honest learners and \
cheaters do, checks every control of the notice (face liveness, random captures, popups, no \
seeking, no speed-up, one window, one device, lessons in order, supervision, retention), and \
writes a certification report.\n\nExit codes: 0 CERTIFIED / CALIBRATED, 1 NOT CERTIFIED / \
MISCALIBRATED, 2 could not run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log level for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "DUXUE_LOG")]
    pub log: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Certify a platform (with no --target: the bundled reference platform on loopback).
    Certify(CertifyArgs),
    /// Certify the reference platform clean, once per conforming variant (each must be
    /// CERTIFIED) and once per known defect (each must fail exactly its requirement(s)).
    Calibrate(CalibrateArgs),
    /// Run or describe the bundled reference platform.
    #[command(subcommand)]
    Platform(PlatformCommand),
    /// Synthetic media for vendors' own tests.
    #[command(subcommand)]
    Media(MediaCommand),
    /// Re-render a finished run folder from its files.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Merge the run folders of the shards of one run (`certify --shard I/N`) into one run:
    /// histograms added, evidence concatenated, LD-1 and LD-2 judged on the merged data.
    Merge(MergeArgs),
    /// Spot-check a live platform: learner accounts the bureau holds study on the platform's
    /// own clock, honestly and cheating in a mix drawn afresh each run, while its supervisor
    /// account watches. No conformance endpoint or token; nothing in the traffic names duxue.
    SpotCheck(SpotCheckArgs),
    /// Register learner accounts for spot checks through the platform's public registration,
    /// each with a duxue synthetic identity, and write them as a --accounts file.
    RegisterAccounts(RegisterAccountsArgs),
}

#[derive(Debug, Args)]
pub struct SpotCheckArgs {
    /// Base URL of the live platform (without /profile/v1).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// The learner accounts the bureau holds (TOML, `duxue register-accounts` writes one).
    #[arg(long, value_name = "FILE")]
    pub accounts: PathBuf,
    /// The bureau's supervisor account(s) (TOML: [[supervisor]] username, password; an
    /// enterprise or institution account with its organisation_id lets SV-3 be judged).
    #[arg(long, value_name = "FILE")]
    pub supervisor: PathBuf,
    /// How long the accounts study (wall time: 60m, 1h30m, 900s).
    #[arg(long, default_value = "60m", value_name = "DURATION")]
    pub duration: String,
    /// Seed of who cheats, how and when (random when absent, so every run differs; printed in
    /// the report).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Output folder for the run (must not hold a run already).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = "xuchang-2022", value_name = "FILE|NAME")]
    pub policy: String,
    /// The User-Agent of every request (default: a common desktop browser's).
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,
    /// Ed25519 key that signs the run's manifest; absent: a per-run key (self-signed).
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// TESTING ONLY: the platform's production clock runs X times real time (a simulated
    /// platform started with `duxue platform serve --clock-scale X`). A real platform's clock
    /// is real time: leave this out.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub clock_scale: f64,
    #[command(flatten)]
    pub transport: TransportArgs,
}

#[derive(Debug, Args)]
pub struct RegisterAccountsArgs {
    /// Base URL of the platform (without /profile/v1).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// A supervisor account whose classes the accounts join (the --supervisor file of a spot
    /// check).
    #[arg(long, value_name = "FILE")]
    pub supervisor: PathBuf,
    /// How many accounts to register.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub count: usize,
    /// The class(es) the accounts join, in turn (default: every class the supervisor sees).
    #[arg(long = "class", value_name = "ID")]
    pub classes: Vec<String>,
    /// The accounts file to write (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Seed of the identities (random when absent).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The User-Agent of every request (default: a common desktop browser's).
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,
    #[command(flatten)]
    pub transport: TransportArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The run folders of shards 0..N-1 of one run, each once, in any order.
    #[arg(required = true, num_args = 1.., value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output folder of the merged run.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The policy the shards ran with.
    #[arg(long, default_value = "xuchang-2022", value_name = "FILE|NAME")]
    pub policy: String,
    /// The public key every shard's manifest must be signed with (FILE.pub of
    /// `duxue report keygen FILE`); absent: each shard's own recorded key (proves only that
    /// nothing changed since it was sealed).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Ed25519 key that signs the merged run's manifest; absent: a per-run key (self-signed).
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RunOptions {
    /// Policy: a file, or the name of a built-in policy.
    #[arg(long, default_value = "xuchang-2022", value_name = "FILE|NAME")]
    pub policy: String,
    /// Cohort-clock seconds per wall second (60: a 45-minute class hour passes in 45 s).
    #[arg(long, default_value_t = 60.0, value_name = "X")]
    pub clock_scale: f64,
    /// Seed of every synthetic learner and choice (random when absent; printed in the report).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The run's nonce, mixed into every synthetic person (name, ID number, phone, face) so
    /// that a rerun with the same seed registers new people (random when absent; recorded in
    /// the report: `--seed` and `--run-nonce` together reproduce a run).
    #[arg(long, value_name = "N")]
    pub run_nonce: Option<u64>,
    /// How many probes run at once.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub concurrency: usize,
    /// Run only these requirement IDs (comma-separated), e.g. PB-1,PB-2.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub only: Vec<String>,
    /// The User-Agent of every request (default: a common desktop browser's).
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,
    #[command(flatten)]
    pub population: PopulationArgs,
}

/// The population phase (LD-1, LD-2): learners of a behaviour mix ramped like a morning peak.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Population phase")]
pub struct PopulationArgs {
    /// Peak concurrent learners (0: no population phase; LD-1 and LD-2 stay INCONCLUSIVE).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub learners: u64,
    /// Cohort-clock scale of the population's cohort (each studying learner sends one
    /// heartbeat per 10 cohort seconds: scale/10 per wall second).
    #[arg(long, default_value_t = 20.0, value_name = "X")]
    pub population_clock_scale: f64,
    /// Wall seconds over which logins ramp up to the peak.
    #[arg(long, default_value_t = 20, value_name = "S")]
    pub ramp_up: u64,
    /// Wall seconds the peak is held (LD-1 and LD-2 are judged on this stretch).
    #[arg(long, default_value_t = 40, value_name = "S")]
    pub hold: u64,
    /// Wall seconds over which learners leave.
    #[arg(long, default_value_t = 10, value_name = "S")]
    pub ramp_down: u64,
    /// Behaviour mix: `honest=58,seeker=3,...` or a TOML file with a [mix] table
    /// (default: 58% honest, 3% of each of the 14 cheats).
    #[arg(long, value_name = "SPEC|FILE")]
    pub mix: Option<String>,
    /// How learners' connections are made: one shared pool, or a client per learner.
    #[arg(long, value_enum, default_value = "shared")]
    pub client_mode: crate::population::ClientMode,
    /// Run shard I of N (learners I, I+N, I+2N, ...); merge shard runs with `duxue merge`.
    #[arg(long, default_value = "0/1", value_name = "I/N")]
    pub shard: String,
    /// Start the population at this instant (RFC 3339, or +SECONDS from now) and measure the
    /// load shape from it; every shard of a run gets the same one, or merge refuses them.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Step the population up from --learners (doubling, at most 6 steps) until a LD-1 budget
    /// breaks; report the largest population held.
    #[arg(long)]
    pub find_capacity: bool,
}

#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// Base URL of the platform: everything before /profile/v1 (a trailing /profile/v1 is
    /// ignored). Absent: start the reference platform.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Conformance token of the target's conformance tenant.
    #[arg(
        long,
        env = "DUXUE_CONFORMANCE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The application form (附件2) as TOML; absent: the reference platform's form.
    #[arg(long, value_name = "FILE")]
    pub application: Option<PathBuf>,
    /// Output folder for the run (must not hold a run already).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Switch on a defect of the embedded reference platform (repeatable; for demonstrations).
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Start the embedded reference platform as a conforming variant (repeatable; see
    /// `duxue platform variants`).
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// Ed25519 key that signs the run's manifest (`duxue report keygen FILE` makes one);
    /// absent: a per-run key, recorded as self-signed.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Compare this certification with a spot check of the same platform (its run folder):
    /// a requirement that passes here and failed there is DIVERGENT (NOT CERTIFIED).
    #[arg(long, value_name = "SPOTCHECK_RUN")]
    pub compare: Option<PathBuf>,
    #[command(flatten)]
    pub transport: TransportArgs,
    #[command(flatten)]
    pub run: RunOptions,
}

/// How requests reach a target over the network.
#[derive(Debug, Clone, Args)]
pub struct TransportArgs {
    /// A CA certificate (PEM) to trust besides the system's roots, for a target whose TLS
    /// certificate a private or test CA signed.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The longest one request to the target may take, connecting and reading the whole
    /// answer included; a request over it has no answer (the check it served is undecided).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub request_timeout: f64,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Output folder: one run per case plus calibration.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How many cases run at once (each on its own port and database). Each case is
    /// timing-sensitive at high clock scales: keep it near the number of cores.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub parallel: usize,
    /// Calibrate only these defects (comma-separated names); the clean case and the variants
    /// always run.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub defects: Vec<String>,
    /// Calibrate only these conforming variants (comma-separated names); the clean case
    /// always runs.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub variants: Vec<String>,
    /// Run a seeded sample of this many defect cases (the clean case and every variant always
    /// run); the calibration is then PARTIAL.
    #[arg(long, value_name = "K")]
    pub sample: Option<usize>,
    /// Run the population phase for the clean case and a seeded sample of this many variants
    /// only (the other variants run their probes only); the calibration is then PARTIAL.
    #[arg(long, value_name = "K")]
    pub population_sample: Option<usize>,
    /// Seed of the --sample and --population-sample draws (default: the run's --seed).
    #[arg(long, value_name = "N")]
    pub sample_seed: Option<u64>,
    #[command(flatten)]
    pub run: RunOptions,
}

#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Serve the reference platform.
    Serve(Box<ServeArgs>),
    /// List every defect switch with the requirement(s) it breaks.
    Defects,
    /// List every conforming variant (an alternative the profile allows; each must certify).
    Variants,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub address: String,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// SQLite database file (created if absent).
    #[arg(long, default_value = "duxue-platform.sqlite", value_name = "FILE")]
    pub database: PathBuf,
    #[arg(long, default_value = "xuchang-2022", value_name = "FILE|NAME")]
    pub policy: String,
    /// The platform's application form; absent: the reference form.
    #[arg(long, value_name = "FILE")]
    pub application: Option<PathBuf>,
    /// Conformance token; without it the conformance endpoints are switched off.
    #[arg(
        long,
        env = "DUXUE_CONFORMANCE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub conformance_token: Option<String>,
    /// Switch on a defect (repeatable); see `duxue platform defects`.
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Take a conforming variant (repeatable); see `duxue platform variants`.
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// Seed of the platform's own randomness (popup and capture times).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the production side's supervisor accounts are written when the database is new
    /// (the `duxue spot-check --supervisor` format); default: beside the database,
    /// `<database>.supervisors.toml`.
    #[arg(long, value_name = "FILE")]
    pub supervisor_file: Option<PathBuf>,
    /// TESTING ONLY: run the production clock X times real time, so that a spot check
    /// (`duxue spot-check --clock-scale X`) of this simulated platform takes minutes. A real
    /// platform's clock is real time: leave this out.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub clock_scale: f64,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first); needs
    /// --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Write a labelled synthetic media set with a manifest.
    Generate {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Genuine samples and samples of each attack species.
        #[arg(long, default_value_t = 20, value_name = "N")]
        per_class: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write one synthetic person to register on a platform by hand or through its own
    /// registration: face.jpg, id-card.jpg and identity.json (name, ID number, phone, seed).
    /// The seed goes into the spot check's --accounts file.
    Identity {
        #[arg(long, value_name = "S")]
        seed: u64,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Score your own face and liveness engine on a generated set: BPCER, APCER per attack
    /// species, FNMR and FMR with counts and 95% bounds (ISO/IEC 30107-3 vocabulary).
    Score {
        /// The set written by `duxue media generate` (the folder holding manifest.json).
        #[arg(long, value_name = "DIR")]
        set: PathBuf,
        /// Your engine's decisions, CSV: one `presentation,decision` line per presentation
        /// (an `id` of manifest.json or one of its files; `accept` or `refuse`).
        #[arg(long, value_name = "FILE")]
        decisions: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Render report.html, summary.md and junit.xml of a run folder again from its
    /// report.json, and seal it: manifest.json (SHA-256 of every file) signed in manifest.sig.
    Render {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// ed25519 signing key (64 hex characters or PKCS#8 PEM); absent: a key made for this
        /// run only, recorded as self-signed, its private half never written.
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
    /// Check a sealed run folder: every file against manifest.json, and manifest.sig.
    /// Exit 0 intact, 1 changed (naming the first file), 2 unreadable.
    Verify {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The public key the manifest must be signed with (64 hex characters or PEM);
        /// absent: the key recorded in the manifest (proves only that nothing changed since
        /// whoever sealed it).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Write a new ed25519 signing key to FILE (owner-only) and its public key to FILE.pub.
    Keygen {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Lab against road: set a certification against a spot check of the same platform. A
    /// requirement that passed in the conformance cohort and failed on production is
    /// DIVERGENT, and the comparison is NOT CERTIFIED. Writes the certification's folder with
    /// the comparison to --out, rendered and sealed. Exit 0 CERTIFIED, 1 NOT CERTIFIED.
    Compare {
        #[arg(value_name = "CERTIFY_RUN")]
        certify: PathBuf,
        #[arg(value_name = "SPOTCHECK_RUN")]
        spot_check: PathBuf,
        /// Output folder (must not hold a run).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
}
