//! One probe per requirement. Each states its requirement ID, sets up its own cohort, runs
//! honest controls and cheating attempts, and judges on what it observed.

use std::future::Future;
use std::pin::Pin;

use crate::context::ProbeContext;
use crate::outcome::{Judge, Outcome, ProbeError};

mod capture;
mod catalog_rules;
mod identity;
mod playback;
mod retention;
mod security;
mod sitting;
mod supervision;

pub use security::judge_plain_http;

pub type ProbeFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// A probe: the requirement it judges and how to run it.
#[derive(Clone, Copy)]
pub struct Probe {
    pub id: &'static str,
    pub run: fn(ProbeContext) -> ProbeFuture,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("id", &self.id).finish()
    }
}

macro_rules! probes {
    ($($id:literal => $body:path,)*) => {
        /// Every probe, in catalog order (LD-1 and LD-2 belong to the population phase).
        pub fn all_probes() -> Vec<Probe> {
            vec![$(Probe {
                id: $id,
                run: |ctx| Box::pin(async move {
                    let mut judge = Judge::new($id);
                    match $body(&ctx, &mut judge).await {
                        Ok(()) => judge.finish(),
                        Err(e) => judge.abort("probe step", &e),
                    }
                }),
            },)*]
        }
    };
}

probes! {
    "ID-1" => identity::real_name_registration,
    "ID-2" => identity::registration_face_matches_id_card,
    "ID-3" => identity::liveness_before_every_login,
    "ID-4" => identity::liveness_refuses_spoofs,
    "ID-5" => identity::one_account_one_place,
    "PB-1" => playback::no_seeking,
    "PB-2" => playback::no_speed_up,
    "PB-3" => playback::no_multi_window,
    "PB-4" => playback::popup_every_five_minutes,
    "PB-5" => playback::no_idle_credit,
    "PB-6" => playback::lessons_in_order,
    "BC-1" => capture::capture_every_class_hour,
    "BC-2" => capture::capture_times_random,
    "BC-3" => capture::failed_capture_withholds,
    "EN-1" => catalog_rules::cooldown_after_assessment,
    "EN-2" => catalog_rules::pure_online_occupations,
    "EN-3" => catalog_rules::enterprise_organises_pure_online,
    "EN-4" => catalog_rules::approved_occupations_only,
    "CD-1" => catalog_rules::blended_online_share,
    "CD-2" => catalog_rules::general_share,
    "SV-1" => supervision::supervisor_accounts,
    "SV-2" => supervision::real_time_monitoring,
    "SV-3" => supervision::scoped_supervisors,
    "SV-4" => supervision::read_only_supervisors,
    "SV-5" => supervision::captures_and_liveness_retrievable,
    "SV-6" => supervision::self_check_flags_brushing,
    "SV-7" => supervision::completion_export_agrees,
    "SV-8" => supervision::subsidy_payee,
    "RT-1" => retention::three_year_retention,
    "SC-1" => security::https_off_loopback,
    "SC-2" => security::tokens_checked,
    "SC-3" => security::learners_isolated,
    "SC-4" => security::conformance_token_required,
}

/// Figures of a study log that every study-based probe reports.
pub fn study_figures(judge: &mut Judge, prefix: &str, log: &crate::learner::StudyLog) {
    judge.figure(&format!("{prefix}.credited_seconds"), round(log.credited));
    judge.figure(
        &format!("{prefix}.creditable_seconds"),
        round(log.creditable),
    );
    judge.figure(&format!("{prefix}.elapsed_seconds"), round(log.elapsed));
    judge.figure(&format!("{prefix}.heartbeats"), log.heartbeats_sent);
}

