//! The course-brushing self-check (合规性自查, SV-6). It reads the trajectories of the learners in
//! the supervisor's scope and flags a learner when any of these signals fires:
//!
//! | signal | fires when |
//! | --- | --- |
//! | `round_the_clock` | credited heartbeats in more than 20 distinct hours of one cohort-clock day (China time) |
//! | `machine_regular_heartbeats` | at least 20 heartbeat intervals (wall clock, within playbacks) whose relative spread is below 0.05 |
//! | `uniform_popup_latency` | at least 10 popups answered with a wall-clock answer latency whose coefficient of variation is below 0.05, or at least 3 answered with a median latency under 1.5 cohort seconds |
//! | `failed_captures` | any capture failed (another face, no face) or missed |
//! | `refused_cheats` | any seek or speed-up refused, or any playback superseded by a second window |
//! | `position_outpaced_clock` | accepted positions ran more than 30 s ahead of the cohort clock, summed over a learner's playbacks (a seek or speed-up that got through) |
//! | `multi_login` | a new login replaced a session that had sent a heartbeat within the allowed gap |
//! | `failed_liveness` | any liveness attempt refused (spoof, another person) |
//! | `idle_playback` | two or more popups missed, or two or more playbacks stopped for silence |
//!
//! Honest learners show human jitter (about ±20%) in heartbeat timing and answer latency, so the
//! regularity signals stay quiet for them; scripts answer with machine regularity. Wall-clock
//! intervals are used for regularity because a script's timer runs on the wall clock; at very
//! high clock scales (hundreds) network jitter dominates and the regularity signals weaken.
//!
//! The network and a busy server delay single requests; the signals are built so that such a
//! delay neither hides a script nor accuses a person. The spread of heartbeat intervals is
//! measured around the median (`relative_spread`), so a few delayed heartbeats leave a
//! script's timer as regular as it is. Popup answers are too few for that: with five, three
//! that happen to lie close together would make a person look like a script (about 3% of honest
//! learners), so their latency needs every answer alike (the coefficient of variation), and a
//! script whose answers were held up is still caught by its median latency. Even all alike,
//! five answers spread uniformly over 2–8 s fall under the limit for about one person in 1,700;
//! ten never did in a million draws, so the regularity half waits for ten answers.
//!
//! How far positions ran ahead of the clock is the largest lead over the lowest lead before it
//! within a playback (`RunAhead`), so a late heartbeat followed by a prompt one counts once,
//! as its own delay, instead of adding up over a whole lesson.
//! Profile v1 carries no device identity, so "several accounts from one device" is not a signal.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use duxue_profile::{BrushingFlag, BrushingSignal, SelfCheckReport};
use rusqlite::params;

use super::*;
use crate::clock::to_datetime;
use crate::error::Outcome;

/// Below this spread (relative spread of heartbeat intervals, coefficient of variation of
/// popup latencies) a series is as regular as a machine's.
const MACHINE_REGULAR: f64 = 0.05;
const MIN_INTERVALS: usize = 20;
const MIN_POPUPS_ALIKE: usize = 10;
const MIN_POPUPS_INSTANT: usize = 3;
/// Reading a popup's code and typing it takes a person longer than this.
const INSTANT_SECONDS: f64 = 1.5;
const ROUND_THE_CLOCK_HOURS: usize = 20;
/// Content accepted ahead of elapsed cohort time, summed over a learner's playbacks, that
/// reveals seeking or speed-up even where the platform accepted it.
const OUTPACED_SECONDS: f64 = 30.0;
/// China Standard Time offset for "a day" of study.
const CST_OFFSET_SECONDS: f64 = 8.0 * 3600.0;

struct Row {
    at: f64,
    wall: f64,
    position: Option<f64>,
    kind: String,
    reference: Option<String>,
    detail: Option<String>,
}

