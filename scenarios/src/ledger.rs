//! The ledger: the seconds a learner could legitimately be credited (PRODUCT.md §4), as a plain
//! value. It is fed what the learner did — the cohort time of each stretch of play, the content
//! played in it, whether the person was there — and what became of its captures. It knows
//! nothing of the platform or the network, so the probes, the population and a spot check on
//! the wall clock keep their books the same way.
//!
//! The rules, per credit invariant:
//! - a stretch earns only while the person is present and the stretch is no longer than the
//!   policy's heartbeat gap (2);
//! - it earns the new content played in it — content of each class hour beyond what that class
//!   hour has earned, never the same content twice — and at most its own time (3);
//! - one person's time counts once, whatever the number of windows or devices: a stretch earns at
//!   most the time after the last stretch that earned (4);
//! - a class hour whose capture failed, was missed or showed somebody else is withheld: what it
//!   had earned is gone, and what is played in it again is creditable only once a new capture in
//!   it passes (BC-3).

use std::collections::BTreeMap;

/// One person's books, lesson by lesson and class hour by class hour, across sittings.
#[derive(Clone, Debug)]
pub struct Ledger {
    class_hour: f64,
    max_gap: f64,
    /// Cohort time up to which this person's time has earned (shared by all its windows).
    present_until: f64,
    lessons: BTreeMap<String, LessonBook>,
}

#[derive(Clone, Debug, Default)]
struct LessonBook {
    hours: BTreeMap<u32, HourBook>,
}

#[derive(Clone, Debug, Default)]
struct HourBook {
    /// How far into the lesson this class hour's content has earned (creditable once).
    reached: Option<f64>,
    creditable: f64,
    withheld: bool,
    /// Earned in a withheld class hour, released when a new capture in it passes.
    waiting: f64,
}

impl Ledger {
    /// Empty books for class hours of `class_hour_seconds` and a largest heartbeat gap of
    /// `max_gap_seconds` (cohort seconds, or wall seconds on a wall clock).
    pub fn new(class_hour_seconds: f64, max_gap_seconds: f64) -> Ledger {
        Ledger {
            class_hour: class_hour_seconds.max(1.0),
            max_gap: max_gap_seconds,
            present_until: f64::NEG_INFINITY,
            lessons: BTreeMap::new(),
        }
    }

    /// The person played `content` (from, to) of `lesson` during `time` (from, to), there or
    /// not. Returns the seconds this made creditable.
    pub fn play(
        &mut self,
        lesson: &str,
        time: (f64, f64),
        content: (f64, f64),
        present: bool,
    ) -> f64 {
        let (t0, t1) = time;
        let (from, to) = content;
        let span = t1 - t0;
        if !present || !(0.0..=self.max_gap).contains(&span) || to <= from {
            return 0.0;
        }
        let own_time = (t1 - t0.max(self.present_until)).max(0.0);
        let book = self.lessons.entry(lesson.to_owned()).or_default();
        // New content per class hour: beyond what that class hour has earned.
        let first = (from / self.class_hour).floor().max(0.0) as u32;
        let last = (to / self.class_hour).ceil().max(1.0) as u32;
        let parts: Vec<(u32, f64, f64)> = (first..last)
            .filter_map(|index| {
                let start = f64::from(index) * self.class_hour;
                let end = start + self.class_hour;
                let reached = book
                    .hours
                    .get(&index)
                    .and_then(|h| h.reached)
                    .unwrap_or(start);
                let part = (to.min(end) - from.max(reached).max(start)).max(0.0);
                (part > 0.0).then_some((index, part, to.min(end)))
            })
            .collect();
        let new_content: f64 = parts.iter().map(|(_, part, _)| part).sum();
        let earned = new_content.min(own_time);
        if earned <= 0.0 {
            return 0.0;
        }
        self.present_until = self.present_until.max(t1);
        // Content played faster than real time earns its share of the time.
        let share = earned / new_content;
        for (index, part, reached) in parts {
            let hour = book.hours.entry(index).or_default();
            hour.reached = Some(hour.reached.map_or(reached, |r| r.max(reached)));
            if hour.withheld {
                hour.waiting += part * share;
            } else {
                hour.creditable += part * share;
            }
        }
        earned
    }

    /// A capture in class hour `hour` of `lesson` was answered by the person it must show and
    /// passed (`true`), or failed, was missed, or showed somebody else (`false`): the class hour
    /// is withheld and its content must be played again.
    pub fn capture(&mut self, lesson: &str, hour: u32, kept: bool) {
        let book = self.lessons.entry(lesson.to_owned()).or_default();
        let h = book.hours.entry(hour).or_default();
        if kept {
            if h.withheld {
                h.withheld = false;
                h.creditable += std::mem::take(&mut h.waiting);
            }
        } else {
            h.withheld = true;
            h.reached = None;
            h.creditable = 0.0;
            h.waiting = 0.0;
        }
    }

    /// Creditable seconds of one lesson.
    pub fn creditable(&self, lesson: &str) -> f64 {
        self.lessons
            .get(lesson)
            .map_or(0.0, |b| b.hours.values().map(|h| h.creditable).sum())
    }

