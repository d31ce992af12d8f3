//! The files a spot check is given, both TOML a bureau can write by hand: the learner accounts
//! it holds on the platform (`--accounts`) and its supervisor account(s) (`--supervisor`).
//! `duxue platform serve` writes the supervisor file of the reference platform's production
//! side; `duxue register-accounts` writes an accounts file.

use std::path::Path;

use duxue_profile::SupervisorKind;
use serde::{Deserialize, Serialize};

use crate::error::CannotRun;

/// The learner accounts a bureau holds on a production platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsFile {
    #[serde(rename = "account", default)]
    pub accounts: Vec<Account>,
}

/// One learner account, registered with a duxue synthetic identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The identity seed the account was registered with (`duxue media identity --seed S`):
    /// duxue answers its liveness checks and captures as that person.
    pub identity_seed: u64,
    /// The ID number registered; must be the seed's person's.
    pub id_number: String,
    pub password: String,
    /// The class the account is enrolled in, or may enrol in.
    pub class_id: String,
}

/// The supervisor account(s) a bureau holds on the platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorFile {
    #[serde(rename = "supervisor", default)]
    pub supervisors: Vec<SupervisorAccount>,
}

/// One supervisor account. An authority or audit account watches every learner; an enterprise
/// or institution account, when given, lets the spot check judge that it sees only its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorAccount {
    pub username: String,
    pub password: String,
    /// What the account is (the platform's login answer says it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SupervisorKind>,
    /// For an enterprise or institution account: the organisation it supervises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_name: Option<String>,
}

/// The first line of a parser's message (TOML errors span several lines).
fn first_line(message: &str) -> String {
    message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim()
        .to_owned()
}

fn read_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    flag: &str,
    example: &str,
) -> Result<T, CannotRun> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CannotRun::new(
            format!("{flag} {}: {e}", path.display()),
            format!("give the path of a TOML file ({example})"),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        CannotRun::new(
            format!("{flag} {}: {}", path.display(), first_line(&e.to_string())),
            format!("fix the file ({example})"),
        )
    })
}

impl AccountsFile {
    /// Reads and checks an accounts file: at least two accounts, each ID number the one of
    /// its identity seed, no account twice.
    pub fn load(path: &Path) -> Result<AccountsFile, CannotRun> {
        const EXAMPLE: &str = "[[account]] with identity_seed, id_number, password, class_id";
        let file: AccountsFile = read_toml(path, "--accounts", EXAMPLE)?;
        if file.accounts.len() < 2 {
            return Err(CannotRun::new(
                format!(
                    "--accounts {} holds {} account(s); a spot check needs at least two",
                    path.display(),
                    file.accounts.len()
                ),
                "register more accounts (`duxue register-accounts`); eight or more make a \
                 spot check hard to single out",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (n, account) in file.accounts.iter().enumerate() {
            let person = duxue_media::identity(account.identity_seed);
            if !person
                .id_number
                .eq_ignore_ascii_case(account.id_number.trim())
            {
                return Err(CannotRun::new(
                    format!(
                        "--accounts {}: account {} has ID number {}, but identity seed {} is \
                         the person with ID number {}",
                        path.display(),
                        n + 1,
                        account.id_number,
                        account.identity_seed,
                        person.id_number
                    ),
                    "give each account the seed it was registered with \
                     (`duxue media identity --seed S` shows the person)",
                ));
            }
            if !seen.insert(account.identity_seed) {
                return Err(CannotRun::new(
                    format!(
                        "--accounts {}: identity seed {} is listed twice",
                        path.display(),
                        account.identity_seed
                    ),
                    "list each account once",
                ));
            }
        }
        Ok(file)
    }
}

impl SupervisorFile {
    /// Reads and checks a supervisor file: at least one account.
    pub fn load(path: &Path) -> Result<SupervisorFile, CannotRun> {
        const EXAMPLE: &str = "[[supervisor]] with username and password";
        let file: SupervisorFile = read_toml(path, "--supervisor", EXAMPLE)?;
        if file.supervisors.is_empty() {
            return Err(CannotRun::new(
                format!("--supervisor {} holds no account", path.display()),
                format!("add an authority or audit account ({EXAMPLE})"),
            ));
        }
        Ok(file)
    }
}

/// Writes a TOML file that must not exist yet (it holds passwords: owner-only on Unix).
pub fn write_new<T: Serialize>(path: &Path, header: &str, value: &T) -> std::io::Result<()> {
    let body = toml::to_string(value).map_err(std::io::Error::other)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = options.open(path)?;
    std::io::Write::write_all(&mut file, format!("{header}\n{body}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_and_a_wrong_seed_is_one_clear_line() {
        let person = duxue_media::identity(41);
        let file = AccountsFile {
            accounts: vec![
                Account {
                    identity_seed: 41,
                    id_number: person.id_number.clone(),
                    password: "p".into(),
                    class_id: "cls_1".into(),
                },
                Account {
                    identity_seed: 42,
                    id_number: duxue_media::identity(42).id_number,
                    password: "q".into(),
                    class_id: "cls_1".into(),
                },
            ],
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("accounts.toml");
        write_new(&path, "# accounts", &file).expect("write");
        assert_eq!(AccountsFile::load(&path).expect("loads"), file);
        assert!(write_new(&path, "", &file).is_err(), "never overwritten");

        let mut wrong = file.clone();
        wrong.accounts[1].identity_seed = 43;
        let path = dir.path().join("wrong.toml");
        write_new(&path, "", &wrong).expect("write");
        let e = AccountsFile::load(&path).expect_err("a seed of another person");
        assert!(e.what.contains("identity seed 43"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
