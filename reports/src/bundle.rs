//! The signed evidence bundle: `manifest.json` lists the SHA-256 and size of every file of a
//! run folder (except itself and its signature); `manifest.sig` is the ed25519 signature of
//! manifest.json's exact bytes, written as 128 lowercase hex characters and one newline.
//!
//! Without a signing key a fresh key is made for the run: its public half is recorded in the
//! manifest with `"self_signed": true` and its private half is dropped, never written. Such a
//! bundle proves only that nothing changed since it was sealed by whoever sealed it; a bureau
//! that wants more gives its own key (`duxue report keygen`) and verifies with `--public-key`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::RenderError;

/// Schema identifier of `manifest.json`.
pub const MANIFEST_SCHEMA: &str = "duxue.manifest/v1";
/// The manifest's file name in the run folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The signature's file name in the run folder.
pub const SIGNATURE_FILE: &str = "manifest.sig";

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub run_id: String,
    pub verdict: String,
    pub sealed_at: DateTime<Utc>,
    /// Always `sha256`.
    pub hash: String,
    /// Always `ed25519`; the signature is in `manifest.sig` (hex).
    pub signature_algorithm: String,
    /// The ed25519 public key that signs this manifest, 64 hex characters.
    pub public_key: String,
    /// True when the key was made for this run only (no `--signing-key`).
    pub self_signed: bool,
    /// Every file of the run folder except manifest.json and manifest.sig, sorted by path.
    pub files: Vec<ManifestEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative to the run folder, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Where the signing key comes from.
#[derive(Debug)]
pub enum SigningKeySource {
    /// A key made for this run only; its private half is never written anywhere.
    Ephemeral,
    /// A key file: 64 hex characters (the 32-byte seed) or PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    File(PathBuf),
    /// A key already in memory.
    Key(Box<SigningKey>),
}

/// What [`seal_run`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Sealed {
    pub manifest: PathBuf,
    pub signature: PathBuf,
    /// Hex of the public key that verifies the signature.
    pub public_key: String,
    pub self_signed: bool,
    /// Files listed in the manifest.
    pub files: usize,
    pub verdict: crate::RunVerdict,
}

/// A key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: not a key ({message}); expected 64 hex characters or a PEM key ({expected})")]
    Format {
        path: String,
        message: String,
        expected: &'static str,
    },
    #[error("{path}: the signing key lies inside the run folder it would seal; keep it elsewhere")]
    InsideRun { path: String },
    #[error("{path} exists already; choose another file (keys are never overwritten)")]
    Exists { path: String },
}

/// Sealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// Verification could not even start: the folder (or a file in it) cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}: cannot read the run folder: {message}")]
    CannotRead { path: String, message: String },
}

/// One way a bundle fails verification; each names the file concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The folder has no manifest.json (not sealed, or the manifest was removed).
    ManifestMissing,
    SignatureMissing,
    /// manifest.json is not a manifest any more.
    ManifestUnreadable {
        message: String,
    },
    /// manifest.sig is not 128 hex characters and a newline.
    SignatureUnreadable,
    /// The signature does not hold over manifest.json's bytes.
    BadSignature,
    /// The manifest names another public key than the one the caller trusts.
    WrongKey {
        expected: String,
        found: String,
    },
    /// The manifest's public key is not a valid ed25519 key.
    BadPublicKey,
    Changed {
        path: String,
    },
    Missing {
        path: String,
    },
    Added {
        path: String,
    },
}

