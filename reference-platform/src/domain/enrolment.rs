//! Enrolment (EN-1 cooldown), progress per lesson and class hour, and the lesson order rule
//! (PB-6: a professional online lesson is locked until every earlier one is completed).

use duxue_profile::{
    CaptureState, ClassHourProgress, Enrolment, ErrorCode, LessonCategory, LessonMode,
    LessonProgress, Progress,
};
use rand::Rng;

use super::*;
use crate::clock::{add_months, to_datetime};
use crate::error::Outcome;
use crate::ids::new_id;

/// Offset of every capture under defect `fixed-capture-offset`: 10 minutes into the class hour
/// (or its middle when shorter).
pub const FIXED_CAPTURE_OFFSET: f64 = 600.0;

/// Under defect `early-captures` every capture falls within this many seconds of the start of
/// its class hour.
pub const EARLY_CAPTURE_SECONDS: f64 = 600.0;

/// Under defect `few-capture-offsets`: 8, 21 and 34 minutes into a 45-minute class hour, as
/// shares of the class hour.
pub const FEW_CAPTURE_SHARES: [f64; 3] = [8.0 / 45.0, 21.0 / 45.0, 34.0 / 45.0];

pub fn enrolment_view(e: &EnrolmentRec) -> Enrolment {
    Enrolment {
        enrolment_id: e.id.clone(),
        learner_id: e.learner_id.clone(),
        class_id: e.class_id.clone(),
        course_id: e.course_id.clone(),
        enrolled_at: to_datetime(e.enrolled_at),
    }
}

impl Platform {
    /// Draws the capture positions of a class hour `[start, end)`.
    pub(crate) fn capture_slots(&self, start: f64, end: f64) -> Vec<CaptureSlot> {
        if self.has(Defect::NoCaptures) {
            return Vec::new();
        }
        let len = end - start;
        let n = self.policy.rules.captures_per_class_hour_min.value.max(1) as usize;
        let mut rng = self.rng.lock();
        if self.has(Defect::CapturesSometimesSkipped) && rng.random_bool(0.2) {
            return Vec::new();
        }
        let mut positions: Vec<f64> = if self.has(Defect::FixedCaptureOffset) {
            (0..n)
                .map(|i| start + FIXED_CAPTURE_OFFSET.min(len / 2.0) * (i + 1) as f64 / n as f64)
                .collect()
        } else if self.has(Defect::EarlyCaptures) {
            let early = EARLY_CAPTURE_SECONDS.min(len);
            (0..n)
                .map(|_| start + early * rng.random_range(0.02..0.98))
                .collect()
        } else if self.has(Defect::FewCaptureOffsets) {
            (0..n)
                .map(|_| start + len * FEW_CAPTURE_SHARES[rng.random_range(0..3)])
                .collect()
        } else {
            (0..n)
                .map(|_| start + len * rng.random_range(0.02..0.98))
                .collect()
        };
        positions.sort_by(f64::total_cmp);
        positions
            .into_iter()
            .map(|position| CaptureSlot {
                position,
                state: CaptureState::NotDue,
                event_id: None,
            })
            .collect()
    }

    /// A fresh progress record for an enrolment's lesson.
    pub(crate) fn new_progress(
        &self,
        e: &EnrolmentRec,
        lesson_id: &str,
        minutes: u32,
        now: f64,
    ) -> LessonProg {
        let seconds = f64::from(minutes) * 60.0;
        let ch = self.class_hour_seconds().max(1.0);
        let count = (seconds / ch).ceil().max(1.0) as u32;
        let hours = (0..count)
            .map(|i| {
                let start = f64::from(i) * ch;
                let end = (start + ch).min(seconds);
                HourProg {
                    index: i,
                    start,
                    end,
                    credit: 0.0,
                    watched: 0.0,
                    reached: start,
                    withheld: false,
                    last_failure: None,
                    captures: self.capture_slots(start, end),
                }
            })
            .collect();
        LessonProg {
            id: progress_id(&e.id, lesson_id),
            enrolment_id: e.id.clone(),
            lesson_id: lesson_id.to_owned(),
            learner_id: e.learner_id.clone(),
            cohort_id: e.cohort_id.clone(),
            lesson_seconds: seconds,
            furthest: 0.0,
            furthest_moved_at: now,
            hours,
            created_at: now,
        }
    }

    /// Whether captures count toward completion on this platform.
    pub(crate) fn captures_required(&self) -> bool {
        !self.has(Defect::NoCaptures)
            && self.controls.failed_capture != crate::controls::FailedCapture::Ignore
    }