    /// Creditable seconds of one lesson per class hour.
    pub fn creditable_by_hour(&self, lesson: &str) -> BTreeMap<u32, f64> {
        self.lessons
            .get(lesson)
            .map(|b| b.hours.iter().map(|(i, h)| (*i, h.creditable)).collect())
            .unwrap_or_default()
    }

    /// Creditable seconds over every lesson.
    pub fn total(&self) -> f64 {
        self.lessons.keys().map(|l| self.creditable(l)).sum()
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const HOUR: f64 = 600.0;
    const GAP: f64 = 60.0;

    fn ledger() -> Ledger {
        Ledger::new(HOUR, GAP)
    }

    #[test]
    fn honest_play_earns_its_time_once() {
        let mut l = ledger();
        for i in 0..30 {
            let t = f64::from(i) * 10.0;
            l.play("a", (t, t + 10.0), (t, t + 10.0), true);
        }
        assert!((l.creditable("a") - 300.0).abs() < 1e-9);
        // Played again after rewinding: nothing new.
        l.play("a", (300.0, 400.0), (0.0, 100.0), true);
        assert!((l.creditable("a") - 300.0).abs() < 1e-9);
    }

    #[test]
    fn a_jump_earns_nothing_and_speed_earns_real_time() {
        let mut l = ledger();
        l.play("a", (0.0, 10.0), (0.0, 310.0), true);
        assert!((l.creditable("a") - 10.0).abs() < 1e-9);
        let mut fast = ledger();
        fast.play("a", (0.0, 10.0), (0.0, 20.0), true);
        assert!((fast.creditable("a") - 10.0).abs() < 1e-9);
    }

    #[test]
    fn absence_and_silence_earn_nothing() {
        let mut l = ledger();
        l.play("a", (0.0, 10.0), (0.0, 10.0), false);
        l.play("a", (10.0, 190.0), (10.0, 190.0), true);
        assert_eq!(l.creditable("a"), 0.0);
    }

    #[test]
    fn a_failed_capture_withholds_its_class_hour_until_one_passes() {
        let mut l = ledger();
        for i in 0..70 {
            let t = f64::from(i) * 10.0;
            l.play("a", (t, t + 10.0), (t, t + 10.0), true);
        }
        assert!((l.creditable("a") - 700.0).abs() < 1e-9);
        l.capture("a", 0, false);
        assert!((l.creditable("a") - 100.0).abs() < 1e-9, "hour 1 stays");
        l.play("a", (700.0, 710.0), (0.0, 10.0), true);
        // Hour 1 was earned once: playing it again earns nothing.
        l.play("a", (710.0, 720.0), (600.0, 610.0), true);
        assert!(
            (l.creditable("a") - 100.0).abs() < 1e-9,
            "waits for a capture"
        );
        l.capture("a", 0, true);
        assert!((l.creditable("a") - 110.0).abs() < 1e-9);
    }

    #[test]
    fn two_windows_count_one_persons_time_once() {
        let mut l = ledger();
        for i in 0..10 {
            let t = f64::from(i) * 10.0;
            l.play("a", (t, t + 10.0), (t, t + 10.0), true);
            l.play("b", (t + 1.0, t + 11.0), (t, t + 10.0), true);
        }
        assert!(l.total() <= 101.0 + 1e-9, "{}", l.total());
    }

    /// Random sequences of play, rewinds, captures and absences: the books never hold more
    /// than the time the person was there, nor more than the content of each lesson once.
    #[test]
    fn never_more_than_time_present_nor_content_once() {
        for seed in 0..300 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut l = ledger();
            let lessons = ["a", "b"];
            let mut positions = [0.0_f64; 2];
            let mut t = 0.0;
            let mut present_time = 0.0;
            let mut covered_until = f64::NEG_INFINITY;
            for _ in 0..rng.random_range(1..200) {
                let which = rng.random_range(0..2);
                let dt = rng.random_range(0.0..80.0);
                let present = rng.random_bool(0.8);
                let from = positions[which];
                let to = match rng.random_range(0..10) {
                    0 => (from - rng.random_range(0.0..300.0)).max(0.0),
                    1 => from + rng.random_range(0.0..400.0),
                    _ => from + dt * rng.random_range(0.5..2.0),
                };
                // Two windows may overlap in time: the second starts a little before.
                let t0 = if rng.random_bool(0.2) { t - 5.0 } else { t };
                let earned = l.play(lessons[which], (t0, t + dt), (from, to), present);
                assert!(earned <= t + dt - t0 + 1e-9);
                // Time present: the union of the stretches the person was there.
                if present && t + dt - t0 <= GAP {
                    present_time += (t + dt - t0.max(covered_until)).max(0.0);
                    covered_until = covered_until.max(t + dt);
                }
                positions[which] = to;
                t += dt;
                match rng.random_range(0..20) {
                    0 => l.capture(lessons[which], rng.random_range(0..3), false),
                    1 => l.capture(lessons[which], rng.random_range(0..3), true),
                    _ => {}
                }
            }
            assert!(l.total() <= present_time + 1e-6, "seed {seed}");
            for lesson in lessons {
                let by_hour = l.creditable_by_hour(lesson);
                for (hour, seconds) in by_hour {
                    assert!(
                        seconds <= HOUR + 1e-6,
                        "seed {seed}: hour {hour} holds {seconds}"
                    );
                }
            }
        }
    }
}
