//! What every probe is given: a client whose exchanges go to the evidence journal under the
//! probe's name, the policy and application form, the clock scale, a seed of its own, and the
//! run's book of playbacks (every playback is evidence for the rules all of them keep).

use std::sync::Arc;

use duxue_profile::{ApplicationForm, Delivery, Policy, ProfileClient};

use crate::outcome::ProbeError;

#[derive(Clone)]
pub struct ProbeContext {
    pub client: ProfileClient,
    pub policy: Arc<Policy>,
    pub application: Arc<ApplicationForm>,
    /// Cohort-clock seconds per wall second for the probe's cohorts.
    pub clock_scale: f64,
    /// This probe's seed (derived from the run seed and the requirement id).
    pub seed: u64,
    /// The run's nonce: mixed into every synthetic person's identity (name, ID number, phone,
    /// face) so that a run with the same seed against the same tenant registers new people.
    /// Recorded in the run folder, so seed and nonce together reproduce the run.
    pub run_nonce: u64,
    /// The target's base URL as the user gave it.
    pub target_url: String,
    /// Every playback of the run's probes, as evidence (`crate::rules`).
    pub playbacks: Arc<crate::rules::Playbacks>,
}

impl ProbeContext {
    /// Occupations the application's Annex 1 entry approves.
    pub fn approved_occupations(&self) -> Result<&[String], ProbeError> {
        let number = self.application.platform.annex1_entry;
        self.policy
            .annex1_entry(number)
            .map(|e| e.occupations.as_slice())
            .ok_or_else(|| {
                ProbeError::setup(format!(
                    "the application names Annex 1 entry {number}, which the policy does not list"
                ))
            })
    }

    /// An occupation a conforming platform must accept for a subsidised course of `delivery`.
    pub fn course_occupation(&self, delivery: Delivery) -> Result<String, ProbeError> {
        let approved = self.approved_occupations()?;
        let found = approved
            .iter()
            .find(|o| delivery == Delivery::Blended || self.policy.allows_pure_online(o));
        found.cloned().ok_or_else(|| {
            ProbeError::setup(format!(
                "no approved occupation of this platform may be trained {delivery:?}"
            ))
        })
    }

    /// An occupation that is approved for the platform but not on the pure-online list.
    pub fn approved_not_pure_online(&self) -> Result<String, ProbeError> {
        let approved = self.approved_occupations()?;
        approved
            .iter()
            .find(|o| !self.policy.allows_pure_online(o))
            .cloned()
            .ok_or_else(|| {
                ProbeError::setup("every approved occupation may be trained purely online")
            })
    }

    /// A pure-online occupation the platform is not approved for.
    pub fn pure_online_not_approved(&self) -> Result<String, ProbeError> {
        let approved = self.approved_occupations()?;
        self.policy
            .pure_online
            .occupations
            .iter()
            .find(|o| !approved.contains(o))
            .cloned()
            .ok_or_else(|| {
                ProbeError::setup("the platform is approved for every pure-online occupation")
            })
    }
}