pub fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Checks that the heartbeat interval the platform asked for in these playbacks lies within
/// the policy's bounds: every check resolved to one interval (seeks, speed, presence, capture
/// times, the credit slack) relies on it. The slack itself never exceeds the policy's bound
/// ([`StudyLog::credit_slack`](crate::study::StudyLog::credit_slack)), so a figure outside
/// the bounds fails here, with its reason, and nowhere makes a check unable to fail.
pub(crate) fn check_heartbeat_interval<'a>(
    judge: &mut Judge,
    policy: &duxue_profile::Policy,
    logs: impl IntoIterator<Item = &'a crate::study::StudyLog>,
) {
    let declared: Vec<f64> = logs
        .into_iter()
        .filter_map(|l| l.playback.as_ref().map(|p| p.heartbeat_interval_seconds))
        .collect();
    let (min, max) = policy.heartbeat_interval_bounds();
    let Some(outside) = declared
        .iter()
        .copied()
        .find(|d| !policy.heartbeat_interval_allowed(*d))
        .or(declared.first().copied())
    else {
        return;
    };
    judge.figure("declared_heartbeat_interval_seconds", outside);
    judge.check(
        "the heartbeat interval the platform asks for lies within the policy's bounds",
        policy.heartbeat_interval_allowed(outside),
        format!(
            "declared {outside} s; the policy allows {min}–{max} s \
             (heartbeat_interval_min_seconds, heartbeat_interval_max_seconds): seeks, speed, \
             presence and capture times are resolved to one interval"
        ),
    );
}

/// Checks that a cheating learner was credited no more than its ledger allows.
pub fn check_not_overcredited(
    judge: &mut Judge,
    who: &str,
    log: &crate::learner::StudyLog,
) -> bool {
    if log.acks == 0 && log.refusals.is_empty() && log.start_refused.is_none() {
        judge.undecided(format!("{who} credit"), "no heartbeat was answered");
        return false;
    }
    check_credit_within(
        judge,
        format!("{who} is credited no more than it legitimately played"),
        log,
        log.creditable,
        format!(
            "credited {:.1} s, creditable {:.1} s (slack {:.1} s)",
            log.credited,
            log.creditable,
            log.credit_slack()
        ),
    )
}

/// Checks that `log`'s credit stays within `bound` plus the credit slack. An excess no larger
/// than the platform's slowest heartbeat answer is undecided, never passed: the platform reads
/// its clock somewhere within each beat's round trip, so that much over-credit cannot be told
/// from the time its own answers took.
pub(crate) fn check_credit_within(
    judge: &mut Judge,
    name: String,
    log: &crate::learner::StudyLog,
    bound: f64,
    detail: String,
) -> bool {
    let over = log.credited - bound - log.credit_slack();
    if over > 0.0 && over <= log.slowest_beat_answer {
        judge.undecided(
            name,
            format!(
                "{detail}: {over:.1} s over, within the {:.1} s (cohort) its slowest heartbeat \
                 answer took",
                log.slowest_beat_answer
            ),
        );
        return false;
    }
    judge.check(name, over <= 0.0, detail)
}

/// Checks that an honest learner was not denied more than the policy's tolerance.
pub fn check_honest_credited(
    judge: &mut Judge,
    ctx: &ProbeContext,
    who: &str,
    log: &crate::learner::StudyLog,
) -> bool {
    if log.acks == 0 {
        let why = log
            .start_refused
            .as_ref()
            .map_or("no heartbeat was answered".to_owned(), |c| {
                format!("playback refused: {c}")
            });
        judge.check(format!("{who} (honest control) studies"), false, why);
        return false;
    }
    let hours = (log.creditable / ctx.policy.class_hour_seconds())
        .ceil()
        .max(1.0);
    let tolerance = ctx
        .policy
        .judging
        .honest_denied_seconds_per_class_hour
        .value
        * hours;
    let denied = (log.creditable - log.credited).max(0.0);
    judge.check(
        format!("{who} (honest control) is credited what it studied"),
        denied <= tolerance,
        format!(
            "credited {:.1} s of {:.1} s creditable (denied {:.1} s, tolerance {:.1} s)",
            log.credited, log.creditable, denied, tolerance
        ),
    )
}

pub(crate) fn setup<T>(
    what: &str,
    result: Result<T, duxue_profile::ClientError>,
) -> Result<T, ProbeError> {
    result.map_err(|e| ProbeError::setup(format!("{what}: {e}")))
}
