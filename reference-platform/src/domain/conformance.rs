//! Conformance control and the catalog rules: cohorts and their clocks, organisations, course
//! proposals (EN-2 pure-online occupations, EN-4 Annex 1 approvals, CD-1 blended online share,
//! CD-2 general share), classes (EN-3 organiser kinds), assessments and supervisor accounts.

use duxue_profile::{
    Assessment, AssessmentRequest, Class, ClassRequest, ClockReading, Cohort, CohortRequest,
    Course, CourseProposal, Delivery, ErrorCode, Lesson, LessonCategory, LessonMode, LessonSpec,
    Organisation, OrganisationKind, OrganisationRequest, SupervisorCredentials, SupervisorKind,
    SupervisorRequest,
};

use super::*;
use crate::clock::{MAX_ADVANCE_SECONDS, MAX_SCALE, from_datetime, to_datetime, wall_now};
use crate::error::Outcome;
use crate::ids::{hash_password, new_id, new_password};

const MAX_NAME: usize = 200;

/// Defect `loose-online-share`: the blended online maximum one step too far.
const LOOSE_ONLINE_SHARE_MAX: f64 = 0.45;
/// Defect `loose-general-share`: the general-share bounds one step too wide each way.
const LOOSE_GENERAL_SHARE: (f64, f64) = (0.15, 0.45);
/// Defect `clock-advance-capped`: the longest jump a cohort clock makes.
const CAPPED_ADVANCE_SECONDS: f64 = 365.0 * 86_400.0;

fn require_text(field: &str, value: &str) -> Outcome<()> {
    if value.trim().is_empty() {
        return Err(Refusal::invalid(format!("`{field}` must not be empty")));
    }
    if value.chars().count() > MAX_NAME {
        return Err(Refusal::invalid(format!(
            "`{field}` is longer than {MAX_NAME} characters"
        )));
    }
    Ok(())
}

fn reading(c: &CohortRec) -> ClockReading {
    ClockReading {
        cohort_id: c.id.clone(),
        virtual_now: to_datetime(c.clock.now()),
        scale: c.clock.scale,
    }
}

impl Platform {
    pub fn create_cohort(&self, req: CohortRequest) -> Outcome<Cohort> {
        if !(req.clock_scale.is_finite() && req.clock_scale > 0.0 && req.clock_scale <= MAX_SCALE) {
            return Err(Refusal::invalid(format!(
                "clock_scale must be a positive number up to {MAX_SCALE}"
            )));
        }
        if req.label.chars().count() > MAX_NAME {
            return Err(Refusal::invalid("label is too long"));
        }
        let wall = wall_now();
        let start = req.start_at.as_ref().map_or(wall, from_datetime);
        let rec = CohortRec {
            id: new_id("coh"),
            label: req.label,
            clock: CohortClock::new(start, req.clock_scale, wall),
            created_at: start,
            production: false,
        };
        self.save(&rec);
        let out = Cohort {
            cohort_id: rec.id.clone(),
            label: rec.label.clone(),
            clock: reading(&rec),
        };
        self.world.lock().cohorts.insert(rec.id.clone(), rec);
        Ok(out)
    }

    pub fn read_clock(&self, cohort_id: &str) -> Outcome<ClockReading> {
        let w = self.world.lock();
        let c = w
            .cohorts
            .get(cohort_id)
            .ok_or_else(|| Refusal::not_found("no such cohort"))?;
        Ok(reading(c))
    }

    /// Moves a cohort clock forward, then applies what the jump made due (deadlines, silence,
    /// retention).
    pub fn advance_clock(&self, cohort_id: &str, seconds: f64) -> Outcome<ClockReading> {
        if !seconds.is_finite() || seconds > MAX_ADVANCE_SECONDS {
            return Err(Refusal::invalid(format!(
                "seconds must be a finite number up to {MAX_ADVANCE_SECONDS}"
            )));
        }
        if seconds <= 0.0 {
            return Err(Refusal::new(
                ErrorCode::ClockBackwards,
                format!("a cohort clock only moves forward ({seconds} s asked)"),
            ));
        }
        let out = {
            let mut w = self.world.lock();
            let c = w
                .cohorts
                .get_mut(cohort_id)
                .ok_or_else(|| Refusal::not_found("no such cohort"))?;
            let moved = if self.has(Defect::ClockAdvanceCapped) {
                seconds.min(CAPPED_ADVANCE_SECONDS)
            } else {
                seconds
            };
            c.clock.advanced += moved;
            let c = c.clone();
            self.save(&c);
            let mut answer = reading(&c);
            answer.virtual_now += chrono::TimeDelta::milliseconds(((seconds - moved) * 1e3) as i64);
            answer
        };
        self.sweep_cohort(cohort_id);
        self.purge_cohort(cohort_id, None);
        Ok(out)
    }

