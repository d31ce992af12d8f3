//! What a probe returns: a verdict, the reason, the figures it judged on, and the individual
//! checks behind them. Verdicts come from checks only: no check run means INCONCLUSIVE.

use std::collections::BTreeMap;

use duxue_profile::{ClientError, RawAnswer, Verdict};
use serde::Serialize;

/// One thing a probe checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    /// `None`: the check could not decide (the target erred, or there were no samples).
    pub passed: Option<bool>,
    pub detail: String,
}

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub requirement: &'static str,
    pub verdict: Verdict,
    pub reason: String,
    pub figures: BTreeMap<String, serde_json::Value>,
    pub checks: Vec<Check>,
}

/// Collects checks and figures while a probe runs, then decides.
#[derive(Debug)]
pub struct Judge {
    requirement: &'static str,
    checks: Vec<Check>,
    figures: BTreeMap<String, serde_json::Value>,
    warnings: Vec<String>,
    skipped: Option<String>,
}

impl Judge {
    pub fn new(requirement: &'static str) -> Self {
        Judge {
            requirement,
            checks: Vec::new(),
            figures: BTreeMap::new(),
            warnings: Vec::new(),
            skipped: None,
        }
    }

    /// Takes a decided outcome up again to add checks (a WARNING keeps its reservation).
    pub fn resume(outcome: Outcome) -> Self {
        Judge {
            requirement: outcome.requirement,
            warnings: if outcome.verdict == Verdict::Warning {
                vec![outcome.reason]
            } else {
                Vec::new()
            },
            checks: outcome.checks,
            figures: outcome.figures,
            skipped: None,
        }
    }

    /// The requirement does not apply to this target; the reason says why.
    pub fn skip(&mut self, reason: impl Into<String>) {
        self.skipped = Some(reason.into());
    }

    /// Records a decided check; returns `passed` so a probe can branch on it.
    pub fn check(
        &mut self,
        name: impl Into<String>,
        passed: bool,
        detail: impl Into<String>,
    ) -> bool {
        self.checks.push(Check {
            name: name.into(),
            passed: Some(passed),
            detail: detail.into(),
        });
        passed
    }