/// The spread of `xs` relative to their median: 1.4826 × the median absolute deviation over
/// the median. For normally spread values it equals the coefficient of variation; unlike it, a
/// few outliers (a request held up on the way) do not move it.
fn relative_spread(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let mut sorted = xs.to_vec();
    let mid = median(&mut sorted);
    if mid <= 0.0 {
        return None;
    }
    let mut deviations: Vec<f64> = xs.iter().map(|x| (x - mid).abs()).collect();
    Some(1.4826 * median(&mut deviations) / mid)
}

/// Standard deviation over mean: small only when every value is alike.
fn coefficient_of_variation(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(variance.sqrt() / mean)
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// How far accepted positions ran ahead of the clock within one playback: the largest lead
/// (position minus cohort time) over the lowest lead before it. Pauses lower the lead and
/// watching at real speed keeps it; only content skipped or played fast raises it. A lead is
/// taken as settled only when the next heartbeat's is not higher: one heartbeat seen late dips
/// the lead for itself alone, and the prompt one after it must not count as running ahead.
#[derive(Default)]
struct RunAhead {
    previous_lead: Option<f64>,
    lowest_settled: Option<f64>,
    largest: f64,
}

impl RunAhead {
    fn heartbeat(&mut self, at: f64, position: f64) {
        let lead = position - at;
        if let Some(previous) = self.previous_lead {
            let settled = previous.max(lead);
            self.lowest_settled = Some(self.lowest_settled.map_or(settled, |l| l.min(settled)));
        }
        if let Some(lowest) = self.lowest_settled {
            self.largest = self.largest.max(lead - lowest);
        }
        self.previous_lead = Some(lead);
    }
}

/// The run-ahead of every playback, summed.
fn run_ahead(playbacks: &HashMap<&str, RunAhead>) -> f64 {
    playbacks.values().map(|r| r.largest).sum()
}

/// How the self-check counts hours of study for its round-the-clock signal.
#[derive(Clone, Copy)]
struct RoundTheClock {
    /// Flag more hours of credited study than this in one day.
    hours: usize,
    /// Count hours within each playback instead of each day (defect
    /// `round-the-clock-per-playback`).
    per_playback: bool,
}

impl RoundTheClock {
    /// The reference platform's rule: more than [`ROUND_THE_CLOCK_HOURS`] hours in one day.
    const REFERENCE: RoundTheClock = RoundTheClock {
        hours: ROUND_THE_CLOCK_HOURS,
        per_playback: false,
    };
}

/// The signals of one learner's trajectory.
fn signals(rows: &[Row], heartbeat_gap: f64, rule: RoundTheClock) -> Vec<BrushingSignal> {
    let mut out = Vec::new();
    let mut hours: BTreeMap<(i64, &str), BTreeSet<i64>> = BTreeMap::new();
    let mut last_wall: HashMap<&str, f64> = HashMap::new();
    let mut intervals = Vec::new();
    let mut latencies_wall = Vec::new();
    let mut latencies_virtual = Vec::new();
    let (mut failed_captures, mut cheats, mut liveness, mut missed, mut silence) = (0, 0, 0, 0, 0);
    let mut multi_login = 0;
    let mut last_heartbeat_at = f64::MIN;
    let mut ahead: HashMap<&str, RunAhead> = HashMap::new();
    for r in rows {
        match r.kind.as_str() {
            "heartbeat" => {
                last_heartbeat_at = r.at;
                if let (Some(p), Some(position)) = (r.reference.as_deref(), r.position) {
                    ahead.entry(p).or_default().heartbeat(r.at, position);
                }
                let credited: f64 = r
                    .detail
                    .as_deref()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0.0);
                if credited > 0.0 {
                    let local = r.at + CST_OFFSET_SECONDS;
                    let day = (local / 86_400.0).floor() as i64;
                    let hour = ((local - day as f64 * 86_400.0) / 3600.0).floor() as i64;
                    let playback = match r.reference.as_deref() {
                        Some(p) if rule.per_playback => p,
                        _ => "",
                    };
                    hours.entry((day, playback)).or_default().insert(hour);
                }
                if let Some(p) = r.reference.as_deref()
                    && let Some(prev) = last_wall.insert(p, r.wall)
                {
                    intervals.push(r.wall - prev);
                }
            }
            "popup_answered" => {
                let mut parts = r.detail.as_deref().unwrap_or("").split_whitespace();
                let v: Option<f64> = parts.next().and_then(|x| x.parse().ok());
                let w: Option<f64> = parts.next().and_then(|x| x.parse().ok());
                if let (Some(v), Some(w)) = (v, w) {
                    latencies_virtual.push(v);
                    latencies_wall.push(w);
                }
            }
            "capture_failed" | "capture_missed" => failed_captures += 1,
            "seek_refused" | "rate_refused" | "playback_superseded" => cheats += 1,
            "liveness_failed" => liveness += 1,
            "popup_missed" => missed += 1,
            "playback_stopped"
                if r.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("no heartbeat")) =>
            {
                silence += 1
            }
            "session_replaced" if r.at - last_heartbeat_at <= heartbeat_gap => multi_login += 1,
            _ => {}
        }
    }
    let mut push = |kind: &str, detail: String| {
        out.push(BrushingSignal {
            kind: kind.into(),
            detail,
        })
    };
    if let Some(((day, _), h)) = hours.iter().find(|(_, h)| h.len() > rule.hours) {
        push(
            "round_the_clock",
            format!("credited study in {} hours of one day (day {day})", h.len()),
        );
    }
    if intervals.len() >= MIN_INTERVALS
        && let Some(c) = relative_spread(&intervals).filter(|c| *c < MACHINE_REGULAR)
    {
        push(
            "machine_regular_heartbeats",
            format!(
                "{} heartbeat intervals with relative spread {c:.4}",
                intervals.len()
            ),
        );
    }
    let uniform = (latencies_wall.len() >= MIN_POPUPS_ALIKE)
        .then(|| coefficient_of_variation(&latencies_wall))
        .flatten()
        .filter(|c| *c < MACHINE_REGULAR);
    if let Some(c) = uniform {
        push(
            "uniform_popup_latency",
            format!(
                "{} popup answers with latency coefficient of variation {c:.4}",
                latencies_wall.len()
            ),
        );
    } else if latencies_virtual.len() >= MIN_POPUPS_INSTANT {
        let m = median(&mut latencies_virtual);
        if m < INSTANT_SECONDS {
            push(
                "uniform_popup_latency",
                format!(
                    "{} popup answers with median latency {m:.3} s",
                    latencies_virtual.len()
                ),
            );
        }
    }
    if failed_captures > 0 {
        push(
            "failed_captures",
            format!("{failed_captures} capture(s) failed or missed"),
        );
    }
    let outpaced = run_ahead(&ahead);
    if outpaced > OUTPACED_SECONDS {
        push(
            "position_outpaced_clock",
            format!(
                "accepted positions ran {outpaced:.0} s ahead of the cohort clock (seeking or speed-up)"
            ),
        );
    }
    if cheats > 0 {
        push(
            "refused_cheats",
            format!("{cheats} seek, speed-up or second-window attempt(s) refused"),
        );
    }
    if multi_login > 0 {
        push(
            "multi_login",
            format!("{multi_login} login(s) from elsewhere during study"),
        );
    }
    if liveness > 0 {
        push(
            "failed_liveness",
            format!("{liveness} liveness attempt(s) refused"),
        );
    }
    if missed >= 2 || silence >= 2 {
        push(
            "idle_playback",
            format!("{missed} popup(s) missed, {silence} playback(s) stopped for silence"),
        );
    }
    out
}

