//! Cohort clocks. Each conformance cohort has its own clock:
//! `virtual_now = start + advanced + (wall_now − wall_at_creation) × scale`. It only moves
//! forward. Virtual and wall times are `f64` seconds since the Unix epoch throughout the crate
//! (sub-microsecond precision for the next centuries); they become RFC 3339 only on the wire.

use chrono::{DateTime, FixedOffset, Months, Utc};
use serde::{Deserialize, Serialize};

/// Largest clock scale accepted (virtual seconds per wall second).
pub const MAX_SCALE: f64 = 1_000_000.0;
/// Largest single advance accepted: 200 years.
pub const MAX_ADVANCE_SECONDS: f64 = 200.0 * 366.0 * 86_400.0;

/// The wall clock, seconds since the epoch.
pub fn wall_now() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs_f64()
}

/// A cohort clock's parameters (persisted with the cohort).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortClock {
    /// Virtual time at creation.
    pub start: f64,
    /// Sum of every forward jump.
    pub advanced: f64,
    /// Wall time at creation.
    pub wall_at_creation: f64,
    pub scale: f64,
}

impl CohortClock {
    pub fn new(start: f64, scale: f64, wall: f64) -> Self {
        CohortClock {
            start,
            advanced: 0.0,
            wall_at_creation: wall,
            scale,
        }
    }

    /// The virtual time at a wall time.
    pub fn at(&self, wall: f64) -> f64 {
        self.start + self.advanced + (wall - self.wall_at_creation).max(0.0) * self.scale
    }

    /// The virtual time now.
    pub fn now(&self) -> f64 {
        self.at(wall_now())
    }

    /// Virtual seconds that correspond to a wall duration.
    pub fn to_virtual(&self, wall_seconds: f64) -> f64 {
        wall_seconds * self.scale
    }
}

/// Seconds since the epoch as a UTC timestamp (clamped to the representable range).
pub fn to_datetime(t: f64) -> DateTime<Utc> {
    let t = if t.is_finite() { t } else { 0.0 };
    let secs = t.floor();
    let nanos = ((t - secs) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    DateTime::from_timestamp(secs as i64, nanos).unwrap_or_default()
}

/// A UTC timestamp as seconds since the epoch.
pub fn from_datetime(t: &DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

/// `t` plus a number of calendar months, on the dates of the time zone `zone` (the policy's
/// `calendar_utc_offset_minutes`); a day past the end of the month is its last day.
pub fn add_months(t: f64, months: u32, zone: FixedOffset) -> f64 {
    to_datetime(t)
        .with_timezone(&zone)
        .checked_add_months(Months::new(months))
        .map_or(f64::MAX, |d| from_datetime(&d.to_utc()))
}

/// `t` minus a number of calendar months, on the dates of the time zone `zone`.
pub fn sub_months(t: f64, months: u32, zone: FixedOffset) -> f64 {
    to_datetime(t)
        .with_timezone(&zone)
        .checked_sub_months(Months::new(months))
        .map_or(f64::MIN, |d| from_datetime(&d.to_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_runs_at_scale_and_months_are_calendar_months() {
        let c = CohortClock::new(1_000.0, 60.0, 10.0);
        assert_eq!(c.at(11.0), 1_060.0);
        let utc = FixedOffset::east_opt(0).unwrap();
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let jan31 = from_datetime(&"2022-01-31T00:00:00Z".parse().unwrap());
        let feb28 = from_datetime(&"2022-02-28T00:00:00Z".parse().unwrap());
        assert_eq!(add_months(jan31, 1, utc), feb28);
        // 20:00 UTC on 30 January is 31 January in Beijing: a month later is 28 February
        // there, 20:00 UTC on 27 February.
        let jan30_late = from_datetime(&"2022-01-30T20:00:00Z".parse().unwrap());
        let feb27_late = from_datetime(&"2022-02-27T20:00:00Z".parse().unwrap());
        assert_eq!(add_months(jan30_late, 1, cst), feb27_late);
        // and a month back from 28 February (Beijing) is 28 January there.
        assert_eq!(sub_months(feb27_late, 1, cst), jan30_late - 3.0 * 86_400.0);
        let t = 1_650_000_000.25;
        assert!((from_datetime(&to_datetime(t)) - t).abs() < 1e-6);
    }
}
