//! The harness's own model of a cohort clock. The platform reports its clock, but durations the
//! harness judges on (popup gaps, elapsed study time) are measured here, from the harness's
//! monotonic wall clock times the scale it asked for, plus the jumps it made.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

#[derive(Debug)]
pub struct CohortClock {
    pub cohort_id: String,
    pub scale: f64,
    origin_wall: Instant,
    origin_virtual: DateTime<Utc>,
    advanced_seconds: Mutex<f64>,
}

impl CohortClock {
    pub fn new(cohort_id: String, scale: f64, origin_virtual: DateTime<Utc>) -> Self {
        CohortClock {
            cohort_id,
            scale,
            origin_wall: Instant::now(),
            origin_virtual,
            advanced_seconds: Mutex::new(0.0),
        }
    }

    /// Cohort seconds since the cohort was created, as the harness measures them.
    pub fn elapsed(&self) -> f64 {
        self.origin_wall.elapsed().as_secs_f64() * self.scale + self.advanced()
    }

    fn advanced(&self) -> f64 {
        *self
            .advanced_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The harness's estimate of the cohort clock now.
    pub fn now(&self) -> DateTime<Utc> {
        self.origin_virtual + chrono::Duration::milliseconds((self.elapsed() * 1000.0) as i64)
    }

    /// The cohort seconds since the cohort was created at cohort time `at`, on this clock.
    pub fn elapsed_at(&self, at: DateTime<Utc>) -> f64 {
        (at - self.origin_virtual).num_milliseconds() as f64 / 1000.0
    }

    /// Records a forward jump the harness asked the platform for.
    pub fn note_advance(&self, seconds: f64) {
        *self
            .advanced_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner()) += seconds;
    }

    /// The wall duration of `virtual_seconds` on this clock.
    pub fn wall(&self, virtual_seconds: f64) -> Duration {
        Duration::from_secs_f64((virtual_seconds / self.scale).max(0.0))
    }

    /// Sleeps for `virtual_seconds` of cohort time.
    pub async fn sleep(&self, virtual_seconds: f64) {
        tokio::time::sleep(self.wall(virtual_seconds)).await;
    }
}