    /// Records a check that could not be decided.
    pub fn undecided(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            passed: None,
            detail: detail.into(),
        });
    }

    /// Records that an operation the probe expected to succeed was refused or failed; a
    /// transport failure or malformed answer leaves the check undecided.
    pub fn expect_ok<T>(&mut self, name: &str, result: &Result<T, ClientError>) -> bool {
        match result {
            Ok(_) => self.check(name, true, "accepted"),
            Err(e) if e.is_refusal() => self.check(name, false, e.to_string()),
            Err(e) => {
                self.undecided(name, e.to_string());
                false
            }
        }
    }

    /// Records that an operation the probe expected to be refused was refused: a 4xx answer
    /// with a profile code ([`ClientError::is_refusal`]); a 5xx, 408, 429 or an answer that
    /// could not be read leaves the check undecided, never counts as a refusal.
    pub fn expect_refused<T: std::fmt::Debug>(
        &mut self,
        name: &str,
        result: &Result<T, ClientError>,
    ) -> bool {
        match result {
            Ok(answer) => self.accepted(name, answer),
            Err(e) if e.is_refusal() => self.check(name, true, e.to_string()),
            Err(e) => {
                self.undecided(name, e.to_string());
                false
            }
        }
    }

    /// Fails `name`: the operation was accepted, shown by the start of its answer.
    fn accepted(&mut self, name: &str, answer: &impl std::fmt::Debug) -> bool {
        let shown: String = format!("{answer:?}").chars().take(200).collect();
        self.check(name, false, format!("accepted: {shown}"))
    }

    /// Records that an operation was refused for authority, with one of `statuses` (401, 403,
    /// 404 …). Accepted fails; a refusal with another client-error status fails too (it was not
    /// refused for who asked: a body checked first, a playback already stopped); a server
    /// error or a transport failure leaves the check undecided.
    pub fn expect_denied<T: std::fmt::Debug>(
        &mut self,
        name: &str,
        result: &Result<T, ClientError>,
        statuses: &[u16],
    ) -> bool {
        match result {
            Ok(answer) => self.accepted(name, answer),
            Err(e) => self.denied_status(name, e.status(), e.is_refusal(), e.to_string(), statuses),
        }
    }

    /// As [`Judge::expect_denied`], for an answer read raw.
    pub fn expect_denied_raw(
        &mut self,
        name: &str,
        answer: &Result<RawAnswer, ClientError>,
        statuses: &[u16],
    ) -> bool {
        match answer {
            Ok(a) => {
                let body: String = String::from_utf8_lossy(&a.body).chars().take(160).collect();
                let detail = format!("HTTP {}: {body}", a.status);
                self.denied_status(name, Some(a.status), a.status >= 400, detail, statuses)
            }
            Err(e) => {
                self.undecided(name, e.to_string());
                false
            }
        }
    }

    fn denied_status(
        &mut self,
        name: &str,
        status: Option<u16>,
        refused: bool,
        detail: String,
        statuses: &[u16],
    ) -> bool {
        let wanted = statuses
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("/");
        match status {
            Some(s) if statuses.contains(&s) => self.check(name, true, detail),
            Some(s) if (200..300).contains(&s) => {
                self.check(name, false, format!("accepted: {detail}"))
            }
            Some(s) if refused && (400..500).contains(&s) => self.check(
                name,
                false,
                format!("refused, but not for authority (HTTP {wanted} expected): {detail}"),
            ),
            _ => {
                self.undecided(name, detail);
                false
            }
        }
    }

    /// Adds a figure the verdict was judged on.
    pub fn figure(&mut self, name: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.figures.insert(name.to_owned(), value);
    }

    /// A reservation that does not fail the requirement.
    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// A setup or study step failed in a way that stops the probe.
    pub fn abort(mut self, step: &str, error: &ProbeError) -> Outcome {
        self.undecided(step, error.to_string());
        self.finish()
    }

    /// Decides: any failed check → FAIL; else any undecided check or no check → INCONCLUSIVE;
    /// else WARNING if there were reservations, else PASS.
    pub fn finish(self) -> Outcome {
        let failed: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.passed == Some(false))
            .collect();
        let undecided: Vec<&Check> = self.checks.iter().filter(|c| c.passed.is_none()).collect();
        let (verdict, reason) = if let Some(first) = failed.first() {
            let more = if failed.len() > 1 {
                format!(" (and {} more failed checks)", failed.len() - 1)
            } else {
                String::new()
            };
            (
                Verdict::Fail,
                format!("{}: {}{more}", first.name, first.detail),
            )
        } else if let (true, Some(reason)) = (self.checks.is_empty(), &self.skipped) {
            (Verdict::Skipped, reason.clone())
        } else if self.checks.is_empty() {
            (
                Verdict::Inconclusive,
                "no check could be made (no samples)".to_owned(),
            )
        } else if let Some(first) = undecided.first() {
            (
                Verdict::Inconclusive,
                format!("{}: could not decide: {}", first.name, first.detail),
            )
        } else if !self.warnings.is_empty() {
            (Verdict::Warning, self.warnings.join("; "))
        } else {
            (
                Verdict::Pass,
                format!("all {} checks held", self.checks.len()),
            )
        };
        Outcome {
            requirement: self.requirement,
            verdict,
            reason,
            figures: self.figures,
            checks: self.checks,
        }
    }
}

/// Why a probe could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Setup(String),
}

impl ProbeError {
    pub fn setup(message: impl Into<String>) -> Self {
        ProbeError::Setup(message.into())
    }
}

/// The check a probe gets when some of its calls had no answer the harness could read.
pub const ANSWERS_READ: &str = "every answer the probe judged on could be read";