impl Problem {
    /// The file this problem is about.
    pub fn path(&self) -> &str {
        match self {
            Problem::ManifestMissing
            | Problem::ManifestUnreadable { .. }
            | Problem::WrongKey { .. }
            | Problem::BadPublicKey => MANIFEST_FILE,
            Problem::SignatureMissing | Problem::SignatureUnreadable | Problem::BadSignature => {
                SIGNATURE_FILE
            }
            Problem::Changed { path } | Problem::Missing { path } | Problem::Added { path } => path,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::ManifestMissing => write!(
                f,
                "{MANIFEST_FILE} is missing: the folder is not sealed (`duxue report render DIR` seals it)"
            ),
            Problem::SignatureMissing => write!(f, "{SIGNATURE_FILE} is missing"),
            Problem::ManifestUnreadable { message } => {
                write!(
                    f,
                    "{MANIFEST_FILE} changed: not a manifest any more ({message})"
                )
            }
            Problem::SignatureUnreadable => write!(
                f,
                "{SIGNATURE_FILE} changed: not a hex ed25519 signature any more"
            ),
            Problem::BadSignature => write!(
                f,
                "bad signature: {MANIFEST_FILE} or {SIGNATURE_FILE} changed since sealing"
            ),
            Problem::WrongKey { expected, found } => write!(
                f,
                "{MANIFEST_FILE} is signed by another key ({found}), not the trusted public key ({expected})"
            ),
            Problem::BadPublicKey => {
                write!(
                    f,
                    "{MANIFEST_FILE} changed: its public key is not an ed25519 key"
                )
            }
            Problem::Changed { path } => write!(f, "{path} changed since sealing"),
            Problem::Missing { path } => write!(f, "{path} is missing (listed in {MANIFEST_FILE})"),
            Problem::Added { path } => {
                write!(f, "{path} was added after sealing (not in {MANIFEST_FILE})")
            }
        }
    }
}

/// The result of [`verify_run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyOutcome {
    /// Files whose hash was checked.
    pub files_checked: usize,
    /// Hex of the public key the signature was checked against (empty if none was found).
    pub public_key: String,
    /// True when the caller supplied that key; false when it was taken from the manifest.
    pub key_trusted: bool,
    /// What the manifest says (false when it could not be read).
    pub self_signed: bool,
    /// Every problem found, signature problems first, then files in manifest order, then
    /// files added.
    pub problems: Vec<Problem>,
}

impl VerifyOutcome {
    /// Every hash and the signature hold.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> SealError {
    SealError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Renders `report.html`, `summary.md` and `junit.xml` from `report.json`, then writes
/// `manifest.json` (SHA-256 of every file) and its signature `manifest.sig`.
pub fn seal_run(dir: &Path, key: SigningKeySource) -> Result<Sealed, SealError> {
    let (signing_key, self_signed) = match key {
        SigningKeySource::Ephemeral => (SigningKey::from_bytes(&rand::random::<[u8; 32]>()), true),
        SigningKeySource::File(path) => {
            refuse_key_inside(&path, dir)?;
            (read_signing_key(&path)?, false)
        }
        SigningKeySource::Key(key) => (*key, false),
    };
    let report = crate::render_run(dir)?;
    let files = hash_folder(dir).map_err(|e| match e {
        VerifyError::CannotRead { path, message } => SealError::Io { path, message },
    })?;
    let public_key = hex::encode(signing_key.verifying_key().as_bytes());
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.to_owned(),
        run_id: report.run.run_id.clone(),
        verdict: report.verdict.as_str().to_owned(),
        sealed_at: Utc::now(),
        hash: "sha256".to_owned(),
        signature_algorithm: "ed25519".to_owned(),
        public_key: public_key.clone(),
        self_signed,
        files,
    };
    let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| io_error(dir, e))?;
    bytes.push(b'\n');
    let signature = signing_key.sign(&bytes);
    let manifest_path = dir.join(MANIFEST_FILE);
    let signature_path = dir.join(SIGNATURE_FILE);
    std::fs::write(&manifest_path, &bytes).map_err(|e| io_error(&manifest_path, e))?;
    std::fs::write(
        &signature_path,
        format!("{}\n", hex::encode(signature.to_bytes())),
    )
    .map_err(|e| io_error(&signature_path, e))?;
    Ok(Sealed {
        manifest: manifest_path,
        signature: signature_path,
        public_key,
        self_signed,
        files: manifest.files.len(),
        verdict: report.verdict,
    })
}