    pub fn create_organisation(&self, req: OrganisationRequest) -> Outcome<Organisation> {
        require_text("name", &req.name)?;
        let mut w = self.world.lock();
        let now = w
            .cohorts
            .get(&req.cohort_id)
            .map(|c| c.clock.now())
            .ok_or_else(|| Refusal::not_found("no such cohort"))?;
        let rec = OrgRec {
            id: new_id("org"),
            cohort_id: req.cohort_id,
            name: req.name,
            kind: req.kind,
            created_at: now,
        };
        self.save(&rec);
        let out = Organisation {
            organisation_id: rec.id.clone(),
            cohort_id: rec.cohort_id.clone(),
            name: rec.name.clone(),
            kind: rec.kind,
        };
        w.orgs.insert(rec.id.clone(), rec);
        Ok(out)
    }

    /// Applies the catalog rules to a course proposal.
    pub fn check_course(&self, p: &CourseProposal) -> Outcome<()> {
        require_text("title", &p.title)?;
        require_text("occupation", &p.occupation)?;
        require_text("level", &p.level)?;
        if p.lessons.is_empty() {
            return Err(Refusal::invalid("a course needs at least one lesson"));
        }
        if p.lessons.len() > 500 {
            return Err(Refusal::invalid("a course has at most 500 lessons"));
        }
        for (i, l) in p.lessons.iter().enumerate() {
            require_text(&format!("lessons[{i}].title"), &l.title)?;
            if l.minutes == 0 || l.minutes > 24 * 60 {
                return Err(Refusal::invalid(format!(
                    "lessons[{i}].minutes must be between 1 and 1440"
                )));
            }
        }
        if p.delivery == Delivery::PureOnline
            && !self.has(Defect::AnyOccupationOnline)
            && !self.policy.allows_pure_online(&p.occupation)
        {
            return Err(Refusal::new(
                ErrorCode::OccupationNotPureOnline,
                format!(
                    "`{}` is not among the occupations §二 allows purely online",
                    p.occupation
                ),
            ));
        }
        if p.subsidised
            && !self.has(Defect::UnapprovedOccupation)
            && !self.approved_occupations.iter().any(|o| o == &p.occupation)
        {
            return Err(Refusal::new(
                ErrorCode::OccupationNotApproved,
                format!(
                    "`{}` is not among the platform's Annex 1 occupations",
                    p.occupation
                ),
            ));
        }
        let total: f64 = p.lessons.iter().map(|l| f64::from(l.minutes)).sum();
        let share = |f: &dyn Fn(&LessonSpec) -> bool| -> f64 {
            p.lessons
                .iter()
                .filter(|l| f(l))
                .map(|l| f64::from(l.minutes))
                .sum::<f64>()
                / total
        };
        let rules = &self.policy.rules;
        const EPS: f64 = 1e-9;
        match p.delivery {
            Delivery::PureOnline => {
                if p.lessons.iter().any(|l| l.mode == LessonMode::Offline) {
                    return Err(Refusal::new(
                        ErrorCode::CompositionInvalid,
                        "a pure-online course has only online lessons",
                    ));
                }
            }
            Delivery::Blended => {
                let online = share(&|l| l.mode == LessonMode::Online);
                let max = if self.has(Defect::LooseOnlineShare) {
                    LOOSE_ONLINE_SHARE_MAX
                } else {
                    rules.blended_online_share_max.value
                };
                if !self.has(Defect::OnlineShareUnchecked) && online > max + EPS {
                    return Err(Refusal::new(
                        ErrorCode::CompositionInvalid,
                        format!(
                            "online share {:.1}% is above the blended maximum {:.0}%",
                            online * 100.0,
                            max * 100.0
                        ),
                    ));
                }
            }
        }
        if !self.has(Defect::GeneralShareUnchecked) {
            let general = share(&|l| l.category == LessonCategory::General);
            let (min, max) = if self.has(Defect::LooseGeneralShare) {
                LOOSE_GENERAL_SHARE
            } else {
                (rules.general_share_min.value, rules.general_share_max.value)
            };
            if general < min - EPS || general > max + EPS {
                return Err(Refusal::new(
                    ErrorCode::CompositionInvalid,
                    format!(
                        "general share {:.1}% is outside {:.0}%–{:.0}%",
                        general * 100.0,
                        min * 100.0,
                        max * 100.0
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn propose_course(&self, p: CourseProposal) -> Outcome<Course> {
        self.check_course(&p)?;
        Ok(self.publish_course(p, wall_now()))
    }

    /// Publishes a course without checks (used for checked proposals and the seed catalog).
    pub fn publish_course(&self, p: CourseProposal, now: f64) -> Course {
        let course = Course {
            course_id: new_id("crs"),
            title: p.title,
            occupation: p.occupation,
            level: p.level,
            delivery: p.delivery,
            subsidised: p.subsidised,
            lessons: p
                .lessons
                .into_iter()
                .enumerate()
                .map(|(i, l)| Lesson {
                    lesson_id: new_id("les"),
                    ordinal: (i + 1) as u32,
                    title: l.title,
                    minutes: l.minutes,
                    category: l.category,
                    mode: l.mode,
                })
                .collect(),
        };
        let rec = CourseRec {
            id: course.course_id.clone(),
            cohort_id: String::new(),
            course: course.clone(),
            created_at: now,
        };
        self.save(&rec);
        self.world.lock().courses.insert(rec.id.clone(), rec);
        course
    }

    /// The courses of the application form, published when the catalog is empty.
    pub fn seed_catalog(&self) {
        if !self.world.lock().courses.is_empty() {
            return;
        }
        let lesson = |title: &str, minutes, category, mode| LessonSpec {
            title: title.into(),
            minutes,
            category,
            mode,
        };
        use LessonCategory::{General, Professional};
        use LessonMode::{Offline, Online};
        let mut seen = Vec::new();
        for line in &self.application.lines {
            if seen.contains(&(line.occupation.clone(), line.delivery)) {
                continue;
            }
            seen.push((line.occupation.clone(), line.delivery));
            let lessons = match line.delivery {
                Delivery::PureOnline => vec![
                    lesson("职业道德与安全 Ethics and safety", 45, General, Online),
                    lesson("专业理论（一） Theory 1", 45, Professional, Online),
                    lesson("专业理论（二） Theory 2", 45, Professional, Online),
                    lesson("专业理论（三） Theory 3", 45, Professional, Online),
                ],
                Delivery::Blended => vec![
                    lesson("职业道德与法律 Ethics and law", 60, General, Online),
                    lesson("专业理论 Theory", 30, Professional, Online),
                    lesson("实操训练 Practice", 150, Professional, Offline),
                ],
            };
            let proposal = CourseProposal {
                title: format!("{}（{}）", line.occupation, line.level),
                occupation: line.occupation.clone(),
                level: line.level.clone(),
                delivery: line.delivery,
                subsidised: true,
                lessons,
            };
            self.publish_course(proposal, wall_now());
        }
    }

    pub fn list_courses(&self) -> Vec<Course> {
        let w = self.world.lock();
        let mut courses: Vec<&CourseRec> = w.courses.values().collect();
        courses.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then(a.id.cmp(&b.id)));
        courses.into_iter().map(|c| c.course.clone()).collect()
    }

    pub fn create_class(&self, req: ClassRequest) -> Outcome<Class> {
        require_text("name", &req.name)?;
        let mut w = self.world.lock();
        let course = w
            .courses
            .get(&req.course_id)
            .ok_or_else(|| Refusal::not_found("no such course"))?;
        let org = w
            .orgs
            .get(&req.organiser_id)
            .ok_or_else(|| Refusal::not_found("no such organisation"))?;
        let allowed = match (course.course.delivery, org.kind) {
            (Delivery::PureOnline, OrganisationKind::Enterprise) => true,
            (Delivery::PureOnline, OrganisationKind::LabourDispatch) => {
                self.has(Defect::LabourDispatchAllowed)
            }
            (Delivery::PureOnline, OrganisationKind::Institution) => false,
            (Delivery::Blended, OrganisationKind::Institution) => true,
            (Delivery::Blended, _) => false,
        };
        if !allowed {
            let why = match course.course.delivery {
                Delivery::PureOnline => {
                    "pure-online training is organised by an enterprise that is not a labour-dispatch firm"
                }
                Delivery::Blended => "blended training is organised by a training institution",
            };
            return Err(Refusal::new(ErrorCode::OrganiserNotAllowed, why));
        }
        let now = w.cohort_now(&org.cohort_id);
        let class = Class {
            class_id: new_id("cls"),
            cohort_id: org.cohort_id.clone(),
            course_id: req.course_id,
            organiser_id: req.organiser_id,
            name: req.name,
        };
        let rec = ClassRec {
            id: class.class_id.clone(),
            cohort_id: class.cohort_id.clone(),
            class: class.clone(),
            created_at: now,
        };
        self.save(&rec);
        w.classes.insert(rec.id.clone(), rec);
        Ok(class)
    }

    pub fn record_assessment(&self, req: AssessmentRequest) -> Outcome<Assessment> {
        let mut w = self.world.lock();
        let e = w
            .enrolments
            .get(&req.enrolment_id)
            .ok_or_else(|| Refusal::not_found("no such enrolment"))?
            .clone();
        let now = w.cohort_now(&e.cohort_id);
        let rec = AssessmentRec {
            id: new_id("asm"),
            enrolment_id: e.id.clone(),
            learner_id: e.learner_id.clone(),
            cohort_id: e.cohort_id.clone(),
            result: req.result,
            assessed_at: now,
        };
        self.save(&rec);
        self.trace(
            Traj::new(&e.learner_id, &e.cohort_id, now, "assessment")
                .reference(&e.id)
                .detail(format!("{:?}", req.result).to_lowercase()),
        );
        let out = Assessment {
            assessment_id: rec.id.clone(),
            enrolment_id: rec.enrolment_id.clone(),
            result: rec.result,
            assessed_at: to_datetime(now),
        };
        w.assessments.entry(e.id).or_default().push(rec);
        Ok(out)
    }

    pub fn create_supervisor(&self, req: SupervisorRequest) -> Outcome<SupervisorCredentials> {
        let mut w = self.world.lock();
        let now = w
            .cohorts
            .get(&req.cohort_id)
            .map(|c| c.clock.now())
            .ok_or_else(|| Refusal::not_found("no such cohort"))?;
        if req.kind == SupervisorKind::Audit && self.has(Defect::NoAuditAccounts) {
            return Err(Refusal::invalid("this platform offers no audit accounts"));
        }
        let organisation_id = match req.kind {
            SupervisorKind::Authority | SupervisorKind::Audit => None,
            SupervisorKind::Enterprise | SupervisorKind::Institution => {
                let id = req.organisation_id.ok_or_else(|| {
                    Refusal::invalid("enterprise and institution accounts need organisation_id")
                })?;
                let org = w
                    .orgs
                    .get(&id)
                    .filter(|o| o.cohort_id == req.cohort_id)
                    .ok_or_else(|| Refusal::not_found("no such organisation in this cohort"))?;
                let fits = match req.kind {
                    SupervisorKind::Institution => org.kind == OrganisationKind::Institution,
                    _ => org.kind != OrganisationKind::Institution,
                };
                if !fits {
                    return Err(Refusal::new(
                        ErrorCode::OrganiserNotAllowed,
                        format!(
                            "a {:?} account cannot supervise a {:?} organisation",
                            req.kind, org.kind
                        ),
                    ));
                }
                Some(id)
            }
        };
        let password = new_password();
        let (salt, hash) = hash_password(&password);
        let rec = SupervisorRec {
            id: new_id("sup"),
            cohort_id: req.cohort_id,
            kind: req.kind,
            organisation_id,
            username: new_id("supervisor"),
            password_salt: salt,
            password_hash: hash,
            created_at: now,
        };
        self.save(&rec);
        let out = SupervisorCredentials {
            supervisor_id: rec.id.clone(),
            kind: rec.kind,
            username: rec.username.clone(),
            password,
        };
        w.supervisor_by_username
            .insert(rec.username.clone(), rec.id.clone());
        w.supervisors.insert(rec.id.clone(), rec);
        Ok(out)
    }
}
