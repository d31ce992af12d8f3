//! Playback and credit: one playback at a time (PB-3), heartbeats credited on the cohort clock
//! only for new content watched in order at real speed while present (PB-1, PB-2, PB-5),
//! attention popups at random gaps (PB-4), random captures per class hour (BC-1, BC-2) whose
//! failure withholds the class hour (BC-3). Where the profile allows two behaviours (a second
//! window, a silent gap, a failed capture) the platform follows its [`crate::controls`].
//!
//! Credit rule of a heartbeat at cohort time `t` with position `p`:
//! - the position may not run ahead of the furthest position watched by more than the cohort
//!   time since that position last moved plus the policy's seek tolerance
//!   (`seek_tolerance_seconds`, and `seek_tolerance_wall_seconds` of network and queueing
//!   jitter counted at the cohort's clock scale: at clock scale 60 a heartbeat held up 0.2 s
//!   looks 12 cohort seconds late, and the prompt one after it 12 seconds early); credit stays
//!   capped by presence time whatever the tolerance;
//! - presence counts from the later of the previous heartbeat and the last popup/capture
//!   answered; nothing counts while a popup or capture is pending or the window has no focus;
//! - the credit is the new content of each class hour (never content already credited in it),
//!   at most the presence time, spread over the class hours it covers.

use duxue_profile::{
    CaptureRecord, CaptureState, ErrorCode, EventKind, EventOutcome, HeartbeatAck,
    HeartbeatRequest, LessonMode, PendingEvent, Playback, PlaybackRequest, PlaybackState,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::*;
use crate::biometrics;
use crate::clock::{to_datetime, wall_now};
use crate::controls::{FailedCapture, SecondWindow, Silence};
use crate::error::Outcome;
use crate::ids::new_id;

/// The heartbeat interval asked for under defect `long-heartbeat-interval` (cohort seconds).
const LONG_HEARTBEAT_INTERVAL_SECONDS: f64 = 45.0;
/// How long after its deadline a popup answer is still accepted under defect
/// `late-popup-answers-accepted` (cohort seconds).
const LATE_POPUP_GRACE_SECONDS: f64 = 120.0;
/// The fastest rate accepted under defect `mild-speed-up-allowed`.
const MILD_SPEED_UP: f64 = 1.25;
/// The lead over elapsed time credited as watched under defect `position-lead-credited`.
const CREDITED_LEAD_SECONDS: f64 = 60.0;
/// Answered events are kept on the playback this long (cohort seconds) for idempotent answers.
const KEEP_RESOLVED_SECONDS: f64 = 900.0;

/// A capture request as stored for supervisors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaptureDoc {
    pub id: String,
    pub learner_id: String,
    pub cohort_id: String,
    pub at: f64,
    pub record: CaptureRecord,
}
impl_doc!(CaptureDoc, "capture", id, cohort_id, at, owner = learner_id);

/// Who acts on a playback.
#[derive(Clone, Debug)]
pub enum Actor {
    Learner {
        learner_id: String,
        session_id: String,
    },
    /// Only under defect `supervisor-can-write`.
    Supervisor(SupervisorRec),
}

fn stopped_refusal(pb: &PlaybackRec) -> Refusal {
    match pb.stop_reason {
        Some(StopReason::Superseded) => Refusal::new(
            ErrorCode::PlaybackSuperseded,
            "a newer playback of this learner replaced this one",
        ),
        reason => Refusal::new(
            ErrorCode::PlaybackStopped,
            format!(
                "the playback was stopped ({})",
                reason.map_or("stopped", stop_word)
            ),
        ),
    }
}

fn stop_word(r: StopReason) -> &'static str {
    match r {
        StopReason::Learner => "by the learner",
        StopReason::Superseded => "superseded",
        StopReason::PopupMissed => "popup missed",
        StopReason::CaptureMissed => "capture missed",
        StopReason::CaptureFailed => "capture failed",
        StopReason::Silence => "no heartbeat within the allowed gap",
        StopReason::SessionEnded => "session ended",
    }
}

pub fn playback_view(pb: &PlaybackRec, heartbeat_interval: f64) -> Playback {
    Playback {
        playback_id: pb.id.clone(),
        enrolment_id: pb.enrolment_id.clone(),
        lesson_id: pb.lesson_id.clone(),
        lesson_seconds: pb.lesson_seconds,
        start_position: pb.start_position,
        heartbeat_interval_seconds: heartbeat_interval,
        state: pb.state,
    }
}

fn pending_view(e: &EventRec) -> PendingEvent {
    PendingEvent {
        event_id: e.id.clone(),
        kind: e.kind,
        issued_at: to_datetime(e.issued_at),
        deadline: to_datetime(e.deadline),
        prompt: e.prompt.clone(),
    }
}

/// How a heartbeat's rate and position are judged.
struct Pace {
    /// The declared rate is refused (`rate_forbidden`).
    rate_refused: bool,
    /// Content credited per cohort second of presence, at most.
    rate_cap: f64,
    /// How far the position may lead the furthest watched plus the elapsed time (a seek beyond).
    lead: f64,
    /// Whether content within an accepted lead is credited as watched (not capped by presence).
    lead_credited: bool,
}

