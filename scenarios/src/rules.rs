//! The rules every playback must keep, whoever plays it: an attention popup within every
//! `popup_max_gap_seconds` of continuous playback (PB-4) and at least
//! `captures_per_class_hour_min` captures in every class hour watched through (BC-1). Each is
//! measured one way here, on every playback the run makes: the probes' playbacks go to a
//! [`Playbacks`] book that the run judges at the end of the probe phase (PB-4, BC-1), and the
//! population judges its members' the same way (LD-2).

use std::sync::Mutex;

use duxue_profile::Policy;
use serde::{Deserialize, Serialize};

use crate::outcome::{Judge, Outcome};
use crate::study::StudyLog;

/// Continuous playback between popups, in cohort seconds. Playback is continuous while the
/// platform acknowledges heartbeats no further apart than the policy's heartbeat gap and the
/// player has focus; refused heartbeats, silences and a player without focus neither count nor
/// restart it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PopupGaps {
    /// Playback before each popup since the previous one (or the playback's start).
    pub closed: Vec<f64>,
    /// Playback since the last popup.
    pub open: f64,
}

impl PopupGaps {
    /// `seconds` of continuous playback went by.
    pub fn played(&mut self, seconds: f64) {
        self.open += seconds.max(0.0);
    }

    /// A popup came.
    pub fn popup(&mut self) {
        self.closed.push(std::mem::take(&mut self.open));
    }

    pub fn popups(&self) -> usize {
        self.closed.len()
    }

    /// The longest playback without a popup, the stretch since the last one included.
    pub fn largest(&self) -> f64 {
        self.closed.iter().copied().fold(self.open, f64::max)
    }

    /// All the playback measured.
    pub fn played_seconds(&self) -> f64 {
        self.closed.iter().sum::<f64>() + self.open
    }
}

/// One class hour a playback watched through from its start to its end, with the captures
/// requested in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassHourWatched {
    pub index: u32,
    pub start: f64,
    pub end: f64,
    pub captures: usize,
}

/// The class hours `log` watched through. A capture counts for the class hour in which it was
/// seen, or for the one before when seen within one heartbeat interval after that one's end
/// (a capture comes with the heartbeat that reached its position, so it is seen up to one
/// interval after).
pub fn class_hours_watched(log: &StudyLog, class_hour: f64) -> Vec<ClassHourWatched> {
    let Some(playback) = &log.playback else {
        return Vec::new();
    };
    let (start, lesson_end) = (playback.start_position, playback.lesson_seconds);
    let reached = log.furthest_accepted;
    let mut out = Vec::new();
    let mut index = (start / class_hour).ceil();
    while index * class_hour < lesson_end {
        let from = index * class_hour;
        let to = ((index + 1.0) * class_hour).min(lesson_end);
        if reached < to - 1.0 {
            break;
        }
        let captures = log
            .captures()
            .filter(|c| c.position >= from && c.position < to + log.beat_interval)
            .count();
        out.push(ClassHourWatched {
            index: index as u32,
            start: from,
            end: to,
            captures,
        });
        index += 1.0;
    }
    out
}

/// What one playback showed of the rules every playback keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaybackEvidence {
    /// The probe or population that made it.
    pub made_by: String,
    pub popup_gaps: PopupGaps,
    pub class_hours: Vec<ClassHourWatched>,
    /// The heartbeat interval the platform asked for.
    pub declared_interval: Option<f64>,
}

impl PlaybackEvidence {
    pub fn of(made_by: &str, log: &StudyLog, class_hour: f64) -> Self {
        PlaybackEvidence {
            made_by: made_by.to_owned(),
            popup_gaps: log.popup_gaps.clone(),
            class_hours: class_hours_watched(log, class_hour),
            declared_interval: log.playback.as_ref().map(|p| p.heartbeat_interval_seconds),
        }
    }
}

/// Every playback of a run's probes, as evidence for the rules all of them keep.
#[derive(Debug, Default)]
pub struct Playbacks {
    book: Mutex<Vec<PlaybackEvidence>>,
}

impl Playbacks {
    pub fn record(&self, evidence: PlaybackEvidence) {
        self.lock().push(evidence);
    }

