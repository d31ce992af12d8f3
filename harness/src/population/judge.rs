//! LD-1 and LD-2, judged on what the population phase measured.

use std::collections::BTreeMap;

use duxue_profile::{Policy, Verdict};
use duxue_scenarios::behaviour::Counting;
use duxue_scenarios::learner::Presentation;
use duxue_scenarios::population::{Tally, behaviour_named};
use duxue_scenarios::{Judge, Outcome};

use super::recorder::OperationHistograms;
use super::section::{PopulationSection, operation_row};

/// The budget an operation's peak p99 is held to.
fn budget_ms(policy: &Policy, operation: &str) -> u64 {
    match operation {
        "heartbeat" => policy.budgets.heartbeat_p99_ms.value,
        "login" | "requestChallenge" => policy.budgets.login_p99_ms.value,
        _ => policy.budgets.other_p99_ms.value,
    }
}

/// Whether a tally's learner presents itself genuinely at login (everybody but the spoofers).
fn genuine(tally: &Tally) -> bool {
    behaviour_named(&tally.behaviour).is_none_or(|b| b.presentation() == Presentation::Genuine)
}

/// LD-1: at the declared peak, every learner who may get in is in at once (a learner counts
/// from a successful login), every operation's p99 (from the intended send time) within its
/// budget, and the error rate within the policy's, a genuine person refused at login counting
/// as an error.
pub fn peak_load_held(
    policy: &Policy,
    learners: u64,
    section: &PopulationSection,
    operations: &BTreeMap<String, OperationHistograms>,
    tallies: &[Tally],
) -> Outcome {
    let mut j = Judge::new("LD-1");
    // Requests and errors of the hold, from the per-second timeline (merged shards add theirs).
    let from = section.shape.ramp_up_s;
    let to = section.shape.ramp_up_s + section.shape.hold_s;
    let peak_ticks = || {
        section
            .timeline
            .iter()
            .filter(|t| t.t_s > from && t.t_s <= to)
    };
    let peak_requests: u64 = peak_ticks().map(|t| t.requests).sum();
    let most_active = section.timeline.iter().map(|t| t.active).max().unwrap_or(0);
    // Spoofers are kept out by design; everybody else must get in.
    let genuine_share = if tallies.is_empty() {
        1.0
    } else {
        tallies.iter().filter(|t| genuine(t)).count() as f64 / tallies.len() as f64
    };
    let expected = (learners as f64 * genuine_share).floor();
    let logins_refused: u64 = tallies
        .iter()
        .filter(|t| genuine(t))
        .map(|t| u64::from(t.logins_refused))
        .sum();
    let kept_out = tallies
        .iter()
        .filter(|t| genuine(t) && t.learner_id.is_some() && !t.admitted)
        .count();
    let peak_errors: u64 = peak_ticks().map(|t| t.errors).sum::<u64>() + logins_refused;
    j.figure("declared_peak_learners", learners);
    j.figure("learners_who_may_get_in", expected);
    j.figure("most_learners_active", most_active);
    j.figure("genuine_logins_refused", logins_refused);
    j.figure("genuine_learners_kept_out", kept_out);
    j.figure("peak_requests", peak_requests);
    j.figure("peak_errors", peak_errors);
    if peak_requests == 0 {
        j.undecided("latency at peak", "no request was answered during the hold");
        return j.finish();
    }
    // Learners count from a successful login to leaving; a platform that keeps them out (with
    // whatever answer) or throws them off does not reach its declared peak.
    j.check(
        "the declared number of learners was logged in and active at once",
        most_active as f64 >= expected * 0.95,
        format!(
            "{most_active} at most of the {expected:.0} of {learners} who present themselves genuinely"
        ),
    );
    j.check(
        "no genuine learner was refused at login",
        logins_refused == 0,
        format!("{logins_refused} genuine logins refused, {kept_out} learners kept out"),
    );
    let mut p99s = BTreeMap::new();
    for (name, h) in operations {
        if h.peak.is_empty() {
            continue;
        }
        let row = operation_row(name, &h.peak, h.peak_requests, h.peak_errors);
        let budget = budget_ms(policy, name);
        p99s.insert(name.to_string(), row.p99_ms);
        j.check(
            format!("{name} p99 at peak within {budget} ms"),
            row.p99_ms <= budget as f64,
            format!(
                "p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms over {} requests",
                row.p99_ms, row.p999_ms, row.max_ms, row.count
            ),
        );
    }
    j.figure("peak_p99_ms", p99s);
    let rate = peak_errors as f64 / peak_requests as f64;
    let max = policy.budgets.error_rate_max.value;
    j.figure("peak_error_rate", rate);
    j.check(
        format!("error rate at peak at most {max}"),
        rate <= max,
        format!("{peak_errors} errors in {peak_requests} requests"),
    );
    j.finish()
}

/// The requirement whose probe judged the control a behaviour cheats, and whether the
/// platform can refuse it at the time (a script caught only afterwards cannot be).
fn probe_of(behaviour: &str) -> Option<(&'static str, bool)> {
    let unit = behaviour_named(behaviour)?.unit();
    let probe = unit.attacks.as_deref()?;
    Some((probe, unit.counts != Counting::SelfCheck))
}