/// Under defect `rewatch-credited`: credits the content from the player's last position to
/// `to` that lies behind the furthest position (content already credited), at most `window`.
fn rewatch_credit(prog: &mut LessonProg, from: f64, to: f64, window: f64) -> f64 {
    let end = to.min(prog.furthest);
    if end <= from {
        return 0.0;
    }
    let parts: Vec<f64> = prog
        .hours
        .iter()
        .map(|h| (end.min(h.end) - from.max(h.start)).max(0.0))
        .collect();
    let total: f64 = parts.iter().sum();
    let credit = total.min(window);
    for (h, part) in prog.hours.iter_mut().zip(&parts) {
        if *part > 0.0 {
            h.credit += part * credit / total;
        }
    }
    credit
}

impl Platform {
    /// The speed-up and seek rules for a heartbeat declaring `rate` on a cohort clock at
    /// `scale` in cohort `cohort_id`: rates above 1 refused, credit at most real time, a lead of
    /// the policy's seek tolerance (each defect of PB-1 and PB-2 loosens one of them).
    fn pace(&self, rate: f64, scale: f64, cohort_id: &str) -> Pace {
        let mut pace = Pace {
            rate_refused: rate > 1.0 + 1e-9,
            rate_cap: 1.0,
            lead: self.policy.seek_tolerance(scale),
            lead_credited: false,
        };
        if self.has_in(Defect::SpeedUpAllowed, cohort_id) {
            pace.rate_refused = false;
            pace.rate_cap = rate.max(1.0);
        } else if self.has(Defect::MildSpeedUpAllowed) {
            pace.rate_refused = rate > MILD_SPEED_UP + 1e-9;
            pace.rate_cap = rate.clamp(1.0, MILD_SPEED_UP);
        }
        if self.has_in(Defect::SeekAllowed, cohort_id) {
            pace.lead = f64::INFINITY;
            pace.lead_credited = true;
        } else if self.has(Defect::PositionLeadCredited) {
            pace.lead = CREDITED_LEAD_SECONDS;
            pace.lead_credited = true;
        }
        pace
    }

    /// The heartbeat interval this platform asks for: its own 10 s brought within the policy's
    /// bounds (defect `long-heartbeat-interval`: 45 s, beyond them).
    pub fn heartbeat_interval(&self) -> f64 {
        if self.has(Defect::LongHeartbeatInterval) {
            return LONG_HEARTBEAT_INTERVAL_SECONDS;
        }
        let (min, max) = self.policy.heartbeat_interval_bounds();
        HEARTBEAT_INTERVAL_SECONDS.clamp(min, max)
    }

    /// The gap before popup number `issued` of a playback in cohort `cohort_id` (cohort
    /// seconds): uniform in [gap/3, gap − 2 heartbeats] so that, seen at heartbeat granularity,
    /// no gap exceeds the policy's maximum.
    fn popup_gap(&self, cohort_id: &str, issued: u32) -> f64 {
        let max = f64::from(self.policy.rules.popup_max_gap_seconds.value);
        let mut rng = self.rng.lock();
        if self.has_in(Defect::SparsePopups, cohort_id) {
            return rng.random_range(max..=2.0 * max);
        }
        if self.has(Defect::PopupGapStretchedNowAndThen) && issued % 5 == 4 {
            return rng.random_range(max + 30.0..=1.5 * max);
        }
        let hi = (max - 2.0 * self.heartbeat_interval()).max(max / 2.0);
        let lo = (max / 3.0).min(hi);
        rng.random_range(lo..=hi)
    }

    /// Checks that the actor may use the playback.
    fn check_owner(&self, w: &World, actor: &Actor, pb: &PlaybackRec) -> Outcome<()> {
        match actor {
            Actor::Learner { learner_id, .. } => {
                if &pb.learner_id == learner_id
                    || self.has_in(Defect::CrossLearnerAccess, &pb.cohort_id)
                {
                    Ok(())
                } else {
                    Err(Refusal::new(
                        ErrorCode::Forbidden,
                        "another learner's playback",
                    ))
                }
            }
            Actor::Supervisor(sup) => {
                let learner = w.learners.get(&pb.learner_id);
                if learner.is_some_and(|l| self.in_scope(w, sup, l)) {
                    Ok(())
                } else {
                    Err(Refusal::not_found("no such playback"))
                }
            }
        }
    }

