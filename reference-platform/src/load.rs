//! A load meter: requests in flight and requests per wall second. The load defects use it:
//! `slow-under-load` delays every request while the platform is busy by 300 ms plus 10 ms per
//! request in flight beyond [`BUSY_IN_FLIGHT`] (at most 3 s), and not at all otherwise, so the
//! probe phase's light load keeps its timing and only the peak suffers;
//! `fail-open-under-load` stops popups, captures and cheat refusals in a cohort at its peak:
//! [`PEAK_ONLINE`] learners or more online in it at once. That defect goes by learners online,
//! not by the request rate, because the probe phase's own rate (some 450 requests a wall second
//! at its accelerated clock) is above any rate a population peak of a few hundred learners
//! reaches, and a defect that failed open during the probes would fail them, not LD-2.
//! Busy (for `slow-under-load`) means overloaded (more than [`BUSY_IN_FLIGHT`] requests in flight or more than
//! [`BUSY_PER_SECOND`] requests in the last wall second) for [`BUSY_AFTER_SECONDS`] seconds
//! running: a peak lasts, while a burst of the probe phase (its setup sends some 600 requests
//! in its first wall second, then a dozen logins are verified at once) passes before that, and
//! would otherwise have fed itself through the delays it caused. The rate of the last full
//! second counts in the second after it too, so a one-second burst looks two seconds long:
//! the overload must outlast that.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Learners online in a cohort at which `fail-open-under-load` fails open: above any probe's
/// cast, below the population of the smallest run that judges LD-2 (tests/population.rs).
pub const PEAK_ONLINE: usize = 100;
/// In-flight requests above which the platform counts as busy.
pub const BUSY_IN_FLIGHT: usize = 16;
/// Requests per wall second above which the platform counts as busy.
pub const BUSY_PER_SECOND: u64 = 400;
/// Whole wall seconds an overload must have lasted before the platform counts as busy; an
/// overload ends after a whole wall second without one.
pub const BUSY_AFTER_SECONDS: u64 = 3;

#[derive(Default)]
pub struct LoadMeter {
    in_flight: AtomicUsize,
    second: AtomicU64,
    count: AtomicU64,
    previous: AtomicU64,
    /// Wall second the current overload began (0: none), and the last second one was seen.
    overload_since: AtomicU64,
    overload_seen: AtomicU64,
}

/// Decrements the in-flight count when dropped.
pub struct InFlight<'a>(&'a LoadMeter);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LoadMeter {
    /// Counts a request in; it counts as in flight until the guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let now = crate::clock::wall_now() as u64;
        let second = self.second.load(Ordering::Relaxed);
        if now != second
            && self
                .second
                .compare_exchange(second, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let last = self.count.swap(0, Ordering::Relaxed);
            self.previous
                .store(if now == second + 1 { last } else { 0 }, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Requests in the current or the last full wall second, whichever is larger.
    pub fn per_second(&self) -> u64 {
        self.count
            .load(Ordering::Relaxed)
            .max(self.previous.load(Ordering::Relaxed))
    }

    pub fn busy(&self) -> bool {
        self.busy_at(crate::clock::wall_now() as u64)
    }

    fn busy_at(&self, now: u64) -> bool {
        if self.in_flight() > BUSY_IN_FLIGHT || self.per_second() > BUSY_PER_SECOND {
            let seen = self.overload_seen.swap(now, Ordering::Relaxed);
            if seen + 1 < now || self.overload_since.load(Ordering::Relaxed) == 0 {
                self.overload_since.store(now, Ordering::Relaxed);
            }
        }
        let since = self.overload_since.load(Ordering::Relaxed);
        let seen = self.overload_seen.load(Ordering::Relaxed);
        since != 0 && now <= seen + 1 && now >= since + BUSY_AFTER_SECONDS
    }

    /// The delay `slow-under-load` adds to a request.
    pub fn slow_delay(&self) -> Duration {
        if !self.busy() {
            return Duration::ZERO;
        }
        let extra = self.in_flight().saturating_sub(BUSY_IN_FLIGHT) as u64;
        Duration::from_millis((300 + extra * 10).min(3_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_overload_that_lasts_makes_the_platform_busy() {
        let meter = LoadMeter::default();
        assert!(!meter.busy_at(100), "idle");
        let guards: Vec<_> = (0..=BUSY_IN_FLIGHT).map(|_| meter.enter()).collect();
        assert!(!meter.busy_at(100), "an overload that has just begun");
        assert!(!meter.busy_at(101), "one second of overload");
        assert!(!meter.busy_at(102), "two seconds of overload");
        assert!(meter.busy_at(103), "three seconds of overload");
        drop(guards);
        assert!(meter.busy_at(104), "a second's respite does not end it");
        assert!(
            !meter.busy_at(105),
            "ended after a whole second without overload"
        );
        let guards: Vec<_> = (0..=BUSY_IN_FLIGHT).map(|_| meter.enter()).collect();
        assert!(!meter.busy_at(110), "a new overload starts over");
        drop(guards);
    }
}