/// Checks every file of a sealed run folder against its manifest and the manifest against
/// its signature. With `public_key`, the manifest must also be signed by that key; without,
/// the key recorded in the manifest is used (which proves only internal consistency).
pub fn verify_run(
    dir: &Path,
    public_key: Option<&VerifyingKey>,
) -> Result<VerifyOutcome, VerifyError> {
    let cannot = |path: &Path, e: &dyn std::fmt::Display| VerifyError::CannotRead {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(dir).map_err(|e| cannot(dir, &e))?;
    if !meta.is_dir() {
        return Err(cannot(dir, &"not a folder"));
    }
    let mut outcome = VerifyOutcome {
        files_checked: 0,
        public_key: public_key
            .map(|k| hex::encode(k.as_bytes()))
            .unwrap_or_default(),
        key_trusted: public_key.is_some(),
        self_signed: false,
        problems: Vec::new(),
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest_bytes =
        match read_optional(&manifest_path).map_err(|e| cannot(&manifest_path, &e))? {
            Some(bytes) => bytes,
            None => {
                outcome.problems.push(Problem::ManifestMissing);
                return Ok(outcome);
            }
        };
    let manifest: Manifest = match crate::parse_json(&manifest_bytes) {
        Ok(m) => m,
        Err(message) => {
            outcome
                .problems
                .push(Problem::ManifestUnreadable { message });
            return Ok(outcome);
        }
    };
    if manifest.schema != MANIFEST_SCHEMA {
        outcome.problems.push(Problem::ManifestUnreadable {
            message: format!("schema {}", manifest.schema),
        });
        return Ok(outcome);
    }
    outcome.self_signed = manifest.self_signed;
    // The key the signature must hold for.
    let recorded = parse_hex_key(&manifest.public_key);
    let key = match (public_key, recorded) {
        (Some(trusted), recorded) => {
            if recorded.as_ref() != Some(trusted) {
                outcome.problems.push(Problem::WrongKey {
                    expected: hex::encode(trusted.as_bytes()),
                    found: manifest.public_key.clone(),
                });
            }
            Some(*trusted)
        }
        (None, Some(recorded)) => {
            outcome.public_key = hex::encode(recorded.as_bytes());
            Some(recorded)
        }
        (None, None) => {
            outcome.problems.push(Problem::BadPublicKey);
            None
        }
    };
    let signature_path = dir.join(SIGNATURE_FILE);
    match read_optional(&signature_path).map_err(|e| cannot(&signature_path, &e))? {
        None => outcome.problems.push(Problem::SignatureMissing),
        Some(text) => match parse_signature(&text) {
            None => outcome.problems.push(Problem::SignatureUnreadable),
            Some(signature) => {
                if let Some(key) = key
                    && key.verify_strict(&manifest_bytes, &signature).is_err()
                    && !outcome
                        .problems
                        .iter()
                        .any(|p| matches!(p, Problem::WrongKey { .. }))
                {
                    outcome.problems.push(Problem::BadSignature);
                }
            }
        },
    }
    // Every listed file, then every file not listed.
    let on_disk = list_files(dir)?;
    for entry in &manifest.files {
        let path = safe_join(dir, &entry.path);
        let Some(path) = path else {
            outcome.problems.push(Problem::Changed {
                path: entry.path.clone(),
            });
            continue;
        };
        if !on_disk.iter().any(|p| p == &entry.path) {
            outcome.problems.push(Problem::Missing {
                path: entry.path.clone(),
            });
            continue;
        }
        let (size, sha256) = hash_file(&path).map_err(|e| cannot(&path, &e))?;
        outcome.files_checked += 1;
        if size != entry.size || sha256 != entry.sha256 {
            outcome.problems.push(Problem::Changed {
                path: entry.path.clone(),
            });
        }
    }
    for path in on_disk {
        if !manifest.files.iter().any(|e| e.path == path) {
            outcome.problems.push(Problem::Added { path });
        }
    }
    Ok(outcome)
}

/// Reads a signing key: 64 hex characters (the seed), or PKCS#8 PEM.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read_key_text(path)?;
    let trimmed = text.trim();
    if trimmed.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(trimmed).map_err(|e| KeyError::Format {
            path: path.display().to_string(),
            message: e.to_string(),
            expected: "PKCS#8 `BEGIN PRIVATE KEY`",
        });
    }
    let bytes = hex_32(trimmed).ok_or_else(|| KeyError::Format {
        path: path.display().to_string(),
        message: format!("{} characters", trimmed.chars().count()),
        expected: "PKCS#8 `BEGIN PRIVATE KEY`",
    })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Reads a public key: 64 hex characters, or PEM (`BEGIN PUBLIC KEY`, SubjectPublicKeyInfo).
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = read_key_text(path)?;
    let trimmed = text.trim();
    let format = |message: String| KeyError::Format {
        path: path.display().to_string(),
        message,
        expected: "`BEGIN PUBLIC KEY`",
    };
    if trimmed.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(trimmed).map_err(|e| format(e.to_string()));
    }
    parse_hex_key(trimmed).ok_or_else(|| format("not an ed25519 public key".to_owned()))
}