    /// EN-1: enrols the learner in a class.
    pub fn enrol(&self, learner_id: &str, class_id: &str) -> Outcome<Enrolment> {
        let mut w = self.world.lock();
        let learner = w
            .learners
            .get(learner_id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("no such learner"))?;
        let class = w
            .classes
            .get(class_id)
            .filter(|c| c.cohort_id == learner.cohort_id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("no such class"))?;
        let course = w
            .courses
            .get(&class.class.course_id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("the class's course is gone"))?;
        let mine: Vec<EnrolmentRec> = w
            .enrolments_by_learner
            .get(learner_id)
            .into_iter()
            .flatten()
            .filter_map(|id| w.enrolments.get(id).cloned())
            .collect();
        if mine.iter().any(|e| e.class_id == class_id) {
            return Err(Refusal::new(
                ErrorCode::AlreadyEnrolled,
                "already enrolled in this class",
            ));
        }
        let now = w.cohort_now(&learner.cohort_id);
        if course.course.subsidised && !self.has(Defect::NoCooldown) {
            let per_course = self.has(Defect::CooldownPerCourse);
            let last = mine
                .iter()
                .filter(|e| e.subsidised && (!per_course || e.course_id == course.id))
                .max_by(|a, b| a.enrolled_at.total_cmp(&b.enrolled_at));
            if let Some(last) = last {
                let assessed = w
                    .assessments
                    .get(&last.id)
                    .and_then(|v| v.iter().map(|a| a.assessed_at).max_by(f64::total_cmp));
                let months = self.policy.rules.cooldown_months.value;
                match assessed {
                    None => {
                        return Err(Refusal::new(
                            ErrorCode::CooldownActive,
                            "the last subsidised training project is not assessed yet",
                        ));
                    }
                    Some(at) if now < add_months(at, months, self.policy.calendar_offset()) => {
                        return Err(Refusal::new(
                            ErrorCode::CooldownActive,
                            format!(
                                "the last assessment was on {}; a new subsidised enrolment opens {} month(s) later",
                                to_datetime(at).date_naive(),
                                months
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let rec = EnrolmentRec {
            id: new_id("enr"),
            learner_id: learner_id.to_owned(),
            cohort_id: learner.cohort_id.clone(),
            class_id: class_id.to_owned(),
            course_id: course.id.clone(),
            subsidised: course.course.subsidised,
            enrolled_at: now,
        };
        self.save(&rec);
        for lesson in course
            .course
            .lessons
            .iter()
            .filter(|l| l.mode == LessonMode::Online)
        {
            let p = self.new_progress(&rec, &lesson.lesson_id, lesson.minutes, now);
            self.save(&p);
            w.progress.insert(p.id.clone(), p);
        }
        self.trace(Traj::new(learner_id, &learner.cohort_id, now, "enrolled").reference(&rec.id));
        w.index_enrolment(&rec);
        let out = enrolment_view(&rec);
        w.enrolments.insert(rec.id.clone(), rec);
        Ok(out)
    }

    pub fn list_enrolments(&self, learner_id: &str) -> Vec<Enrolment> {
        let w = self.world.lock();
        let mut v: Vec<&EnrolmentRec> = w
            .enrolments_by_learner
            .get(learner_id)
            .into_iter()
            .flatten()
            .filter_map(|id| w.enrolments.get(id))
            .collect();
        v.sort_by(|a, b| a.enrolled_at.total_cmp(&b.enrolled_at));
        v.into_iter().map(enrolment_view).collect()
    }

    /// PB-6: whether a lesson of the enrolment is locked.
    pub(crate) fn lesson_locked(&self, w: &World, e: &EnrolmentRec, lesson_id: &str) -> bool {
        if self.has_in(Defect::LessonsUnlocked, &e.cohort_id) {
            return false;
        }
        let Some(course) = w.courses.get(&e.course_id) else {
            return false;
        };
        let Some(lesson) = course
            .course
            .lessons
            .iter()
            .find(|l| l.lesson_id == lesson_id)
        else {
            return false;
        };
        if lesson.category != LessonCategory::Professional {
            return false;
        }
        let required = self.captures_required();
        course
            .course
            .lessons
            .iter()
            .filter(|l| {
                l.ordinal < lesson.ordinal
                    && l.category == LessonCategory::Professional
                    && l.mode == LessonMode::Online
            })
            .any(|l| {
                w.progress
                    .get(&progress_id(&e.id, &l.lesson_id))
                    .is_none_or(|p| !self.unlocks_next(p, required))
            })
    }

    /// Whether an earlier lesson's progress lets the next professional lesson be played: it is
    /// completed (under defect `started-lesson-unlocks-next`: merely started).
    fn unlocks_next(&self, p: &LessonProg, captures_required: bool) -> bool {
        if self.has(Defect::StartedLessonUnlocksNext) {
            p.furthest > 0.0
        } else {
            p.completed(captures_required)
        }
    }

    /// The progress of an enrolment (checked for ownership by the caller).
    pub(crate) fn progress_view(&self, w: &World, e: &EnrolmentRec) -> Progress {
        let required = self.captures_required();
        let mut lessons = Vec::new();
        let mut total = 0.0;
        if let Some(course) = w.courses.get(&e.course_id) {
            for l in &course.course.lessons {
                let p = w.progress.get(&progress_id(&e.id, &l.lesson_id));
                let credited = p.map_or(0.0, LessonProg::credited);
                total += credited;
                lessons.push(LessonProgress {
                    lesson_id: l.lesson_id.clone(),
                    credited_seconds: credited,
                    furthest_position: p.map_or(0.0, |p| p.furthest),
                    completed: p.is_some_and(|p| p.completed(required)),
                    locked: l.mode == LessonMode::Online && self.lesson_locked(w, e, &l.lesson_id),
                    class_hours: p
                        .map(|p| {
                            p.hours
                                .iter()
                                .map(|h| ClassHourProgress {
                                    index: h.index,
                                    start_seconds: h.start,
                                    end_seconds: h.end,
                                    credited_seconds: h.effective_credit(),
                                    capture: h.capture_state(),
                                    withheld: h.withheld,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
        Progress {
            enrolment_id: e.id.clone(),
            credited_seconds: total,
            lessons,
        }
    }

    /// SC-3: a learner reads the progress of its own enrolment only.
    pub fn get_progress(&self, learner_id: &str, enrolment_id: &str) -> Outcome<Progress> {
        let w = self.world.lock();
        let e = w
            .enrolments
            .get(enrolment_id)
            .ok_or_else(|| Refusal::not_found("no such enrolment"))?;
        if e.learner_id != learner_id && !self.has_in(Defect::CrossLearnerAccess, &e.cohort_id) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "another learner's enrolment",
            ));
        }
        Ok(self.progress_view(&w, e))
    }
}