impl Outcome {
    /// A PASS or WARNING stands only on answers the harness could read: when `unreadable` of
    /// the probe's `exchanges` calls had none (no answer, a 5xx, 408 or 429, an answer cut
    /// off, over the body cap or not in the profile's shape), the outcome gets an undecided
    /// check naming the first, and a PASS or WARNING becomes INCONCLUSIVE. A FAIL stays: it
    /// was decided on answers that were read.
    pub fn with_unreadable_answers(
        mut self,
        unreadable: u64,
        exchanges: u64,
        first: &str,
    ) -> Outcome {
        if unreadable == 0 {
            return self;
        }
        let detail = format!(
            "{unreadable} of {exchanges} calls had no answer that could be read; the first: {first}"
        );
        self.figures.insert(
            "unreadable_answers".to_owned(),
            serde_json::Value::from(unreadable),
        );
        if matches!(self.verdict, Verdict::Pass | Verdict::Warning) {
            self.verdict = Verdict::Inconclusive;
            self.reason = format!("{ANSWERS_READ}: could not decide: {detail}");
        }
        self.checks.push(Check {
            name: ANSWERS_READ.to_owned(),
            passed: None,
            detail,
        });
        self
    }

    /// An outcome decided without running checks (for example SKIPPED as not applicable).
    pub fn decided(
        requirement: &'static str,
        verdict: Verdict,
        reason: impl Into<String>,
    ) -> Outcome {
        Outcome {
            requirement,
            verdict,
            reason: reason.into(),
            figures: BTreeMap::new(),
            checks: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_must_be_about_authority() {
        let refused = |status: u16, code: &str| {
            Err::<(), _>(ClientError::Refused {
                operation: "heartbeat",
                status,
                error: duxue_profile::ErrorBody {
                    code: code.into(),
                    message: String::new(),
                },
            })
        };
        let mut judge = Judge::new("X-1");
        assert!(judge.expect_denied("a", &refused(403, "read_only"), &[401, 403]));
        assert!(!judge.expect_denied("b", &refused(404, "not_found"), &[401, 403]));
        assert!(!judge.expect_denied("c", &Ok(()), &[401, 403]));
        assert!(!judge.expect_denied("d", &refused(500, "internal"), &[401, 403]));
        let passed: Vec<_> = judge.checks.iter().map(|c| c.passed).collect();
        assert_eq!(passed, [Some(true), Some(false), Some(false), None]);
    }

    #[test]
    fn no_checks_is_inconclusive_and_a_failure_wins() {
        assert_eq!(Judge::new("X-1").finish().verdict, Verdict::Inconclusive);
        let mut judge = Judge::new("X-1");
        judge.check("a", true, "");
        judge.undecided("b", "timeout");
        assert_eq!(judge.finish().verdict, Verdict::Inconclusive);
        let mut judge = Judge::new("X-1");
        judge.undecided("b", "timeout");
        judge.check("c", false, "credited 100 s");
        let outcome = judge.finish();
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert!(outcome.reason.starts_with("c: credited 100 s"));
        let mut judge = Judge::new("X-1");
        judge.check("a", true, "");
        assert_eq!(judge.finish().verdict, Verdict::Pass);
    }

    #[test]
    fn a_pass_needs_every_answer_read_and_a_failure_stays() {
        let mut judge = Judge::new("X-1");
        judge.check("a", true, "");
        let pass = judge.finish();
        assert_eq!(pass.clone().with_unreadable_answers(0, 9, ""), pass);
        let doubted = pass.with_unreadable_answers(2, 9, "heartbeat: HTTP 503");
        assert_eq!(doubted.verdict, Verdict::Inconclusive);
        assert!(
            doubted.reason.contains("heartbeat: HTTP 503"),
            "{}",
            doubted.reason
        );
        assert_eq!(doubted.figures["unreadable_answers"], 2);
        let mut judge = Judge::new("X-1");
        judge.check("credit", false, "credited 100 s");
        let failed = judge.finish().with_unreadable_answers(1, 9, "reset");
        assert_eq!(failed.verdict, Verdict::Fail);
        assert!(failed.reason.starts_with("credit: credited 100 s"));
        assert_eq!(failed.checks.len(), 2);
    }
}