    pub fn all(&self) -> Vec<PlaybackEvidence> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PlaybackEvidence>> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// PB-4 on every playback of the run: no stretch of continuous playback longer than the bound
/// went without a popup. Adds its check to `outcome` (PB-4's own) and decides again.
pub fn every_playback_popup_gaps(
    outcome: Outcome,
    policy: &Policy,
    playbacks: &[PlaybackEvidence],
) -> Outcome {
    amend(outcome, |j| {
        let bound = f64::from(policy.rules.popup_max_gap_seconds.value);
        let popups: usize = playbacks.iter().map(|p| p.popup_gaps.popups()).sum();
        let played: f64 = playbacks
            .iter()
            .map(|p| p.popup_gaps.played_seconds())
            .sum();
        let worst = playbacks
            .iter()
            .max_by(|a, b| a.popup_gaps.largest().total_cmp(&b.popup_gaps.largest()));
        j.figure("run.playbacks", playbacks.len());
        j.figure("run.popups_seen", popups);
        j.figure("run.playback_seconds", crate::probes::round(played));
        let Some(worst) = worst.filter(|_| popups > 0) else {
            j.undecided(
                "popup gaps over every playback of the run",
                format!("no popup in {played:.0} s of playback"),
            );
            return;
        };
        let largest = worst.popup_gaps.largest();
        j.figure("run.largest_gap_seconds", crate::probes::round(largest));
        j.check(
            "no playback of the run went longer than the bound without a popup",
            largest <= bound + 1.0,
            format!(
                "largest gap {largest:.1} s (bound {bound:.0} s) in a playback of {}; \
                 {} playbacks, {popups} popups, {played:.0} s of playback",
                worst.made_by,
                playbacks.len()
            ),
        );
    })
}

/// BC-1 on every playback of the run: every class hour watched through had its captures.
/// Adds its check to `outcome` (BC-1's own) and decides again.
pub fn every_playback_captures(
    outcome: Outcome,
    policy: &Policy,
    playbacks: &[PlaybackEvidence],
) -> Outcome {
    amend(outcome, |j| {
        let required = policy.rules.captures_per_class_hour_min.value as usize;
        let hours: Vec<(&PlaybackEvidence, &ClassHourWatched)> = playbacks
            .iter()
            .flat_map(|p| p.class_hours.iter().map(move |h| (p, h)))
            .collect();
        let short: Vec<_> = hours
            .iter()
            .filter(|(_, h)| h.captures < required)
            .collect();
        j.figure("run.class_hours_watched", hours.len());
        j.figure("run.class_hours_short_of_captures", short.len());
        if hours.is_empty() {
            j.undecided(
                "captures in every class hour of the run",
                "no playback of the run watched a class hour through",
            );
            return;
        }
        let detail = match short.first() {
            Some((p, h)) => format!(
                "{} of {} class hours watched through had fewer than {required} capture(s), \
                 e.g. {:.0}–{:.0} s in a playback of {}",
                short.len(),
                hours.len(),
                h.start,
                h.end,
                p.made_by
            ),
            None => format!(
                "{} class hours watched through, each with at least {required} capture(s)",
                hours.len()
            ),
        };
        j.check(
            "every class hour any playback of the run watched through had its captures",
            short.is_empty(),
            detail,
        );
    })
}

/// Adds checks to a decided outcome and decides again (a SKIPPED one is left as it is).
fn amend(outcome: Outcome, add: impl FnOnce(&mut Judge)) -> Outcome {
    if outcome.verdict == duxue_profile::Verdict::Skipped {
        return outcome;
    }
    let mut judge = Judge::resume(outcome);
    add(&mut judge);
    judge.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_after_the_last_popup_is_a_gap_too() {
        let mut gaps = PopupGaps::default();
        gaps.played(100.0);
        gaps.popup();
        gaps.played(250.0);
        gaps.popup();
        gaps.played(320.0);
        assert_eq!(gaps.popups(), 2);
        assert_eq!(gaps.largest(), 320.0);
        assert_eq!(gaps.played_seconds(), 670.0);
    }
}
