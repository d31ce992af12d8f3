//! # duxue-platform — the reference platform of profile v1
//!
//! A complete training platform that implements every operation of profile v1 (axum 0.8 over
//! SQLite in WAL mode) and enforces every control of the requirement catalog on the server, with
//! the numbers of a policy file. It is three things at once: the executable form of the
//! profile, the default target of `duxue certify`, and the calibration source — every
//! requirement (SC-1 excepted) has a [`Defect`] switch that breaks exactly that control, and
//! every alternative the profile allows is a conforming [`Variant`] that must certify.
//!
//! ```no_run
//! # async fn run() -> Result<(), duxue_platform::PlatformError> {
//! use duxue_platform::{PlatformConfig, start};
//! let config = PlatformConfig {
//!     database: "platform.sqlite".into(),
//!     policy: duxue_profile::Policy::builtin("xuchang-2022").unwrap().unwrap(),
//!     application: duxue_profile::ApplicationForm::reference().unwrap(),
//!     conformance_token: Some("secret".into()),
//!     defects: vec![],
//!     variants: vec![],
//!     seed: None,
//!     production_clock_scale: 1.0,
//! };
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let platform = start(config, listener).await?;
//! println!("listening on {}", platform.local_addr());
//! platform.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Production and conformance
//! Besides the conformance cohorts a harness creates with the conformance token, the platform
//! has a production side ([`domain::production`]): at first start it seeds a production
//! cohort on the real clock with organisations, a class of every catalogue course and the
//! supervisor accounts of a bureau ([`RunningPlatform::production_seed`]), where learners
//! register, enrol and study through the public operations only. Without a conformance token
//! that is all the platform serves.
//!
//! ## How it works
//! - **Memory first, SQLite always.** Every entity lives in memory behind one lock (answers,
//!   heartbeats included, come from memory) and every change goes to a single writer thread
//!   that encodes documents off the lock and group-commits what arrived within 50 ms in one
//!   transaction (a read's write barrier commits at once). Startup rebuilds
//!   memory from the database; shutdown flushes every pending write and checkpoints the WAL.
//!   Trajectories, captures, liveness attempts and images are read from the database through a
//!   small pool of read connections, after a write barrier (read-your-writes).
//! - **Cohort clocks** ([`clock`]): every time-based rule uses the learner's cohort clock.
//! - **Heartbeats** are asked every [`HEARTBEAT_INTERVAL_SECONDS`] (10) cohort seconds, this
//!   platform's choice within the policy's heartbeat interval bounds; the policy's
//!   `heartbeat_max_gap_seconds` stops a silent playback. A position may lead the content
//!   watched plus the elapsed time by the policy's seek tolerance before it is a seek.
//! - **Popups** come at gaps drawn uniformly in [gap/3, gap − 20 s] of cohort time from the
//!   previous popup (gap = `popup_max_gap_seconds`); the prompt carries a 4-digit code to type back.
//! - **Captures**: each class hour gets `captures_per_class_hour_min` content positions drawn
//!   independently and uniformly within it; the capture is requested when the learner reaches
//!   the position; a failed or missed capture zeroes the class hour's credit (`withheld`),
//!   rewinds the furthest position to the class-hour start and stops the playback.
//! - **Self-check** signals are documented in [`domain::selfcheck`].
//! - **Retention** ([`domain::retention`]) deletes nothing younger than `retention_years`.
//! - **Biometrics** ([`biometrics`]) judge pixels only, through `duxue-media`.

pub mod biometrics;
pub mod clock;
pub mod controls;
pub mod defects;
pub mod domain;
pub mod error;
pub mod http;
pub mod ids;
pub mod load;
pub mod manifest;
pub mod store;
mod switch;
pub mod tls;
pub mod variants;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use duxue_profile::{ApplicationForm, Policy};
use parking_lot::Mutex;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tokio::sync::watch;

pub use controls::Controls;
pub use defects::{Defect, DefectSet, UnknownDefect};
pub use domain::HEARTBEAT_INTERVAL_SECONDS;
pub use error::PlatformError;
pub use manifest::{Manifest, ManifestError, manifest};
pub use switch::UnknownSwitch;
pub use tls::TlsFiles;
pub use variants::Variant;

/// How the platform is started.
#[derive(Clone, Debug)]
pub struct PlatformConfig {
    /// SQLite file (created if absent), WAL mode.
    pub database: PathBuf,
    pub policy: Policy,
    /// Name, URL and operator in `/meta`; approved occupations are the policy's Annex 1 entry
    /// `application.platform.annex1_entry`.
    pub application: ApplicationForm,
    /// `None` switches the conformance endpoints off (404 `conformance_disabled`).
    pub conformance_token: Option<String>,
    pub defects: Vec<Defect>,
    /// Conforming variants: where the profile allows another behaviour, take it.
    pub variants: Vec<Variant>,
    /// Seed of the platform's own randomness (popup and capture times, challenge nonces);
    /// `None` uses OS entropy. Ids and tokens always use OS entropy.
    pub seed: Option<u64>,
    /// Scale of the production clock: 1 (real time) in production; more only for tests that
    /// run a spot check against a simulated platform in minutes.
    pub production_clock_scale: f64,
}