    /// PB-3, PB-6: starts a playback; the learner's other playback is superseded, or this one
    /// refused (`concurrent_playback`), as the second-window control says.
    pub fn start_playback(
        &self,
        learner_id: &str,
        session_id: &str,
        req: PlaybackRequest,
    ) -> Outcome<Playback> {
        let mut w = self.world.lock();
        let e = w
            .enrolments
            .get(&req.enrolment_id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("no such enrolment"))?;
        if e.learner_id != learner_id && !self.has_in(Defect::CrossLearnerAccess, &e.cohort_id) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "another learner's enrolment",
            ));
        }
        let lesson = w
            .courses
            .get(&e.course_id)
            .and_then(|c| {
                c.course
                    .lessons
                    .iter()
                    .find(|l| l.lesson_id == req.lesson_id)
            })
            .cloned()
            .ok_or_else(|| Refusal::not_found("no such lesson in this enrolment's course"))?;
        if lesson.mode == LessonMode::Offline {
            return Err(Refusal::new(
                ErrorCode::LessonOffline,
                "this lesson is taught offline",
            ));
        }
        if self.lesson_locked(&w, &e, &lesson.lesson_id) {
            return Err(Refusal::new(
                ErrorCode::LessonLocked,
                "earlier professional lessons are not completed yet",
            ));
        }
        let now = w.cohort_now(&e.cohort_id);
        let active = self.competing_playbacks(&w, &e);
        let gap = f64::from(self.policy.rules.heartbeat_max_gap_seconds.value);
        let superseded: Vec<String> = match self.controls_in(&e.cohort_id).second_window {
            SecondWindow::SupersedeOld => active,
            SecondWindow::RefuseNew => {
                // Only a playback that still beats holds the learner; one abandoned past the
                // heartbeat gap (it may outlive its silence when silence does not stop it) is
                // superseded.
                let beating = |p: &String| {
                    w.playbacks
                        .get(p)
                        .is_some_and(|p| p.active() && now - p.last_hb <= gap)
                };
                if active.iter().any(beating) {
                    return Err(Refusal::new(
                        ErrorCode::ConcurrentPlayback,
                        "another playback of this learner is playing; stop it first",
                    ));
                }
                active
            }
            SecondWindow::Allow => Vec::new(),
        };
        for p in superseded {
            self.stop_playback_in(&mut w, &p, StopReason::Superseded, now);
        }
        let pid = progress_id(&e.id, &lesson.lesson_id);
        let mut prog = match w.progress.get(&pid) {
            Some(p) => p.clone(),
            None => self.new_progress(&e, &lesson.lesson_id, lesson.minutes, now),
        };
        prog.furthest_moved_at = now;
        let pb = PlaybackRec {
            id: new_id("pbk"),
            learner_id: e.learner_id.clone(),
            session_id: session_id.to_owned(),
            cohort_id: e.cohort_id.clone(),
            enrolment_id: e.id.clone(),
            lesson_id: lesson.lesson_id.clone(),
            progress_id: pid.clone(),
            lesson_seconds: prog.lesson_seconds,
            state: PlaybackState::Playing,
            stop_reason: None,
            started_at: now,
            start_position: prog.furthest,
            last_hb: now,
            last_hb_wall: wall_now(),
            credit_from: now,
            next_popup_at: now + self.popup_gap(&e.cohort_id, 0),
            popups_issued: 0,
            last_position: prog.furthest,
            events: Vec::new(),
            rewound: false,
        };
        self.save(&prog);
        self.save(&pb);
        self.trace(
            Traj::new(&pb.learner_id, &pb.cohort_id, now, "playback_started")
                .lesson(&pb.lesson_id)
                .position(prog.furthest)
                .reference(&pb.id),
        );
        w.progress.insert(pid, prog);
        w.index_playback(&pb);
        let out = playback_view(&pb, self.heartbeat_interval());
        w.playbacks.insert(pb.id.clone(), pb);
        Ok(out)
    }

    /// The learner's active playbacks a new playback of enrolment `e` competes with: all of them
    /// (only those of the same course under defect `multi-window-across-courses`).
    fn competing_playbacks(&self, w: &World, e: &EnrolmentRec) -> Vec<String> {
        let active = w.active_playbacks.get(&e.learner_id).into_iter().flatten();
        active
            .filter(|p| {
                !self.has(Defect::MultiWindowAcrossCourses)
                    || w.playbacks
                        .get(*p)
                        .and_then(|pb| w.enrolments.get(&pb.enrolment_id))
                        .is_some_and(|other| other.course_id == e.course_id)
            })
            .cloned()
            .collect()
    }

    /// Stops a playback (no-op when already stopped).
    pub(crate) fn stop_playback_in(&self, w: &mut World, id: &str, reason: StopReason, now: f64) {
        let Some(pb) = w.playbacks.get_mut(id) else {
            return;
        };
        if !pb.active() {
            return;
        }
        pb.state = PlaybackState::Stopped;
        pb.stop_reason = Some(reason);
        // What is pending ends with the playback: a pending capture counts as missed, so that
        // stopping cannot dodge it (profile/README.md, class hours).
        let mut ended = Vec::new();
        if !self.has(Defect::StopDodgesCapture) {
            for ev in pb
                .events
                .iter_mut()
                .filter(|e| e.resolved.is_none() && e.kind == EventKind::Capture)
            {
                ev.resolved = Some(Resolution {
                    passed: false,
                    at: now,
                    wall: wall_now(),
                });
                ended.push(ev.clone());
            }
        }
        let pb = pb.clone();
        self.save(&pb);
        if !ended.is_empty() {
            let mut prog = w.progress.get(&pb.progress_id).cloned();
            for ev in &ended {
                self.miss_capture(&pb, prog.as_mut(), ev, now, now);
            }
            if let Some(prog) = prog {
                self.save(&prog);
                w.progress.insert(prog.id.clone(), prog);
            }
        }
        let kind = if reason == StopReason::Superseded {
            "playback_superseded"
        } else {
            "playback_stopped"
        };
        self.trace(
            Traj::new(&pb.learner_id, &pb.cohort_id, now, kind)
                .lesson(&pb.lesson_id)
                .reference(&pb.id)
                .detail(stop_word(reason)),
        );
        if let Some(v) = w.active_playbacks.get_mut(&pb.learner_id) {
            v.retain(|p| p != id);
        }
    }

    /// Records capture `ev` of `pb` as missed at `at` (its deadline, or the stop of its
    /// playback) and, unless failed captures are ignored, withholds its class hour. Returns
    /// whether the class hour was withheld.
    fn miss_capture(
        &self,
        pb: &PlaybackRec,
        prog: Option<&mut LessonProg>,
        ev: &EventRec,
        at: f64,
        now: f64,
    ) -> bool {
        self.trace(
            Traj::new(&pb.learner_id, &pb.cohort_id, at, "capture_missed")
                .lesson(&pb.lesson_id)
                .reference(&ev.id),
        );
        self.update_capture_doc(pb, ev, CaptureState::Missed, None, None, None);
        let (Some(prog), Some(hour)) = (prog, ev.hour) else {
            return false;
        };
        let h = hour as usize;
        if let Some(s) = ev
            .slot
            .and_then(|slot| prog.hours.get_mut(h).and_then(|h| h.captures.get_mut(slot)))
        {
            s.state = CaptureState::Missed;
        }
        if self.controls_in(&pb.cohort_id).failed_capture == FailedCapture::Ignore {
            return false;
        }
        self.withhold(prog, h, CaptureState::Missed, now);
        self.trace(
            Traj::new(&pb.learner_id, &pb.cohort_id, at, "class_hour_withheld")
                .lesson(&pb.lesson_id)
                .reference(&ev.id)
                .detail(format!("class hour {hour}: capture missed")),
        );
        true
    }

    /// Withholds a class hour after a failed or missed capture: its credit is zeroed, the
    /// furthest position goes back to its start, and new capture positions are drawn.
    fn withhold(&self, prog: &mut LessonProg, hour: usize, failure: CaptureState, now: f64) {
        let (start, end) = match prog.hours.get(hour) {
            Some(h) => (h.start, h.end),
            None => return,
        };
        let slots = self.capture_slots(start, end);
        if let Some(h) = prog.hours.get_mut(hour) {
            h.credit = 0.0;
            h.withheld = true;
            h.last_failure = Some(failure);
            h.reached = h.start;
            h.captures = slots;
        }
        prog.furthest = prog.furthest.min(start);
        prog.furthest_moved_at = now;
    }

    /// When a pending event counts as missed: its deadline (two minutes later for popups
    /// under defect `late-popup-answers-accepted`, which accepts answers until then).
    fn lapses_at(&self, ev: &EventRec) -> f64 {
        if ev.kind == EventKind::Popup && self.has(Defect::LatePopupAnswersAccepted) {
            ev.deadline + LATE_POPUP_GRACE_SECONDS
        } else {
            ev.deadline
        }
    }

    /// Applies what is due at `now`: popups and captures past their deadline, silence.
    pub(crate) fn tick(&self, w: &mut World, id: &str, now: f64) {
        let Some(pb) = w.playbacks.get(id) else {
            return;
        };
        if !pb.active() {
            return;
        }
        let gap = f64::from(self.policy.rules.heartbeat_max_gap_seconds.value);
        let idle_credit = self.has_in(Defect::IdleCredit, &pb.cohort_id);
        let controls = self.controls_in(&pb.cohort_id);
        let silence_stops = controls.silence == Silence::Stop && !idle_credit;
        let overdue = pb.pending().any(|e| self.lapses_at(e) < now);
        let silent = now - pb.last_hb > gap && silence_stops;
        if !overdue && !silent {
            return;
        }
        let mut pb = pb.clone();
        let mut prog = w.progress.get(&pb.progress_id).cloned();
        let mut stop = None;
        let mut changed = false;
        let mut missed_captures = Vec::new();
        for ev in pb
            .events
            .iter_mut()
            .filter(|e| e.resolved.is_none() && self.lapses_at(e) < now)
        {
            changed = true;
            ev.resolved = Some(Resolution {
                passed: false,
                at: ev.deadline,
                wall: wall_now(),
            });
            match ev.kind {
                EventKind::Popup => {
                    self.trace(
                        Traj::new(&pb.learner_id, &pb.cohort_id, ev.deadline, "popup_missed")
                            .lesson(&pb.lesson_id)
                            .reference(&ev.id),
                    );
                    if !idle_credit {
                        stop.get_or_insert(StopReason::PopupMissed);
                    }
                }
                EventKind::Capture => missed_captures.push(ev.clone()),
            }
        }
        for ev in &missed_captures {
            if self.miss_capture(&pb, prog.as_mut(), ev, ev.deadline, now) {
                if controls.failed_capture == FailedCapture::WithholdAndStop {
                    stop.get_or_insert(StopReason::CaptureMissed);
                } else {
                    pb.rewound = true;
                }
            }
        }

        if stop.is_none() && silent {
            stop = Some(StopReason::Silence);
        }
        if let Some(prog) = prog.filter(|_| changed) {
            self.save(&prog);
            w.progress.insert(prog.id.clone(), prog);
        }
        if changed {
            if pb.pending().next().is_none() {
                pb.state = PlaybackState::Playing;
            }
            self.save(&pb);
        }
        w.playbacks.insert(pb.id.clone(), pb);
        if let Some(reason) = stop {
            self.stop_playback_in(w, id, reason, now);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn update_capture_doc(
        &self,
        pb: &PlaybackRec,
        ev: &EventRec,
        state: CaptureState,
        answered_at: Option<f64>,
        score: Option<f64>,
        image_id: Option<String>,
    ) {
        let doc = CaptureDoc {
            id: ev.id.clone(),
            learner_id: pb.learner_id.clone(),
            cohort_id: pb.cohort_id.clone(),
            at: ev.issued_at,
            record: CaptureRecord {
                event_id: ev.id.clone(),
                lesson_id: pb.lesson_id.clone(),
                class_hour: ev.hour.unwrap_or(0),
                requested_at: to_datetime(ev.issued_at),
                state,
                answered_at: answered_at.map(to_datetime),
                score,
                image_id,
            },
        };
        self.save(&doc);
    }

    /// Applies deadlines and silence to every active playback of a cohort (or all cohorts).
    pub fn sweep_cohort(&self, cohort_id: &str) {
        let mut w = self.world.lock();
        let ids: Vec<String> = w
            .active_playbacks
            .values()
            .flatten()
            .filter(|p| {
                w.playbacks
                    .get(*p)
                    .is_some_and(|p| p.cohort_id == cohort_id || cohort_id.is_empty())
            })
            .cloned()
            .collect();
        for id in ids {
            let cohort = w
                .playbacks
                .get(&id)
                .map(|p| p.cohort_id.clone())
                .unwrap_or_default();
            let now = w.cohort_now(&cohort);
            self.tick(&mut w, &id, now);
        }
        // Challenges expire; forget them ten minutes (cohort time) later.
        let stale: Vec<String> = w
            .challenges
            .values()
            .filter(|c| {
                let cohort = w
                    .learners
                    .get(&c.learner_id)
                    .map(|l| l.cohort_id.as_str())
                    .unwrap_or("");
                w.cohort_now(cohort) > c.expires_at + 600.0
            })
            .map(|c| c.id.clone())
            .collect();
        if !self.has(Defect::ReusableChallenge) {
            for id in stale {
                w.challenges.remove(&id);
            }
        }
    }

    /// Finds the actor's own playback, brings its deadlines up to now, and returns the cohort
    /// time of that moment.
    fn enter_playback(&self, w: &mut World, actor: &Actor, playback_id: &str) -> Outcome<f64> {
        let pb = w
            .playbacks
            .get(playback_id)
            .ok_or_else(|| Refusal::not_found("no such playback"))?;
        self.check_owner(w, actor, pb)?;
        let now = w.cohort_now(&pb.cohort_id);
        self.tick(w, playback_id, now);
        Ok(now)
    }

    /// Refuses a heartbeat (seek or speed-up): the interval earns nothing, the playback is
    /// re-anchored at this moment and the refusal goes into the trajectory.
    fn refuse_heartbeat(
        &self,
        w: &mut World,
        mut pb: PlaybackRec,
        (now, wall): (f64, f64),
        pos: f64,
        (kind, detail): (&'static str, String),
        refusal: Refusal,
    ) -> Outcome<HeartbeatAck> {
        pb.last_hb = now;
        pb.last_hb_wall = wall;
        pb.credit_from = pb.credit_from.max(now);
        self.trace(
            Traj::new(&pb.learner_id, &pb.cohort_id, now, kind)
                .lesson(&pb.lesson_id)
                .position(pos)
                .reference(&pb.id)
                .detail(detail),
        );
        self.save(&pb);
        w.playbacks.insert(pb.id.clone(), pb);
        Err(refusal)
    }

    /// PB-1, PB-2, PB-4, PB-5, BC-1, BC-2: one heartbeat.
    pub fn heartbeat(
        &self,
        actor: &Actor,
        playback_id: &str,
        req: &HeartbeatRequest,
    ) -> Outcome<HeartbeatAck> {
        if !req.position_seconds.is_finite() || req.position_seconds < 0.0 {
            return Err(Refusal::invalid(
                "position_seconds must be a non-negative number",
            ));
        }
        if !req.rate.is_finite() || req.rate < 0.0 || req.rate > 100.0 {
            return Err(Refusal::invalid("rate must be a number between 0 and 100"));
        }
        let mut w = self.world.lock();
        let now = self.enter_playback(&mut w, actor, playback_id)?;
        let mut pb = w
            .playbacks
            .get(playback_id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("no such playback"))?;
        if !pb.active() {
            return Err(stopped_refusal(&pb));
        }
        let busy = self.has(Defect::FailOpenUnderLoad)
            && w.learners_online_in(&pb.cohort_id) >= crate::load::PEAK_ONLINE;
        let mut prog = w
            .progress
            .get(&pb.progress_id)
            .cloned()
            .ok_or_else(|| Refusal::internal("playback without progress"))?;
        let wall = wall_now();
        let pos = req.position_seconds.min(prog.lesson_seconds);
        let dt = (now - pb.last_hb).max(0.0);
        let scale = w.cohorts.get(&pb.cohort_id).map_or(1.0, |c| c.clock.scale);
        let pace = self.pace(req.rate, scale, &pb.cohort_id);
        if pace.rate_refused && !busy {
            let refusal = Refusal::new(
                ErrorCode::RateForbidden,
                format!("rate {} is above 1; nothing credited", req.rate),
            );
            let event = ("rate_refused", format!("rate {}", req.rate));
            return self.refuse_heartbeat(&mut w, pb, (now, wall), pos, event, refusal);
        }
        // A withheld class hour's frontier was rewound under a playback that went on: this beat
        // moves the player back there (the answer's accepted position); it earns nothing and is
        // no seek, and the frontier moves from here.
        let rewound = std::mem::take(&mut pb.rewound);
        if rewound {
            prog.furthest_moved_at = now;
        }
        let since_moved = (now - prog.furthest_moved_at).max(0.0);
        let allowed = prog.furthest + since_moved * pace.rate_cap + pace.lead;
        if pos > allowed && !rewound && !busy {
            let refusal = Refusal::new(
                ErrorCode::SeekForbidden,
                format!(
                    "position {pos:.1} is past the furthest position watched ({:.1}); resume there",
                    prog.furthest
                ),
            );
            let event = ("seek_refused", format!("from {:.1}", prog.furthest));
            return self.refuse_heartbeat(&mut w, pb, (now, wall), pos, event, refusal);
        }

        // Presence: nothing counts while something is pending or the window has no focus, nor
        // over a gap longer than the policy allows (where silence does not stop the playback).
        let pending = pb.pending().next().is_some();
        let gap = f64::from(self.policy.rules.heartbeat_max_gap_seconds.value);
        let window = if self.has_in(Defect::IdleCredit, &pb.cohort_id) {
            dt
        } else if pending
            || (!req.focused && !self.has(Defect::FocusIgnored))
            || rewound
            || dt > gap
        {
            0.0
        } else {
            (now - pb.credit_from.max(pb.last_hb)).max(0.0)
        };
        let mut credited_now = 0.0;
        if self.has(Defect::RewatchCredited) && window > 0.0 {
            credited_now += rewatch_credit(&mut prog, pb.last_position, pos, window);
        }
        if window > 0.0 && pos > prog.furthest {
            let (a, b) = (prog.furthest, pos);
            let parts: Vec<f64> = prog
                .hours
                .iter()
                .map(|h| (b.min(h.end) - a.max(h.reached).max(h.start)).max(0.0))
                .collect();
            let new_total: f64 = parts.iter().sum();
            if new_total > 0.0 {
                let cap = if pace.lead_credited {
                    new_total
                } else {
                    window * pace.rate_cap
                };
                let credit = new_total.min(cap);
                let f = credit / new_total;
                for (h, part) in prog.hours.iter_mut().zip(&parts) {
                    if *part > 0.0 {
                        h.credit += part * f;
                        h.watched += part;
                        h.reached = h.reached.max(b.min(h.end));
                    }
                }
                credited_now += credit;
            }
            prog.furthest = b;
            prog.furthest_moved_at = now;
        }

        // Captures: request each slot the furthest position reached.
        if !busy {
            let cap_window = f64::from(self.policy.rules.capture_answer_window_seconds.value);
            let furthest = prog.furthest;
            for (hi, h) in prog.hours.iter_mut().enumerate() {
                for (si, slot) in h.captures.iter_mut().enumerate() {
                    if slot.state == CaptureState::NotDue
                        && slot.position <= furthest
                        && h.start < furthest + 1e-9
                    {
                        let ev = EventRec {
                            id: new_id("cap"),
                            kind: EventKind::Capture,
                            issued_at: now,
                            issued_wall: wall,
                            deadline: now + cap_window,
                            prompt: Some("请正对摄像头 / face the camera".into()),
                            code: None,
                            hour: Some(hi as u32),
                            slot: Some(si),
                            resolved: None,
                        };
                        slot.state = CaptureState::Pending;
                        slot.event_id = Some(ev.id.clone());
                        let doc = CaptureDoc {
                            id: ev.id.clone(),
                            learner_id: pb.learner_id.clone(),
                            cohort_id: pb.cohort_id.clone(),
                            at: now,
                            record: CaptureRecord {
                                event_id: ev.id.clone(),
                                lesson_id: pb.lesson_id.clone(),
                                class_hour: hi as u32,
                                requested_at: to_datetime(now),
                                state: CaptureState::Pending,
                                answered_at: None,
                                score: None,
                                image_id: None,
                            },
                        };
                        self.save(&doc);
                        self.trace(
                            Traj::new(&pb.learner_id, &pb.cohort_id, now, "capture_requested")
                                .lesson(&pb.lesson_id)
                                .position(slot.position)
                                .reference(&ev.id)
                                .detail(format!("class hour {hi}")),
                        );
                        pb.events.push(ev);
                    }
                }
            }
        }
        // Popups: at random gaps on the cohort clock.
        if !busy && now >= pb.next_popup_at && !pb.pending().any(|e| e.kind == EventKind::Popup) {
            let code = format!("{:04}", self.rng.lock().random_range(0..10_000u32));
            let window_s = f64::from(self.policy.rules.popup_answer_window_seconds.value);
            let ev = EventRec {
                id: new_id("pop"),
                kind: EventKind::Popup,
                issued_at: now,
                issued_wall: wall,
                deadline: now + window_s,
                prompt: Some(format!("请输入 {code} 继续学习 / type {code} to continue")),
                code: Some(code),
                hour: None,
                slot: None,
                resolved: None,
            };
            self.trace(
                Traj::new(&pb.learner_id, &pb.cohort_id, now, "popup_issued")
                    .lesson(&pb.lesson_id)
                    .position(prog.furthest)
                    .reference(&ev.id),
            );
            pb.events.push(ev);
            pb.popups_issued += 1;
            pb.next_popup_at = now + self.popup_gap(&pb.cohort_id, pb.popups_issued);
        }
        pb.events.retain(|e| {
            e.resolved
                .as_ref()
                .is_none_or(|r| now - r.at < KEEP_RESOLVED_SECONDS)
        });
        pb.last_hb = now;
        pb.last_hb_wall = wall;
        pb.last_position = pos;
        pb.credit_from = pb.credit_from.max(now);
        pb.state = if pb.pending().next().is_some() {
            PlaybackState::Paused
        } else {
            PlaybackState::Playing
        };
        self.trace(
            Traj::new(&pb.learner_id, &pb.cohort_id, now, "heartbeat")
                .lesson(&pb.lesson_id)
                .position(prog.furthest)
                .reference(&pb.id)
                .detail(format!("{credited_now:.3}")),
        );
        let ack = HeartbeatAck {
            playback_id: pb.id.clone(),
            state: pb.state,
            virtual_time: to_datetime(now),
            accepted_position: prog.furthest,
            credited_seconds: prog.credited(),
            events: pb.pending().map(pending_view).collect(),
        };
        self.save(&prog);
        self.save(&pb);
        w.progress.insert(prog.id.clone(), prog);
        w.playbacks.insert(pb.id.clone(), pb);
        Ok(ack)
    }

    /// Finds an event of a playback for an answer; applies deadlines first.
    fn event_for_answer(
        &self,
        w: &mut World,
        actor: &Actor,
        playback_id: &str,
        event_id: &str,
        kind: EventKind,
    ) -> Outcome<(PlaybackRec, EventRec, f64)> {
        let now = self.enter_playback(w, actor, playback_id)?;
        let pb = w
            .playbacks
            .get(playback_id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("no such playback"))?;
        let ev = pb
            .events
            .iter()
            .find(|e| e.id == event_id && e.kind == kind)
            .cloned()
            .ok_or_else(|| {
                Refusal::new(ErrorCode::EventUnknown, "no such event on this playback")
            })?;
        Ok((pb, ev, now))
    }

    fn outcome(ev: &EventRec, r: &Resolution) -> EventOutcome {
        EventOutcome {
            event_id: ev.id.clone(),
            kind: ev.kind,
            passed: r.passed,
            answered_at: to_datetime(r.at),
        }
    }

    /// Resolves an already-resolved event idempotently, or refuses when missed.
    fn resolved_answer(ev: &EventRec) -> Option<Outcome<EventOutcome>> {
        let r = ev.resolved.as_ref()?;
        if r.at >= ev.deadline && !r.passed {
            return Some(Err(Refusal::new(
                ErrorCode::EventExpired,
                "the deadline passed",
            )));
        }
        Some(Ok(Self::outcome(ev, r)))
    }

    /// PB-5: answers an attention popup.
    pub fn answer_popup(
        &self,
        actor: &Actor,
        playback_id: &str,
        event_id: &str,
        answer: &str,
    ) -> Outcome<EventOutcome> {
        let mut w = self.world.lock();
        let (mut pb, ev, now) =
            self.event_for_answer(&mut w, actor, playback_id, event_id, EventKind::Popup)?;
        if let Some(done) = Self::resolved_answer(&ev) {
            return done;
        }
        if !pb.active() {
            return Err(stopped_refusal(&pb));
        }
        let compared = !self.has(Defect::PopupCodeNotCompared);
        if compared && answer.trim() != ev.code.as_deref().unwrap_or_default() {
            self.trace(
                Traj::new(&pb.learner_id, &pb.cohort_id, now, "popup_wrong_answer")
                    .lesson(&pb.lesson_id)
                    .reference(&ev.id),
            );
            return Err(Refusal::new(
                ErrorCode::WrongAnswer,
                "the answer is not the code in the prompt",
            ));
        }
        let wall = wall_now();
        let r = Resolution {
            passed: true,
            at: now,
            wall,
        };
        if let Some(e) = pb.events.iter_mut().find(|e| e.id == ev.id) {
            e.resolved = Some(r.clone());
        }
        pb.credit_from = pb.credit_from.max(now);
        if pb.pending().next().is_none() {
            pb.state = PlaybackState::Playing;
        }
        self.trace(
            Traj::new(&pb.learner_id, &pb.cohort_id, now, "popup_answered")
                .lesson(&pb.lesson_id)
                .reference(&ev.id)
                .detail(format!(
                    "{:.3} {:.6}",
                    now - ev.issued_at,
                    wall - ev.issued_wall
                )),
        );
        self.save(&pb);
        w.playbacks.insert(pb.id.clone(), pb);
        Ok(Self::outcome(&ev, &r))
    }

    /// BC-1, BC-3, SV-5: uploads a capture; a face that is not the registered one fails it.
    pub async fn upload_capture(
        self: &std::sync::Arc<Self>,
        actor: &Actor,
        playback_id: &str,
        event_id: &str,
        image_b64: &str,
    ) -> Outcome<EventOutcome> {
        let (template, asked_at) = {
            let mut w = self.world.lock();
            let (pb, ev, now) =
                self.event_for_answer(&mut w, actor, playback_id, event_id, EventKind::Capture)?;
            if let Some(done) = Self::resolved_answer(&ev) {
                return done;
            }
            if !pb.active() {
                return Err(stopped_refusal(&pb));
            }
            let learner = w
                .learners
                .get(&pb.learner_id)
                .ok_or_else(|| Refusal::internal("playback of an unknown learner"))?;
            let template = hex::decode(&learner.face_template)
                .map_err(|e| Refusal::internal(format!("stored template: {e}")))?;
            (template, now)
        };
        let image = super::identity::decode_image(
            "image",
            image_b64,
            self.policy.rules.image_min_side_pixels.value,
        )?;
        let (image, judgement) = tokio::task::spawn_blocking(move || {
            let j = biometrics::judge_capture(&image, &template);
            (image, j)
        })
        .await
        .map_err(|e| Refusal::internal(format!("capture task: {e}")))?;
        let judgement = judgement?;
        let mut w = self.world.lock();
        let mut pb = w
            .playbacks
            .get(playback_id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("no such playback"))?;
        let Some(ev) = pb.events.iter().find(|e| e.id == event_id).cloned() else {
            return Err(Refusal::new(
                ErrorCode::EventUnknown,
                "no such event on this playback",
            ));
        };
        if let Some(done) = Self::resolved_answer(&ev) {
            return done;
        }
        let now = w.cohort_now(&pb.cohort_id).max(asked_at);
        let image_id = if self.has(Defect::ImagesNotKept) {
            None
        } else {
            Some(self.store_image(&pb.learner_id, &pb.cohort_id, asked_at, image))
        };
        let r = Resolution {
            passed: judgement.passed,
            at: asked_at,
            wall: wall_now(),
        };
        if let Some(e) = pb.events.iter_mut().find(|e| e.id == ev.id) {
            e.resolved = Some(r.clone());
        }
        let mut prog = w.progress.get(&pb.progress_id).cloned();
        let state = if judgement.passed {
            CaptureState::Passed
        } else {
            CaptureState::Failed
        };
        let mut stop = None;
        let failed_capture = self.controls_in(&pb.cohort_id).failed_capture;
        if let (Some(prog), Some(hour), Some(slot)) = (prog.as_mut(), ev.hour, ev.slot) {
            let h = hour as usize;
            if let Some(s) = prog.hours.get_mut(h).and_then(|h| h.captures.get_mut(slot)) {
                s.state = state;
            }
            if judgement.passed {
                if let Some(hp) = prog.hours.get_mut(h)
                    && hp.withheld
                    && hp.captures.iter().all(|s| s.state == CaptureState::Passed)
                {
                    hp.withheld = false;
                    hp.last_failure = None;
                }
            } else if failed_capture != FailedCapture::Ignore {
                self.withhold(prog, h, CaptureState::Failed, now);
                self.trace(
                    Traj::new(
                        &pb.learner_id,
                        &pb.cohort_id,
                        asked_at,
                        "class_hour_withheld",
                    )
                    .lesson(&pb.lesson_id)
                    .reference(&ev.id)
                    .detail(format!("class hour {hour}: capture failed")),
                );
                if failed_capture == FailedCapture::WithholdAndStop {
                    stop = Some(StopReason::CaptureFailed);
                } else {
                    pb.rewound = true;
                }
            }
        }
        pb.credit_from = pb.credit_from.max(asked_at);
        if pb.pending().next().is_none() && pb.active() {
            pb.state = PlaybackState::Playing;
        }
        self.trace(
            Traj::new(
                &pb.learner_id,
                &pb.cohort_id,
                asked_at,
                if judgement.passed {
                    "capture_passed"
                } else {
                    "capture_failed"
                },
            )
            .lesson(&pb.lesson_id)
            .reference(&ev.id)
            .detail(judgement.reason.clone()),
        );
        self.save(&pb);
        w.playbacks.insert(pb.id.clone(), pb.clone());
        self.update_capture_doc(&pb, &ev, state, Some(asked_at), judgement.score, image_id);
        if let Some(prog) = prog {
            self.save(&prog);
            w.progress.insert(prog.id.clone(), prog);
        }
        if let Some(reason) = stop {
            self.stop_playback_in(&mut w, playback_id, reason, now);
        }
        Ok(Self::outcome(&ev, &r))
    }

    /// Stops a playback at the learner's request; stopping a stopped one answers it unchanged.
    pub fn stop_playback(&self, actor: &Actor, playback_id: &str) -> Outcome<Playback> {
        let mut w = self.world.lock();
        if self.has(Defect::StopBeforeOwnerCheck)
            && let Some(cohort) = w.playbacks.get(playback_id).map(|p| p.cohort_id.clone())
        {
            let now = w.cohort_now(&cohort);
            self.stop_playback_in(&mut w, playback_id, StopReason::Learner, now);
        }
        let now = self.enter_playback(&mut w, actor, playback_id)?;
        self.stop_playback_in(&mut w, playback_id, StopReason::Learner, now);
        w.playbacks
            .get(playback_id)
            .map(|pb| playback_view(pb, self.heartbeat_interval()))
            .ok_or_else(|| Refusal::not_found("no such playback"))
    }
}