/// Writes a fresh signing key (64 hex characters, readable by the owner only) to `path` and
/// its public key to `path.pub`; returns the public key. Never overwrites a file.
pub fn generate_key_file(path: &Path) -> Result<VerifyingKey, KeyError> {
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let public = key.verifying_key();
    let public_path = pub_path(path);
    for p in [path, public_path.as_path()] {
        if p.exists() {
            return Err(KeyError::Exists {
                path: p.display().to_string(),
            });
        }
    }
    let io = |p: &Path, e: std::io::Error| KeyError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io(path, e))?;
    std::io::Write::write_all(
        &mut file,
        format!("{}\n", hex::encode(key.to_bytes())).as_bytes(),
    )
    .map_err(|e| io(path, e))?;
    std::fs::write(
        &public_path,
        format!("{}\n", hex::encode(public.as_bytes())),
    )
    .map_err(|e| io(&public_path, e))?;
    Ok(public)
}

/// `key` → `key.pub`.
pub fn pub_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Which of `secrets` occur in which files of a run folder (raw, or JSON-escaped).
/// Returns (relative path, index into `secrets`) pairs; the secrets themselves are never
/// echoed.
pub fn find_secrets(dir: &Path, secrets: &[&str]) -> Result<Vec<(String, usize)>, VerifyError> {
    let mut hits = Vec::new();
    for path in list_files(dir)? {
        let full = dir.join(&path);
        let bytes = std::fs::read(&full).map_err(|e| VerifyError::CannotRead {
            path: full.display().to_string(),
            message: e.to_string(),
        })?;
        for (index, secret) in secrets.iter().enumerate() {
            if secret.is_empty() {
                continue;
            }
            let escaped = serde_json::to_string(secret).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if contains(&bytes, secret.as_bytes()) || contains(&bytes, escaped.as_bytes()) {
                hits.push((path.clone(), index));
            }
        }
    }
    Ok(hits)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn read_key_text(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|e| KeyError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn refuse_key_inside(key: &Path, dir: &Path) -> Result<(), KeyError> {
    if let (Ok(key_abs), Ok(dir_abs)) = (key.canonicalize(), dir.canonicalize())
        && key_abs.starts_with(&dir_abs)
    {
        return Err(KeyError::InsideRun {
            path: key.display().to_string(),
        });
    }
    Ok(())
}

fn hex_32(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

fn parse_hex_key(text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&hex_32(text)?).ok()
}

/// Exactly 128 lowercase or uppercase hex characters, optionally one `\n`: any other byte
/// makes the file unreadable, so a change to any byte of it is detected.
fn parse_signature(bytes: &[u8]) -> Option<Signature> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.len() != 128 {
        return None;
    }
    let raw: [u8; 64] = hex::decode(body).ok()?.try_into().ok()?;
    Some(Signature::from_bytes(&raw))
}

fn read_optional(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A manifest path joined to the folder, refusing absolute paths and `..`.
pub(crate) fn safe_join(dir: &Path, relative: &str) -> Option<PathBuf> {
    let mut out = dir.to_path_buf();
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            return None;
        }
        out.push(part);
    }
    Some(out)
}

/// Every regular file under `dir` except manifest.json and manifest.sig, as sorted
/// `/`-separated relative paths. Symbolic links count as files (and fail to hash if dangling).
pub fn list_files(dir: &Path) -> Result<Vec<String>, VerifyError> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.retain(|p| p != MANIFEST_FILE && p != SIGNATURE_FILE);
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), VerifyError> {
    let cannot = |path: &Path, e: std::io::Error| VerifyError::CannotRead {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    for entry in std::fs::read_dir(dir).map_err(|e| cannot(dir, e))? {
        let entry = entry.map_err(|e| cannot(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type().map_err(|e| cannot(&entry.path(), e))?;
        if kind.is_dir() {
            walk(&entry.path(), &relative, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

fn hash_folder(dir: &Path) -> Result<Vec<ManifestEntry>, VerifyError> {
    list_files(dir)?
        .into_iter()
        .map(|path| {
            let full = dir.join(&path);
            let (size, sha256) = hash_file(&full).map_err(|e| VerifyError::CannotRead {
                path: full.display().to_string(),
                message: e.to_string(),
            })?;
            Ok(ManifestEntry { path, size, sha256 })
        })
        .collect()
}

/// Size and SHA-256 (hex) of a file, streamed.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}
