//! Retention (RT-1): records and images are purged only once they are older than the policy's
//! `retention_years` on their cohort's clock (calendar years). The purge runs after every clock
//! advance and once a wall minute. Purged: trajectory events, images, capture and liveness
//! records. Defect `short-retention` purges after one year.

use super::*;
use crate::clock::sub_months;
use crate::store::writer::Purged;

/// Document kinds the purge may delete.
pub const PURGEABLE: &[&str] = &["capture", "liveness"];

impl Platform {
    /// The retention period in calendar months.
    pub fn retention_months(&self) -> u32 {
        if self.has(Defect::ShortRetention) {
            12
        } else {
            self.policy.rules.retention_years.value.saturating_mul(12)
        }
    }

    /// Queues the purge of a cohort's records older than the retention period.
    pub fn purge_cohort(
        &self,
        cohort_id: &str,
        reply: Option<tokio::sync::oneshot::Sender<Purged>>,
    ) {
        let now = self.world.lock().cohort_now(cohort_id);
        let cutoff = sub_months(now, self.retention_months(), self.policy.calendar_offset());
        self.writer.send(WriteOp::Purge {
            cohort_id: cohort_id.to_owned(),
            cutoff,
            kinds: PURGEABLE,
            reply,
        });
    }

    /// Queues the purge of every cohort.
    pub fn purge_all(&self) {
        let ids: Vec<String> = self.world.lock().cohorts.keys().cloned().collect();
        for id in ids {
            self.purge_cohort(&id, None);
        }
    }
}
