//! The production side: outside every conformance cohort the reference platform is a training
//! platform like any other. At first start it seeds one production cohort on the real clock,
//! the organisations that run training on it (two enterprises and the applicant institution),
//! a class of every catalogue course, and the supervisor accounts a bureau and the
//! organisations are given. Learners register, enrol and study there through the public
//! operations of profile v1 alone; no conformance endpoint is needed, and none can reach it.
//!
//! A production clock runs at scale 1. Tests against a simulated platform may speed it up
//! (`production_clock_scale`): the clock is re-anchored at start, so it never jumps.

use duxue_profile::{
    Class, ClassRequest, Delivery, Organisation, OrganisationKind, OrganisationRequest,
    SupervisorKind, SupervisorRequest,
};

use super::*;
use crate::clock::wall_now;
use crate::error::Outcome;
use crate::ids::new_id;

/// The label of the production cohort (never shown on the wire).
pub const PRODUCTION_LABEL: &str = "production";

/// The enterprises seeded on the production side (名称, as a bureau would see them).
const ENTERPRISES: [&str; 2] = ["许昌瑞昌电子商务有限公司", "许昌万家福商贸有限公司"];

/// A supervisor account made at first start, with the password only known then.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductionSupervisor {
    pub kind: SupervisorKind,
    /// The organisation an enterprise or institution account sees.
    pub organisation_id: Option<String>,
    pub organisation_name: Option<String>,
    pub username: String,
    pub password: String,
}

/// What the first start seeded on the production side.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductionSeed {
    pub cohort_id: String,
    pub organisations: Vec<Organisation>,
    pub classes: Vec<Class>,
    pub supervisors: Vec<ProductionSupervisor>,
}

impl Platform {
    /// Makes the production side on first start, or finds it again (then its clock runs at
    /// `scale` from now on, continuing where it stood). Returns what was seeded, with the
    /// supervisor passwords, only when it was made now.
    pub fn seed_production(&self, scale: f64) -> Outcome<Option<ProductionSeed>> {
        if !(scale.is_finite() && scale > 0.0 && scale <= crate::clock::MAX_SCALE) {
            return Err(Refusal::invalid(format!(
                "the production clock scale must be a positive number up to {}",
                crate::clock::MAX_SCALE
            )));
        }
        let existing = {
            let mut w = self.world.lock();
            let found = w.cohorts.values_mut().find(|c| c.production);
            found.map(|c| {
                if (c.clock.scale - scale).abs() > f64::EPSILON {
                    let wall = wall_now();
                    let now = c.clock.at(wall);
                    c.clock = crate::clock::CohortClock::new(now, scale, wall);
                    self.save(&*c);
                }
                c.id.clone()
            })
        };
        if let Some(id) = existing {
            let _ = self.production_cohort.set(id);
            return Ok(None);
        }
        let wall = wall_now();
        let cohort = CohortRec {
            id: new_id("coh"),
            label: PRODUCTION_LABEL.into(),
            clock: crate::clock::CohortClock::new(wall, scale, wall),
            created_at: wall,
            production: true,
        };
        self.save(&cohort);
        let cohort_id = cohort.id.clone();
        self.world.lock().cohorts.insert(cohort_id.clone(), cohort);
        let _ = self.production_cohort.set(cohort_id.clone());

        let organisation = |name: &str, kind| {
            self.create_organisation(OrganisationRequest {
                cohort_id: cohort_id.clone(),
                name: name.to_owned(),
                kind,
            })
        };
        let mut enterprises = Vec::new();
        for name in ENTERPRISES {
            enterprises.push(organisation(name, OrganisationKind::Enterprise)?);
        }
        let institution_name = self
            .application
            .institution
            .as_ref()
            .map_or("许昌市职业技能培训学校", |i| i.name.as_str())
            .to_owned();
        let institution = organisation(&institution_name, OrganisationKind::Institution)?;

        let mut classes = Vec::new();
        let courses = self.list_courses();
        let mut pure_online = 0;
        for course in courses.iter().filter(|c| c.subsidised) {
            let organiser = match course.delivery {
                Delivery::PureOnline => {
                    pure_online += 1;
                    &enterprises[(pure_online - 1) % enterprises.len()]
                }
                Delivery::Blended => &institution,
            };
            classes.push(self.create_class(ClassRequest {
                course_id: course.course_id.clone(),
                organiser_id: organiser.organisation_id.clone(),
                name: format!("{} 第1期", course.title),
            })?);
        }

        let mut supervisors = Vec::new();
        let mut account = |kind, organisation: Option<&Organisation>| -> Outcome<()> {
            let made = self.create_supervisor(SupervisorRequest {
                cohort_id: cohort_id.clone(),
                kind,
                organisation_id: organisation.map(|o| o.organisation_id.clone()),
            })?;
            supervisors.push(ProductionSupervisor {
                kind,
                organisation_id: organisation.map(|o| o.organisation_id.clone()),
                organisation_name: organisation.map(|o| o.name.clone()),
                username: made.username,
                password: made.password,
            });
            Ok(())
        };
        account(SupervisorKind::Authority, None)?;
        // A platform that offers no audit accounts (defect `no-audit-accounts`) has none on its
        // production side either.
        if !self.has(Defect::NoAuditAccounts) {
            account(SupervisorKind::Audit, None)?;
        }
        for enterprise in &enterprises {
            account(SupervisorKind::Enterprise, Some(enterprise))?;
        }
        account(SupervisorKind::Institution, Some(&institution))?;
        let mut organisations = enterprises;
        organisations.push(institution);
        Ok(Some(ProductionSeed {
            cohort_id,
            organisations,
            classes,
            supervisors,
        }))
    }
}