/// LD-2: at peak the controls are as good as in the probe phase: the largest popup gap,
/// captures per class hour, every cheat refused, no cheating second credited, honest time
/// denied within the tolerance. A control whose own probe did not pass is not judged again
/// here (it already failed on its own requirement); it is reported as a figure.
pub fn controls_hold_under_load(
    policy: &Policy,
    section: &PopulationSection,
    tallies: &[Tally],
    probe_verdicts: &BTreeMap<String, Verdict>,
) -> Outcome {
    let mut j = Judge::new("LD-2");
    let passed_probe = |id: &str| probe_verdicts.get(id).is_none_or(|v| *v == Verdict::Pass);
    let honest: Vec<&Tally> = tallies
        .iter()
        .filter(|t| t.behaviour == "honest" && t.admitted)
        .collect();
    // Every member's playbacks keep the popup and capture rules, cheats' as well.
    let admitted: Vec<&Tally> = tallies.iter().filter(|t| t.admitted).collect();
    j.figure("honest_learners", honest.len());
    j.figure(
        "honest_learners_kept_out",
        tallies
            .iter()
            .filter(|t| t.behaviour == "honest" && !t.admitted)
            .count(),
    );

    let gap_bound = f64::from(policy.rules.popup_max_gap_seconds.value);
    let popups: u32 = admitted.iter().map(|t| t.popups_seen).sum();
    let largest_gap = admitted
        .iter()
        .map(|t| t.largest_popup_gap)
        .fold(0.0, f64::max);
    j.figure("popups_seen", popups);
    j.figure(
        "largest_popup_gap_seconds",
        (largest_gap * 10.0).round() / 10.0,
    );
    if popups == 0 {
        j.undecided("popup gaps at peak", "no learner saw a popup");
    } else if passed_probe("PB-4") {
        j.check(
            "no stretch of playback longer than the popup bound went without a popup",
            largest_gap <= gap_bound + 1.0,
            format!("largest gap {largest_gap:.1} s (bound {gap_bound:.0} s), {popups} popups"),
        );
    }

    let hours: u32 = admitted.iter().map(|t| t.class_hours_watched).sum();
    let bare: u32 = admitted.iter().map(|t| t.class_hours_without_capture).sum();
    let captures: u32 = admitted.iter().map(|t| t.captures_seen).sum();
    j.figure("class_hours_watched", hours);
    j.figure("class_hours_without_capture", bare);
    j.figure(
        "captures_per_class_hour",
        if hours > 0 {
            (f64::from(captures) / f64::from(hours) * 100.0).round() / 100.0
        } else {
            0.0
        },
    );
    if hours == 0 {
        j.undecided(
            "captures per class hour at peak",
            "no class hour was watched through",
        );
    } else if passed_probe("BC-1") {
        j.check(
            "every class hour watched had a capture",
            bare == 0,
            format!("{bare} of {hours} class hours without a capture"),
        );
    }

    let mut attempts = 0;
    for row in section.ledger.iter().filter(|r| r.cheat) {
        let Some((probe, refusable)) = probe_of(&row.behaviour) else {
            continue;
        };
        j.figure(
            &format!("refused.{}", row.behaviour),
            format!("{}/{}", row.attempts_refused, row.cheat_attempts),
        );
        attempts += row.cheat_attempts;
        if row.cheat_attempts == 0 || !passed_probe(probe) {
            continue;
        }
        // Bots are caught after the fact by the self-check; the share it catches is
        // reported, and SV-6 judges the detector itself.
        if !refusable {
            continue;
        }
        j.check(
            format!("every {} attempt refused (as in {probe})", row.behaviour),
            row.attempts_refused >= row.cheat_attempts,
            format!("{} of {} refused", row.attempts_refused, row.cheat_attempts),
        );
        j.check(
            format!("no cheating second credited to {}", row.behaviour),
            row.cheating_seconds_credited <= 0.0,
            format!(
                "{:.1} s credited beyond the ledger",
                row.cheating_seconds_credited
            ),
        );
    }
    if attempts == 0 {
        j.undecided("cheat refusals at peak", "no cheat was attempted");
    }

    let tolerance = policy.judging.honest_denied_seconds_per_class_hour.value;
    let hour = policy.class_hour_seconds();
    let over: Vec<&&Tally> = honest
        .iter()
        .filter(|t| t.denied_seconds > tolerance * (t.creditable_seconds / hour).max(1.0))
        .collect();
    let denied: f64 = honest.iter().map(|t| t.denied_seconds).sum();
    j.figure("honest_seconds_denied", (denied * 10.0).round() / 10.0);
    if !honest.is_empty() {
        j.check(
            format!("no honest learner denied more than {tolerance:.0} s per class hour"),
            over.is_empty(),
            format!(
                "{} of {} honest learners over the tolerance",
                over.len(),
                honest.len()
            ),
        );
    } else {
        j.undecided("honest credit at peak", "no honest learner got in");
    }
    j.finish()
}
