//! The course-brushing self-check (合规性自查, SV-6). It reads the trajectories of the learners in
//! the supervisor's scope and flags a learner when any of these signals fires:
//!
//! | signal | fires when |
//! | --- | --- |
//! | `round_the_clock` | credited heartbeats in more than 20 distinct hours of one cohort-clock day (China time) |
//! | `machine_regular_heartbeats` | at least 20 heartbeat intervals (wall clock, within playbacks) whose coefficient of variation is below 0.05 |
//! | `uniform_popup_latency` | at least 5 popups answered with a wall-clock answer latency whose coefficient of variation is below 0.05, or at least 3 answered with a median latency under 1 cohort second |
//! | `failed_captures` | any capture failed (another face, no face) or missed |
//! | `refused_cheats` | any seek or speed-up refused, or any playback superseded by a second window |
//! | `position_outpaced_clock` | accepted positions ran more than 30 s ahead of the cohort clock over a learner's playbacks (a seek or speed-up that got through) |
//! | `multi_login` | a new login replaced a session that had sent a heartbeat within the allowed gap |
//! | `failed_liveness` | any liveness attempt refused (spoof, another person) |
//! | `idle_playback` | two or more popups missed, or two or more playbacks stopped for silence |
//!
//! Honest learners show human jitter (about ±20%) in heartbeat timing and answer latency, so the
//! regularity signals stay quiet for them; scripts answer with machine regularity. Wall-clock
//! intervals are used for regularity because a script's timer runs on the wall clock; at very
//! high clock scales (hundreds) network jitter dominates and the regularity signals weaken.
//! Profile v1 carries no device identity, so "several accounts from one device" is not a signal.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use duxue_profile::{BrushingFlag, BrushingSignal, SelfCheckReport};
use rusqlite::params;

use super::*;
use crate::clock::to_datetime;
use crate::error::Outcome;

const CV_LIMIT: f64 = 0.05;
const MIN_INTERVALS: usize = 20;
const MIN_POPUPS_CV: usize = 5;
const MIN_POPUPS_INSTANT: usize = 3;
const INSTANT_SECONDS: f64 = 1.0;
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

fn cv(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(var.sqrt() / mean)
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The signals of one learner's trajectory.
fn signals(rows: &[Row], heartbeat_gap: f64) -> Vec<BrushingSignal> {
    let mut out = Vec::new();
    let mut hours: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    let mut last_wall: HashMap<&str, f64> = HashMap::new();
    let mut intervals = Vec::new();
    let mut latencies_wall = Vec::new();
    let mut latencies_virtual = Vec::new();
    let (mut failed_captures, mut cheats, mut liveness, mut missed, mut silence) = (0, 0, 0, 0, 0);
    let mut multi_login = 0;
    let mut last_heartbeat_at = f64::MIN;
    let mut last_position: HashMap<&str, (f64, f64)> = HashMap::new();
    let mut outpaced = 0.0;
    for r in rows {
        match r.kind.as_str() {
            "heartbeat" => {
                last_heartbeat_at = r.at;
                if let (Some(p), Some(position)) = (r.reference.as_deref(), r.position)
                    && let Some((at, before)) = last_position.insert(p, (r.at, position))
                {
                    outpaced += ((position - before) - (r.at - at)).max(0.0);
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
                    hours.entry(day).or_default().insert(hour);
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
    if let Some((day, h)) = hours.iter().find(|(_, h)| h.len() > ROUND_THE_CLOCK_HOURS) {
        push(
            "round_the_clock",
            format!("credited study in {} hours of one day (day {day})", h.len()),
        );
    }
    if intervals.len() >= MIN_INTERVALS
        && let Some(c) = cv(&intervals).filter(|c| *c < CV_LIMIT)
    {
        push(
            "machine_regular_heartbeats",
            format!(
                "{} heartbeat intervals with coefficient of variation {c:.4}",
                intervals.len()
            ),
        );
    }
    let cv_hit = (latencies_wall.len() >= MIN_POPUPS_CV)
        .then(|| cv(&latencies_wall))
        .flatten()
        .filter(|c| *c < CV_LIMIT);
    if let Some(c) = cv_hit {
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
        let flagged = if self.has(Defect::BlindSelfCheck) {
            Vec::new()
        } else {
            by_learner
                .iter()
                .filter_map(|(learner, rows)| {
                    let s = signals(rows, gap);
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
            signals(&bot, 60.0)
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
        assert!(signals(&human, 60.0).is_empty());
    }
}
