//! duxue-scenarios: what simulated learners do, and one probe per requirement of the catalog.
//!
//! - [`learner`]: a synthetic learner (real images, liveness frames);
//! - [`study`]: how it plays a lesson, honest or in a cheat's form, and what came of it;
//! - [`ledger`]: the seconds a learner could legitimately be credited, as a plain value;
//! - [`rules`]: the rules every playback keeps (popup gaps, captures per class hour), measured
//!   one way for probes and population;
//! - [`behaviour`]: the named behaviours of the population mix;
//! - [`fixture`]: a probe's own cohort, organisations, course and class on the target;
//! - [`probes`]: one probe per requirement, each reading like its clause;
//! - [`outcome`]: checks, figures and the verdict rules (no check → INCONCLUSIVE).

pub mod behaviour;
pub mod clock;
pub mod context;
pub mod fixture;
pub mod learner;
pub mod ledger;
pub mod outcome;
pub mod population;
pub mod probes;
pub mod rules;
pub mod seeds;
pub mod stats;
pub mod study;

pub use context::ProbeContext;
pub use outcome::{Check, Judge, Outcome, ProbeError};
pub use probes::{Probe, all_probes};
