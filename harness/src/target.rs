//! The platform under certification: either a URL the user gave, or the bundled reference
//! platform started in this process on loopback with a fresh SQLite file. Either way the
//! harness first checks that it speaks profile v1.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use duxue_platform::{Defect, PlatformConfig, RunningPlatform, UnknownSwitch, Variant};
use duxue_profile::{
    ApplicationForm, ClientConfig, ClientError, PlatformMeta, Policy, ProfileClient,
};

use crate::error::CannotRun;

/// How the harness reaches a target: the longest one request may take, a certificate
/// authority to trust besides the system's roots, and the User-Agent it sends.
#[derive(Clone, Debug)]
pub struct Transport {
    pub request_timeout: Duration,
    pub ca_cert: Option<PathBuf>,
    pub user_agent: String,
}

impl Default for Transport {
    fn default() -> Self {
        let defaults = ClientConfig::new("");
        Transport {
            request_timeout: defaults.timeout,
            ca_cert: None,
            user_agent: defaults.user_agent,
        }
    }
}

impl Transport {
    /// The client settings for `url`; a CA file that cannot be used is one line to fix.
    pub fn client_config(&self, url: &str) -> Result<ClientConfig, CannotRun> {
        let mut config = ClientConfig::new(url);
        config.timeout = self.request_timeout;
        config.connect_timeout = config.connect_timeout.min(self.request_timeout);
        config.user_agent = self.user_agent.clone();
        if let Some(path) = &self.ca_cert {
            config.extra_roots = duxue_profile::client::read_ca_file(path).map_err(|e| {
                CannotRun::new(
                    format!("bad --ca-cert: {e}"),
                    "give a PEM file holding the certificate of the CA that signed the platform's certificate",
                )
            })?;
        }
        Ok(config)
    }
}

/// A reachable target that speaks profile v1.
pub struct Target {
    pub url: String,
    pub conformance_token: Option<String>,
    pub meta: PlatformMeta,
    pub embedded: Option<Embedded>,
}

/// The reference platform running inside this process.
pub struct Embedded {
    pub platform: RunningPlatform,
    pub defects: Vec<Defect>,
    pub variants: Vec<Variant>,
    _dir: tempfile::TempDir,
}

impl Target {
    pub async fn shutdown(self) {
        if let Some(embedded) = self.embedded
            && let Err(e) = embedded.platform.shutdown().await
        {
            tracing::warn!("reference platform shutdown: {e}");
        }
    }
}

/// The reference platform's calibration manifest (what each defect breaks, what each variant
/// does), or what to fix.
pub fn manifest() -> Result<&'static duxue_platform::Manifest, CannotRun> {
    duxue_platform::manifest().map_err(|e| {
        CannotRun::new(
            e.to_string(),
            "fix reference-platform/expected-failures.toml",
        )
    })
}

/// Parses defect names, or says which exist.
pub fn parse_defects(names: &[String]) -> Result<Vec<Defect>, CannotRun> {
    parse_switches(names)
}

/// Parses variant names, or says which exist.
pub fn parse_variants(names: &[String]) -> Result<Vec<Variant>, CannotRun> {
    parse_switches(names)
}

fn parse_switches<T>(names: &[String]) -> Result<Vec<T>, CannotRun>
where
    T: FromStr<Err = UnknownSwitch>,
{
    names
        .iter()
        .map(|n| {
            n.parse::<T>().map_err(|e| {
                CannotRun::new(
                    format!("unknown {} `{n}`", e.kind),
                    format!("{e}; see `duxue platform {}s`", e.kind),
                )
            })
        })
        .collect()
}

/// Starts the reference platform on 127.0.0.1 with a fresh database.
pub async fn start_embedded(
    policy: &Policy,
    application: &ApplicationForm,
    defects: Vec<Defect>,
    variants: Vec<Variant>,
    seed: u64,
) -> Result<(String, String, Embedded), CannotRun> {
    let dir = tempfile::tempdir().map_err(|e| {
        CannotRun::new(
            format!("cannot create a temporary folder: {e}"),
            "check TMPDIR",
        )
    })?;
    let database: PathBuf = dir.path().join("reference-platform.sqlite");
    let token = format!("duxue-{:032x}", rand::random::<u128>());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| {
            CannotRun::new(
                format!("cannot listen on 127.0.0.1: {e}"),
                "check the loopback interface",
            )
        })?;
    let config = PlatformConfig {
        database,
        policy: policy.clone(),
        application: application.clone(),
        conformance_token: Some(token.clone()),
        defects: defects.clone(),
        variants: variants.clone(),
        seed: Some(seed),
        production_clock_scale: 1.0,
    };
    let platform = duxue_platform::start(config, listener).await.map_err(|e| {
        CannotRun::new(
            format!("the reference platform did not start: {e}"),
            "run with --log debug and report it",
        )
    })?;
    let url = format!("http://{}", platform.local_addr());
    Ok((
        url,
        token,
        Embedded {
            platform,
            defects,
            variants,
            _dir: dir,
        },
    ))
}

/// Connects to `url` and checks it speaks profile v1.
pub async fn connect(
    url: &str,
    token: Option<String>,
    transport: &Transport,
) -> Result<(ProfileClient, PlatformMeta), CannotRun> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CannotRun::new(
            format!("--target `{url}` is not an http(s) URL"),
            "give the platform's base URL, e.g. https://platform.example.cn",
        ));
    }
    let mut config = transport.client_config(url)?;
    config.conformance_token = token;
    let client = ProfileClient::new(config).map_err(|e| {
        CannotRun::new(
            e.to_string(),
            "check --ca-cert (a PEM CA certificate) and the TLS setup",
        )
    })?;
    match client.get_meta().await {
        Ok(meta) if meta.profile_version == duxue_profile::PROFILE_VERSION => Ok((client, meta)),
        Ok(meta) => Err(CannotRun::new(
            format!(
                "{url} speaks profile {}, not {}",
                meta.profile_version,
                duxue_profile::PROFILE_VERSION
            ),
            "certify it with a duxue release for that profile",
        )),
        Err(ClientError::Transport { message, .. }) if is_certificate_problem(&message) => {
            Err(CannotRun::new(
                format!("the TLS certificate of {url} is not trusted: {message}"),
                "give the CA that signed it with --ca-cert FILE, or fix the platform's certificate (name, dates, chain)",
            ))
        }
        Err(ClientError::Transport { message, .. }) => Err(CannotRun::new(
            format!("cannot reach {url}: {message}"),
            "check --target (scheme, host, port) and that the platform is running",
        )),
        Err(
            e @ ClientError::Malformed {
                status: 300..=399, ..
            },
        ) => Err(CannotRun::new(
            format!("{url} answers with a redirect ({e})"),
            "give as --target the base URL the platform really serves; duxue follows no redirect",
        )),
        Err(e) => Err(CannotRun::new(
            format!(
                "{url} does not speak profile v1 (GET {}/meta: {e})",
                duxue_profile::BASE_PATH
            ),
            "point --target at the platform's base URL; it must serve /profile/v1/meta",
        )),
    }
}

/// Whether a transport failure is the TLS certificate's (rustls names the certificate in
/// every verification error: unknown issuer, wrong name, expired, bad encoding).
fn is_certificate_problem(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("certificate") || message.contains("unknownissuer")
}
