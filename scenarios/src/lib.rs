//! duxue-scenarios: what simulated learners do, and one probe per requirement of the catalog.
//!
//! - [`learner`]: a synthetic learner (real images, liveness frames) with study styles, honest
//!   and cheating, and its own ledger of creditable seconds;
//! - [`behaviour`]: the named behaviours of the population mix;
//! - [`fixture`]: a probe's own cohort, organisations, course and class on the target;
//! - [`probes`]: one probe per requirement, each reading like its clause;
//! - [`outcome`]: checks, figures and the verdict rules (no check → INCONCLUSIVE).

pub mod behaviour;
pub mod clock;
pub mod context;
pub mod fixture;
pub mod learner;
pub mod outcome;
pub mod population;
pub mod probes;
pub mod seeds;
pub mod stats;

pub use context::ProbeContext;
pub use outcome::{Check, Judge, Outcome, ProbeError};
pub use probes::{Probe, all_probes};