/// A running platform.
pub struct RunningPlatform {
    addr: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    platform: Arc<domain::Platform>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<Result<(), std::io::Error>>,
    background: tokio::task::JoinHandle<()>,
    writer_thread: std::thread::JoinHandle<()>,
    production: Option<domain::production::ProductionSeed>,
}

impl std::fmt::Debug for RunningPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningPlatform")
            .field("addr", &self.addr)
            .finish()
    }
}

/// How often deadlines and silence are swept (wall time).
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// How often retention runs (wall time), besides after every clock advance.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Starts the platform on a bound listener.
pub async fn start(
    config: PlatformConfig,
    listener: tokio::net::TcpListener,
) -> Result<RunningPlatform, PlatformError> {
    start_on(config, listener, "http").await
}

/// Starts the platform serving HTTPS with the certificate and key of `tls`.
pub async fn start_tls(
    config: PlatformConfig,
    listener: tokio::net::TcpListener,
    tls: &TlsFiles,
) -> Result<RunningPlatform, PlatformError> {
    let acceptor = tls::acceptor(tls)?;
    start_on(config, tls::TlsListener::new(listener, acceptor), "https").await
}

async fn start_on<L>(
    config: PlatformConfig,
    listener: L,
    scheme: &'static str,
) -> Result<RunningPlatform, PlatformError>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let addr = listener.local_addr()?;
    manifest().map_err(|e| PlatformError::Config(e.to_string()))?;
    let entry = config
        .policy
        .annex1_entry(config.application.platform.annex1_entry)
        .ok_or_else(|| {
            PlatformError::Config(format!(
                "the policy `{}` has no Annex 1 entry number {}",
                config.policy.id, config.application.platform.annex1_entry
            ))
        })?;
    let approved_occupations = entry.occupations.clone();
    let operator = config
        .application
        .institution
        .as_ref()
        .map(|i| i.name.clone())
        .unwrap_or_else(|| entry.operator.clone());
    let path = config.database.clone();
    let (world, conn) = tokio::task::spawn_blocking(move || {
        let conn = store::open(&path)?;
        let world = domain::World::load(&conn)?;
        Ok::<_, PlatformError>((world, conn))
    })
    .await
    .map_err(|e| PlatformError::Server(e.to_string()))??;
    let (writer, writer_thread) = store::writer::spawn(conn)?;
    let rng = match config.seed {
        Some(seed) => ChaCha20Rng::seed_from_u64(seed),
        None => ChaCha20Rng::from_os_rng(),
    };
    let platform = Arc::new(domain::Platform {
        policy: config.policy,
        application: config.application,
        approved_occupations,
        operator,
        conformance_token: config.conformance_token,
        controls: Controls::new(&DefectSet::new(&config.defects), &config.variants),
        defects: DefectSet::new(&config.defects),
        world: Mutex::new(world),
        rng: Mutex::new(rng),
        writer,
        reads: store::read::ReadPool::new(config.database.clone()),
        load: load::LoadMeter::default(),
        stale_views: Mutex::new(Default::default()),
        production_cohort: Default::default(),
    });
    platform.seed_catalog();
    let production = platform
        .seed_production(config.production_clock_scale)
        .map_err(|e| PlatformError::Config(format!("production side: {}", e.message)))?;
    platform
        .flush()
        .await
        .map_err(|e| PlatformError::WriterGone(e.message))?;
    tracing::info!(%addr, defects = ?config.defects, variants = ?config.variants, "reference platform listening");

    let (stop, mut stop_rx) = watch::channel(false);
    let app = http::router(platform.clone());
    let mut server_stop = stop.subscribe();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|s| *s).await;
            })
            .await
    });
    let bg = platform.clone();
    let background = tokio::spawn(async move {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        let mut purge = tokio::time::interval(PURGE_EVERY);
        loop {
            tokio::select! {
                _ = sweep.tick() => bg.sweep_cohort(""),
                _ = purge.tick() => bg.purge_all(),
                _ = stop_rx.wait_for(|s| *s) => break,
            }
        }
    });
    Ok(RunningPlatform {
        addr,
        scheme,
        platform,
        stop,
        server,
        background,
        writer_thread,
        production,
    })
}

impl RunningPlatform {
    /// The address the platform listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the first start seeded on the production side (organisations, classes, supervisor
    /// accounts with their passwords); `None` when the database already had it.
    pub fn production_seed(&self) -> Option<&domain::production::ProductionSeed> {
        self.production.as_ref()
    }

    /// The production cohort's id.
    pub fn production_cohort(&self) -> Option<&str> {
        self.platform.production_cohort.get().map(String::as_str)
    }

    /// The base URL (`http://addr` or `https://addr`), without `/profile/v1`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stops accepting, finishes in-flight requests, flushes every pending write and closes
    /// the database.
    pub async fn shutdown(self) -> Result<(), PlatformError> {
        let _ = self.stop.send(true);
        let served = self
            .server
            .await
            .map_err(|e| PlatformError::Server(e.to_string()))?;
        let _ = self.background.await;
        self.platform.writer.send(store::writer::WriteOp::Shutdown);
        let writer_thread = self.writer_thread;
        tokio::task::spawn_blocking(move || writer_thread.join())
            .await
            .map_err(|e| PlatformError::Server(e.to_string()))?
            .map_err(|_| PlatformError::WriterGone("the writer thread panicked".into()))?;
        served.map_err(PlatformError::Io)
    }
}