impl Platform {
    /// SV-6: the self-check over the learners in the supervisor's scope.
    pub async fn self_check(&self, sup: &SupervisorRec) -> Outcome<SelfCheckReport> {
        let (in_scope, now) = {
            let w = self.world.lock();
            let ids: BTreeSet<String> = w
                .learners
                .values()
                .filter(|l| self.in_scope(&w, sup, l))
                .map(|l| l.id.clone())
                .collect();
            (ids, w.cohort_now(&sup.cohort_id))
        };
        self.flush().await?;
        let cohort = sup.cohort_id.clone();
        let rows = self
            .reads
            .run(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT learner_id, at, wall, kind, ref_id, detail, position FROM trajectory
                     WHERE cohort_id = ?1 ORDER BY seq",
                )?;
                let rows = stmt.query_map(params![cohort], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Row {
                            at: r.get(1)?,
                            wall: r.get(2)?,
                            kind: r.get(3)?,
                            reference: r.get(4)?,
                            detail: r.get(5)?,
                            position: r.get(6)?,
                        },
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut by_learner: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for (learner, row) in rows {
            if in_scope.contains(&learner) {
                by_learner.entry(learner).or_default().push(row);
            }
        }
        let gap = f64::from(self.policy.rules.heartbeat_max_gap_seconds.value);
        let rule = RoundTheClock {
            // Defect `round-the-clock-at-four-hours`: a vendor's "more than three hours a day is
            // suspicious" flags people who study morning, afternoon and evening.
            hours: if self.has(Defect::RoundTheClockAtFourHours) {
                3
            } else {
                RoundTheClock::REFERENCE.hours
            },
            per_playback: self.has(Defect::RoundTheClockPerPlayback),
        };
        // Defect `self-check-one-per-signal`: each signal names one learner only.
        let mut named: BTreeSet<String> = BTreeSet::new();
        let one_per_signal = self.has(Defect::SelfCheckOnePerSignal);
        let flagged = if self.has(Defect::BlindSelfCheck) {
            Vec::new()
        } else {
            by_learner
                .iter()
                .filter_map(|(learner, rows)| {
                    let mut s = signals(rows, gap, rule);
                    if one_per_signal {
                        s.retain(|signal| named.insert(signal.kind.clone()));
                    }
                    (!s.is_empty()).then(|| BrushingFlag {
                        learner_id: learner.clone(),
                        signals: s,
                    })
                })
                .collect()
        };
        Ok(SelfCheckReport {
            generated_at: to_datetime(now),
            learners_checked: in_scope.len() as u64,
            flagged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(at: f64, wall: f64) -> Row {
        Row {
            at,
            wall,
            position: None,
            kind: "heartbeat".into(),
            reference: Some("p".into()),
            detail: Some("10.000".into()),
        }
    }

    #[test]
    fn regular_heartbeats_are_flagged_and_jittered_ones_are_not() {
        let bot: Vec<Row> = (0..30)
            .map(|i| hb(f64::from(i) * 10.0, f64::from(i) * 0.1667))
            .collect();
        assert!(
            signals(&bot, 60.0, RoundTheClock::REFERENCE)
                .iter()
                .any(|s| s.kind == "machine_regular_heartbeats")
        );
        let mut wall = 0.0;
        let human: Vec<Row> = (0..30)
            .map(|i| {
                wall += 0.1667 * (0.8 + 0.4 * ((i * 7919 % 101) as f64 / 100.0));
                hb(f64::from(i) * 10.0, wall)
            })
            .collect();
        assert!(signals(&human, 60.0, RoundTheClock::REFERENCE).is_empty());
    }

    #[test]
    fn study_at_four_hours_of_a_day_is_round_the_clock_only_to_the_trigger_happy_rule() {
        // A person at 08, 09, 14 and 20 o'clock (China time) of one day, a few beats each.
        let day_start = 10.0 * 86_400.0 - CST_OFFSET_SECONDS;
        let rows: Vec<Row> = [8.0, 9.0, 14.0, 20.0]
            .into_iter()
            .flat_map(|h: f64| (0..3).map(move |i| day_start + h * 3600.0 + f64::from(i) * 10.0))
            .map(|at| hb(at, at / 30.0))
            .collect();
        let round_the_clock = |rule| {
            signals(&rows, 60.0, rule)
                .iter()
                .any(|s| s.kind == "round_the_clock")
        };
        assert!(!round_the_clock(RoundTheClock::REFERENCE));
        assert!(round_the_clock(RoundTheClock {
            hours: 3,
            per_playback: false
        }));
    }

    fn kinds(rows: &[Row]) -> Vec<String> {
        signals(rows, 60.0, RoundTheClock::REFERENCE)
            .into_iter()
            .map(|s| s.kind)
            .collect()
    }

    /// Heartbeats of a script at cohort scale 30 (10 cohort s every 0.333 wall s), the platform
    /// seeing each one `delay(i)` wall seconds late, at the position the script sent.
    fn script_seen_late(delay: impl Fn(usize) -> f64) -> Vec<Row> {
        (0..40)
            .map(|i| {
                let sent = i as f64 * 10.0;
                let late = delay(i);
                Row {
                    position: Some(sent),
                    ..hb(sent + late * 30.0, sent / 30.0 + late)
                }
            })
            .collect()
    }

    fn answered(latency_wall: f64) -> Row {
        Row {
            at: 0.0,
            wall: 0.0,
            position: None,
            kind: "popup_answered".into(),
            reference: Some("e".into()),
            detail: Some(format!("{:.3} {latency_wall:.6}", latency_wall * 30.0)),
        }
    }

    #[test]
    fn a_person_whose_answers_happen_to_bunch_is_not_a_script() {
        // Ten answers at scale 30, six of them within 4 ms of each other: a spread around the
        // median would call this regular (0.02); the answers are not alike.
        let rows: Vec<Row> = [
            0.150, 0.152, 0.154, 0.151, 0.153, 0.152, 0.260, 0.080, 0.240, 0.095,
        ]
        .into_iter()
        .map(answered)
        .collect();
        assert!(kinds(&rows).is_empty(), "{:?}", kinds(&rows));
        // A script that answers after 5 cohort seconds, as a person might, but every time.
        let slow_script: Vec<Row> = (0..10)
            .map(|i| answered(0.1667 + 0.001 * f64::from(i % 3)))
            .collect();
        assert_eq!(
            kinds(&slow_script),
            vec!["uniform_popup_latency".to_owned()]
        );
        // Five alike answers are too few to tell a script by regularity alone.
        assert!(kinds(&slow_script[..5]).is_empty());
    }

    #[test]
    fn a_few_delayed_heartbeats_do_not_hide_a_script() {
        let stalled = script_seen_late(|i| match i {
            7 => 0.4,
            23 => 1.2,
            31 => 0.25,
            _ => 0.0005 * (i % 3) as f64,
        });
        assert!(kinds(&stalled).contains(&"machine_regular_heartbeats".to_owned()));
    }

    #[test]
    fn delays_in_transit_do_not_add_up_to_running_ahead() {
        // Every heartbeat seen up to 60 ms late (1.8 cohort seconds at scale 30), differently
        // each time, and two held up 0.8 s and 2 s: the positions never ran ahead of the clock.
        let noisy = script_seen_late(|i| match i {
            17 => 0.8,
            29 => 2.0,
            _ => 0.06 * ((i * 7919 % 13) as f64 / 12.0),
        });
        assert!(!kinds(&noisy).contains(&"position_outpaced_clock".to_owned()));
    }

    #[test]
    fn content_skipped_runs_ahead_even_after_a_pause() {
        // Paused 120 s (a popup left open), then skipped 60 s, then 60 s more later. The last
        // paused heartbeat could have been one seen late, so 110 s of the 120 count.
        let mut rows = Vec::new();
        let (mut at, mut position) = (0.0, 0.0);
        for i in 0..40 {
            at += 10.0;
            match i {
                5..=16 => {}
                17 | 30 => position += 70.0,
                _ => position += 10.0,
            }
            rows.push(Row {
                position: Some(position),
                ..hb(at, at / 30.0)
            });
        }
        let s = signals(&rows, 60.0, RoundTheClock::REFERENCE);
        let outpaced = s
            .iter()
            .find(|s| s.kind == "position_outpaced_clock")
            .expect("flagged");
        assert!(outpaced.detail.contains("110 s"), "{}", outpaced.detail);
    }
}
