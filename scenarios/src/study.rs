//! Playing one lesson: how a learner plays it (a [`StudyPlan`], honest or one form of a cheat),
//! the study loop that heartbeats, answers popups and captures in that style and keeps the
//! learner's [`Ledger`], and what came of it (a [`StudyLog`]).

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use duxue_profile::{
    ClientError, ErrorCode, EventKind, HeartbeatAck, HeartbeatRequest, Playback, PlaybackRequest,
    PlaybackState,
};
use rand::Rng;

use crate::learner::{SimLearner, popup_code, sha256};
use crate::outcome::ProbeError;
use crate::rules::{PlaybackEvidence, PopupGaps};

/// How a learner deals with attention popups.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PopupStyle {
    /// Notices after a few seconds, pauses, answers (human jitter).
    Human,
    /// Answers every popup after exactly this many cohort seconds (an auto-clicker).
    Bot { latency: f64 },
    /// Never answers (an idler).
    Ignore,
    /// Answers like a person, with a code that is not the one asked for.
    WrongCode,
    /// Answers with the right code `by` cohort seconds after the popup's deadline.
    Late { by: f64 },
    /// Leaves popups unanswered until the playback is stopped, then answers the last one and
    /// sends another heartbeat.
    AfterStop,
}

/// How a learner deals with capture requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CaptureStyle {
    Genuine,
    /// Somebody else sits in front of the camera.
    OtherPerson,
    Ignore,
    /// Closes the player when a capture is asked, before answering (the capture is dodged by
    /// stopping, as a learner away from the camera would try).
    StopWhenAsked,
}

/// How the player's position moves besides playing at its speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seek {
    None,
    /// One jump forward by `by` seconds once the position reaches `at`.
    Jump {
        at: f64,
        by: f64,
    },
    /// From position `from` on, a jump forward of between `min` and `max` seconds at every
    /// heartbeat (small jumps that add up).
    Creep {
        from: f64,
        min: f64,
        max: f64,
    },
    /// Once the position reaches `at`, back by `by` seconds, and on from there again.
    Rewind {
        at: f64,
        by: f64,
    },
}

/// How a learner plays one lesson.
#[derive(Clone, Debug)]
pub struct StudyPlan {
    pub enrolment_id: String,
    pub lesson_id: String,
    /// The playback rate the heartbeats declare (1 honest).
    pub rate: f64,
    /// How fast the position really advances, in content seconds per cohort second (1 honest;
    /// a speeder that declares rate 1 may still run 1.5).
    pub speed: f64,
    pub seek: Seek,
    pub popups: PopupStyle,
    pub captures: CaptureStyle,
    /// Answers a popup that was never issued once this many cohort seconds of study have passed.
    pub phantom_answer_at: Option<f64>,
    /// Go silent (no heartbeats, the player keeps running) for `.1` cohort seconds once `.0`
    /// cohort seconds of study have passed.
    pub silence: Option<(f64, f64)>,
    pub focused: bool,
    /// Relative jitter of heartbeat timing (0.4 human, 0 machine).
    pub jitter: f64,
    /// Stop after this many cohort seconds of study.
    pub budget_seconds: f64,
    /// Stop once the position reaches the end of the lesson and the platform credits it.
    pub until_complete: bool,
}

impl StudyPlan {
    /// An honest learner who plays the lesson through.
    pub fn honest(enrolment_id: &str, lesson_id: &str, budget_seconds: f64) -> Self {
        StudyPlan {
            enrolment_id: enrolment_id.to_owned(),
            lesson_id: lesson_id.to_owned(),
            rate: 1.0,
            speed: 1.0,
            seek: Seek::None,
            popups: PopupStyle::Human,
            captures: CaptureStyle::Genuine,
            phantom_answer_at: None,
            silence: None,
            focused: true,
            jitter: 0.4,
            budget_seconds,
            until_complete: true,
        }
    }
}

/// One popup or capture request as the learner saw it.
#[derive(Clone, Debug)]
pub struct EventSeen {
    pub event_id: String,
    pub kind: EventKind,
    /// Cohort seconds since the playback started, when the learner first saw it.
    pub seen_at: f64,
    /// The player position when it was seen.
    pub position: f64,
    pub answered: bool,
    /// What the platform said of the answer.
    pub passed: Option<bool>,
    /// SHA-256 of the image uploaded for a capture.
    pub image_sha256: Option<String>,
}

/// What a popup answer tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// The code asked for, in time.
    Right,
    /// Another code.
    Wrong,
    /// The code asked for, after the deadline.
    Late,
    /// An answer to a popup the platform never issued.
    Phantom,
    /// The code asked for, after the platform stopped the playback.
    AfterStop,
    /// A heartbeat after the platform stopped the playback.
    BeatAfterStop,
}

/// A popup answer (or a heartbeat) a cheat sent, and what the platform made of it.
#[derive(Clone, Debug)]
pub struct AnswerSent {
    pub kind: AnswerKind,
    /// Cohort seconds since the playback started.
    pub at: f64,
    /// `Ok(passed)` when accepted; the refusal code; `None` inside when the target erred.
    pub outcome: Result<bool, Option<ErrorCode>>,
}

impl AnswerSent {
    /// The platform refused it with an error code.
    pub fn refused(&self) -> bool {
        matches!(self.outcome, Err(Some(_)))
    }

    /// The platform took it as a good answer.
    pub fn accepted(&self) -> bool {
        self.outcome == Ok(true)
    }
}

/// What happened while a learner studied one lesson.
#[derive(Clone, Debug, Default)]
pub struct StudyLog {
    pub playback: Option<Playback>,
    /// The refusal of the playback start, if it was refused.
    pub start_refused: Option<ErrorCode>,
    /// The heartbeat interval the learner kept: the platform's, within the policy's bounds.
    pub beat_interval: f64,
    pub heartbeats_sent: u32,
    pub acks: u32,
    pub events: Vec<EventSeen>,
    /// Refusal codes with the cohort second they came at.
    pub refusals: Vec<(f64, ErrorCode)>,
    /// Popup answers and heartbeats a cheat sent, beyond the ordinary.
    pub answers: Vec<AnswerSent>,
    /// Credited seconds of the lesson in the last answer.
    pub credited: f64,
    /// The seconds of this lesson this learner could legitimately be credited, by its ledger,
    /// over every sitting so far (as `credited` is the platform's over every sitting).
    pub creditable: f64,
    /// Creditable seconds per class hour of the lesson.
    pub creditable_by_hour: std::collections::BTreeMap<u32, f64>,
    /// Cohort seconds from playback start to the last answer.
    pub elapsed: f64,
    /// The player position when the study ended.
    pub final_position: f64,
    /// The furthest position the platform accepted.
    pub furthest_accepted: f64,
    pub final_state: Option<PlaybackState>,
    /// Jumps and rewinds the plan made.
    pub seeks: u32,
    /// A popup went past its deadline without the answer it asked for.
    pub popup_missed: bool,
    /// Continuous playback between popups.
    pub popup_gaps: PopupGaps,
    /// Transport failures and malformed answers (the target erred).
    pub errors: Vec<String>,
    /// When the platform's answer accepting the playback start arrived.
    pub start_accepted_at: Option<tokio::time::Instant>,
    /// When the last heartbeat the platform acknowledged went out.
    pub last_acked_beat_sent_at: Option<tokio::time::Instant>,
    /// The longest a heartbeat waited for its answer, in cohort seconds: the platform read its
    /// clock somewhere within that round trip.
    pub slowest_beat_answer: f64,
}

impl StudyLog {
    pub fn popups(&self) -> impl Iterator<Item = &EventSeen> {
        self.events.iter().filter(|e| e.kind == EventKind::Popup)
    }

    pub fn captures(&self) -> impl Iterator<Item = &EventSeen> {
        self.events.iter().filter(|e| e.kind == EventKind::Capture)
    }

    pub fn refused_with(&self, code: &ErrorCode) -> bool {
        self.refusals.iter().any(|(_, c)| c == code)
    }

    /// The answers of one kind a cheat sent.
    pub fn answers_of(&self, kind: AnswerKind) -> impl Iterator<Item = &AnswerSent> {
        self.answers.iter().filter(move |a| a.kind == kind)
    }

    /// The slack a comparison of credit with the ledger allows: one heartbeat interval (the
    /// one the learner kept, which the policy bounds) plus 1% of the study (the harness's and
    /// the platform's clock estimates differ by that much).
    pub fn credit_slack(&self) -> f64 {
        self.beat_interval + 0.01 * self.elapsed
    }
}

/// The popups and captures of one playback as the learner is dealing with them.
#[derive(Default)]
struct Attention {
    seen: HashSet<String>,
    /// Events seen and not yet answered as asked, with their deadline (cohort seconds since the
    /// cohort began, by the harness's clock).
    outstanding: HashMap<String, (EventKind, f64)>,
    /// Captures whose outcome is in the ledger.
    booked: HashSet<String>,
    /// Late answers due: (when to answer, the popup's deadline — cohort seconds since the
    /// cohort began — event id, code).
    late: Vec<(f64, f64, String, String)>,
    /// The code each popup's prompt asked for.
    codes: HashMap<String, String>,
    popup_missed: bool,
}

impl Attention {
    /// Present as far as popups and captures go.
    fn present(&self) -> bool {
        self.outstanding.is_empty() && !self.popup_missed
    }

    /// Popups past their deadline without the answer they asked for are missed.
    fn lapse(&mut self, now: f64) {
        let before = self.outstanding.len();
        self.outstanding
            .retain(|_, (kind, deadline)| *kind != EventKind::Popup || *deadline >= now);
        self.popup_missed |= self.outstanding.len() < before;
    }
}

impl SimLearner {
    /// Plays one lesson according to `plan` and reports what happened.
    pub async fn study(&mut self, plan: &StudyPlan) -> Result<StudyLog, ProbeError> {
        let token = self.token()?.to_owned();
        let mut log = StudyLog::default();
        let started = self
            .client()
            .start_playback(
                &token,
                &PlaybackRequest {
                    enrolment_id: plan.enrolment_id.clone(),
                    lesson_id: plan.lesson_id.clone(),
                },
            )
            .await;
        let playback = match started {
            Ok(playback) => playback,
            Err(e) => match e.code() {
                Some(code) => {
                    log.start_refused = Some(code.clone());
                    return Ok(log);
                }
                None => return Err(e.into()),
            },
        };
        log.playback = Some(playback.clone());
        log.start_accepted_at = Some(tokio::time::Instant::now());
        let log = self.run_playback(&token, &playback, plan, log).await?;
        if let Some(book) = &self.playbacks {
            book.record(PlaybackEvidence::of(
                &self.made_by,
                &log,
                self.policy.class_hour_seconds(),
            ));
        }
        Ok(log)
    }

    async fn run_playback(
        &mut self,
        token: &str,
        playback: &Playback,
        plan: &StudyPlan,
        mut log: StudyLog,
    ) -> Result<StudyLog, ProbeError> {
        let interval = self
            .policy
            .heartbeat_interval(playback.heartbeat_interval_seconds);
        log.beat_interval = interval;
        let max_gap = f64::from(self.policy.rules.heartbeat_max_gap_seconds.value);
        let lesson_end = playback.lesson_seconds;
        let start = self.clock.elapsed();
        let mut position = playback.start_position;
        let mut accepted = playback.start_position;
        log.furthest_accepted = accepted;
        let mut last_beat = start;
        let mut attention = Attention::default();
        let mut seek_done = false;
        let mut silenced = false;
        let mut phantom_sent = false;
        let mut stopped = false;
        // Whoever plays is not the registered person: a spoofer let in, or a stand-in at the
        // camera. Nothing it plays is creditable.
        let stand_in = self.spoofed || plan.captures == CaptureStyle::OtherPerson;
        // After answering a popup or capture the learner beats at once with the paused
        // position, so that the pause and the study are in separate intervals.
        let mut beat_now = false;

        // A script beats on a fixed wall-clock timer (like setInterval); a person does not.
        let scripted = plan.jitter <= 0.0;
        // Beats are due on the player's schedule, not after the previous answer: when an
        // answer comes late, the next beat is already due and goes at once.
        let mut due = tokio::time::Instant::now();
        loop {
            due = if scripted {
                due + self.clock.wall(interval)
            } else if beat_now {
                tokio::time::Instant::now()
            } else {
                let jitter = 1.0 - self.rng.random_range(0.0..plan.jitter);
                due + self.clock.wall(interval * jitter)
            };
            // A late answer goes before any heartbeat after its popup's deadline (which would
            // let the platform act on the deadline first); the platform's clock may run a
            // quarter of a wall second ahead of the harness's estimate.
            let until_beat = due.saturating_duration_since(tokio::time::Instant::now());
            let beat_at =
                self.clock.elapsed() + (until_beat.as_secs_f64() + 0.25) * self.clock.scale;
            let late = attention.late.iter().filter(|l| l.1 <= beat_at);
            if let Some(at) = late.map(|l| l.0).reduce(f64::min) {
                self.clock.sleep(at - self.clock.elapsed()).await;
                self.send_late_answers(token, playback, &mut attention, start, &mut log)
                    .await;
            }
            tokio::time::sleep_until(due).await;
            let resumed_from_pause = std::mem::take(&mut beat_now);
            let mut now = self.clock.elapsed();
            if let Some((after, length)) = plan.silence
                && !silenced
                && now - start >= after
            {
                silenced = true;
                self.clock.sleep(length).await;
                due = tokio::time::Instant::now();
                now = self.clock.elapsed();
            }
            let (then, dt) = (last_beat, now - last_beat);
            last_beat = now;
            let played_from = position;
            if !resumed_from_pause {
                position = (position + dt * plan.speed).min(lesson_end);
            }
            attention.lapse(now);
            let present = plan.focused && !stand_in && attention.present();
            self.ledger().play(
                &plan.lesson_id,
                (then, now),
                (played_from, position),
                present,
            );
            position = self.move_position(plan, position, lesson_end, &mut seek_done, &mut log);

            self.send_late_answers(token, playback, &mut attention, start, &mut log)
                .await;
            if let Some(at) = plan.phantom_answer_at
                && !phantom_sent
                && now - start >= at
            {
                phantom_sent = true;
                let made_up = format!("pop-{:016x}", self.rng.random::<u64>());
                let outcome = self
                    .client()
                    .answer_popup(token, &playback.playback_id, &made_up, "0000")
                    .await;
                let outcome = outcome.as_ref().map(|o| o.passed);
                record_answer(&mut log, AnswerKind::Phantom, now - start, outcome);
            }

            let beat = HeartbeatRequest {
                position_seconds: position,
                rate: plan.rate,
                focused: plan.focused,
                client_time: Some(chrono::Utc::now()),
            };
            log.heartbeats_sent += 1;
            if let Some(pacer) = &self.pacer {
                pacer.intend(due);
            }
            let beat_sent_at = tokio::time::Instant::now();
            let answer = self
                .client()
                .heartbeat(token, &playback.playback_id, &beat)
                .await;
            let at = self.clock.elapsed() - start;
            log.elapsed = at;
            log.slowest_beat_answer = log
                .slowest_beat_answer
                .max(beat_sent_at.elapsed().as_secs_f64() * self.clock.scale);
            match answer {
                Ok(ack) => {
                    log.acks += 1;
                    log.last_acked_beat_sent_at = Some(beat_sent_at);
                    log.credited = ack.credited_seconds;
                    log.final_state = Some(ack.state);
                    // The interval in which the player stood paused for a popup or capture
                    // answer is not playback (its position did not move), however long the
                    // answer took.
                    if dt <= max_gap && plan.focused && !resumed_from_pause {
                        log.popup_gaps.played(dt);
                    }
                    accepted = ack.accepted_position.clamp(0.0, lesson_end);
                    log.furthest_accepted = log.furthest_accepted.max(accepted);
                    // The player goes back where the platform holds it (a pause, a refused lead,
                    // a withheld class hour); a rewind of its own it keeps.
                    position = position.min(accepted);
                    resolved_without_answer(&ack, &mut attention, &mut log);
                    let answered = self
                        .handle_events(
                            token,
                            playback,
                            plan,
                            &ack,
                            (at, beat.position_seconds),
                            &mut log,
                            &mut attention,
                        )
                        .await;
                    beat_now = answered > 0 && !scripted;
                    let capture_failed = self.book_captures(plan, &mut attention, &mut log);
                    if capture_failed && plan.captures != CaptureStyle::Genuine {
                        // The cheat was tried; what the platform credits now is what is judged.
                        break;
                    }
                    if plan.captures == CaptureStyle::StopWhenAsked
                        && attention
                            .outstanding
                            .values()
                            .any(|(kind, _)| *kind == EventKind::Capture)
                    {
                        break;
                    }
                    if ack.state == PlaybackState::Stopped {
                        stopped = true;
                        break;
                    }
                }
                Err(e) => match e.code() {
                    Some(code) => {
                        log.refusals.push((at, code.clone()));
                        match code {
                            ErrorCode::SeekForbidden | ErrorCode::RateForbidden => {
                                position = position.min(accepted);
                            }
                            _ => {
                                log.final_state = Some(PlaybackState::Stopped);
                                stopped = true;
                                break;
                            }
                        }
                    }
                    None => {
                        log.errors.push(e.to_string());
                        if log.errors.len() > 3 {
                            break;
                        }
                    }
                },
            }
            let done = plan.until_complete
                && position >= lesson_end
                && log.credited >= lesson_end - interval * 2.0
                && attention.outstanding.is_empty();
            if done || at >= plan.budget_seconds {
                break;
            }
        }
        if stopped && plan.popups == PopupStyle::AfterStop {
            let at = self.clock.elapsed() - start;
            self.answer_after_stop(token, playback, plan, (at, position), &attention, &mut log)
                .await;
        }
        log.final_position = position;
        log.popup_missed = attention.popup_missed;
        let _ = self
            .client()
            .stop_playback(token, &playback.playback_id)
            .await;
        // What is still pending ends with the playback: a capture never answered is missed
        // and its class hour withheld, however the playback ended (profile/README.md).
        for e in log.events.iter_mut() {
            if e.kind == EventKind::Capture && !e.answered && e.passed.is_none() {
                e.passed = Some(false);
            }
        }
        self.book_captures(plan, &mut attention, &mut log);
        // The platform's own account after the study ends (withholding may follow the last beat).
        if let Some(credited) = self
            .lesson_credit(&plan.enrolment_id, &plan.lesson_id)
            .await
        {
            log.credited = credited;
        }
        let ledger = self.ledger();
        log.creditable = ledger.creditable(&plan.lesson_id);
        log.creditable_by_hour = ledger.creditable_by_hour(&plan.lesson_id);
        Ok(log)
    }

    /// Where the plan's seek puts the position after it played on to `position`.
    fn move_position(
        &mut self,
        plan: &StudyPlan,
        position: f64,
        lesson_end: f64,
        done: &mut bool,
        log: &mut StudyLog,
    ) -> f64 {
        let moved = match plan.seek {
            Seek::Jump { at, by } if !*done && position >= at => {
                *done = true;
                position + by
            }
            Seek::Rewind { at, by } if !*done && position >= at => {
                *done = true;
                position - by
            }
            Seek::Creep { from, min, max } if position >= from && position < lesson_end => {
                position + self.rng.random_range(min..=max.max(min))
            }
            _ => return position,
        };
        log.seeks += 1;
        moved.clamp(0.0, lesson_end)
    }

    /// Puts the outcome of every capture answered or missed since the last heartbeat in the
    /// ledger; true when one failed.
    fn book_captures(
        &mut self,
        plan: &StudyPlan,
        attention: &mut Attention,
        log: &mut StudyLog,
    ) -> bool {
        let hour = self.policy.class_hour_seconds();
        let genuine = plan.captures == CaptureStyle::Genuine && !self.spoofed;
        let mut failed = false;
        for e in log.captures() {
            let Some(passed) = e.passed else { continue };
            if !attention.booked.insert(e.event_id.clone()) {
                continue;
            }
            let class_hour = (e.position / hour).floor() as u32;
            self.ledger()
                .capture(&plan.lesson_id, class_hour, passed && genuine);
            failed |= !passed;
        }
        failed
    }

    #[allow(clippy::too_many_arguments)]
    async fn handle_events(
        &mut self,
        token: &str,
        playback: &Playback,
        plan: &StudyPlan,
        ack: &HeartbeatAck,
        (at, position): (f64, f64),
        log: &mut StudyLog,
        attention: &mut Attention,
    ) -> usize {
        let mut answered = 0;
        for event in &ack.events {
            if attention.seen.insert(event.event_id.clone()) {
                log.events.push(EventSeen {
                    event_id: event.event_id.clone(),
                    kind: event.kind,
                    seen_at: at,
                    position,
                    answered: false,
                    passed: None,
                    image_sha256: None,
                });
                if event.kind == EventKind::Popup {
                    log.popup_gaps.popup();
                }
                let deadline = self.clock.elapsed_at(event.deadline);
                attention
                    .outstanding
                    .insert(event.event_id.clone(), (event.kind, deadline));
                if event.kind == EventKind::Popup {
                    let code = popup_code(event.prompt.as_deref().unwrap_or(""));
                    if let PopupStyle::Late { by } = plan.popups {
                        let due = (
                            deadline + by,
                            deadline,
                            event.event_id.clone(),
                            code.clone(),
                        );
                        attention.late.push(due);
                    }
                    attention.codes.insert(event.event_id.clone(), code);
                }
            }
            let Some(index) = log.events.iter().position(|e| e.event_id == event.event_id) else {
                continue;
            };
            if log.events[index].answered {
                continue;
            }
            let (answer_after, kind) = match event.kind {
                EventKind::Popup => match plan.popups {
                    PopupStyle::Human => (self.rng.random_range(2.0..8.0), AnswerKind::Right),
                    PopupStyle::Bot { latency } => (latency, AnswerKind::Right),
                    PopupStyle::WrongCode => (self.rng.random_range(2.0..8.0), AnswerKind::Wrong),
                    PopupStyle::Ignore | PopupStyle::Late { .. } | PopupStyle::AfterStop => {
                        continue;
                    }
                },
                EventKind::Capture => match plan.captures {
                    CaptureStyle::Ignore | CaptureStyle::StopWhenAsked => continue,
                    _ => (self.rng.random_range(2.0..6.0), AnswerKind::Right),
                },
            };
            self.clock.sleep(answer_after).await;
            answered += 1;
            let outcome = match event.kind {
                EventKind::Popup => {
                    let asked = popup_code(event.prompt.as_deref().unwrap_or(""));
                    let code = if kind == AnswerKind::Wrong {
                        wrong_code(&asked)
                    } else {
                        asked
                    };
                    self.client()
                        .answer_popup(token, &playback.playback_id, &event.event_id, &code)
                        .await
                }
                EventKind::Capture => {
                    let image = self
                        .capture_image(plan.captures == CaptureStyle::OtherPerson)
                        .await;
                    log.events[index].image_sha256 = Some(sha256(&image));
                    self.client()
                        .upload_capture(
                            token,
                            &playback.playback_id,
                            &event.event_id,
                            B64.encode(image),
                        )
                        .await
                }
            };
            if event.kind == EventKind::Popup && kind != AnswerKind::Right {
                record_answer(log, kind, at, outcome.as_ref().map(|o| o.passed));
            }
            let seen_event = &mut log.events[index];
            seen_event.answered = true;
            match outcome {
                Ok(result) => {
                    seen_event.passed = Some(result.passed);
                    // A wrong code stays unanswered, whatever the platform made of it.
                    if kind == AnswerKind::Right && result.passed {
                        attention.outstanding.remove(&event.event_id);
                    }
                    if event.kind == EventKind::Capture {
                        attention.outstanding.remove(&event.event_id);
                    }
                }
                Err(e) => {
                    // Refused (the playback stopped first, by a newer window or otherwise):
                    // what was pending ended with the playback, a capture as missed.
                    seen_event.passed = e.is_refusal().then_some(false);
                    if event.kind == EventKind::Capture {
                        attention.outstanding.remove(&event.event_id);
                    }
                    if let Some(code) = e.code() {
                        log.refusals.push((at, code.clone()));
                    } else {
                        log.errors.push(e.to_string());
                    }
                }
            }
        }
        answered
    }

    /// Sends the late answers that are due, before the next heartbeat.
    async fn send_late_answers(
        &mut self,
        token: &str,
        playback: &Playback,
        attention: &mut Attention,
        start: f64,
        log: &mut StudyLog,
    ) {
        let now = self.clock.elapsed();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut attention.late)
            .into_iter()
            .partition(|(at, ..)| *at <= now);
        attention.late = later;
        for (_, _, event_id, code) in due {
            let outcome = self
                .client()
                .answer_popup(token, &playback.playback_id, &event_id, &code)
                .await;
            let outcome = outcome.as_ref().map(|o| o.passed);
            record_answer(log, AnswerKind::Late, now - start, outcome);
        }
    }

    /// After the platform stopped the playback: the last popup answered as asked, and one
    /// more heartbeat, as a script that missed the stop would.
    async fn answer_after_stop(
        &mut self,
        token: &str,
        playback: &Playback,
        plan: &StudyPlan,
        (at, position): (f64, f64),
        attention: &Attention,
        log: &mut StudyLog,
    ) {
        let Some(popup) = log.popups().last().map(|p| p.event_id.clone()) else {
            return;
        };
        let code = attention.codes.get(&popup).cloned().unwrap_or_default();
        let outcome = self
            .client()
            .answer_popup(token, &playback.playback_id, &popup, &code)
            .await;
        let outcome = outcome.as_ref().map(|o| o.passed);
        record_answer(log, AnswerKind::AfterStop, at, outcome);
        let beat = HeartbeatRequest {
            position_seconds: position,
            rate: plan.rate,
            focused: plan.focused,
            client_time: Some(chrono::Utc::now()),
        };
        let outcome = self
            .client()
            .heartbeat(token, &playback.playback_id, &beat)
            .await;
        let outcome = outcome
            .as_ref()
            .map(|ack| ack.state != PlaybackState::Stopped);
        record_answer(log, AnswerKind::BeatAfterStop, at, outcome);
    }
}

/// Events the platform no longer shows though the learner did not answer them as asked: a
/// capture so is missed (its class hour withheld), a popup so is missed.
fn resolved_without_answer(ack: &HeartbeatAck, attention: &mut Attention, log: &mut StudyLog) {
    let open: HashSet<&str> = ack.events.iter().map(|e| e.event_id.as_str()).collect();
    let gone: Vec<(String, EventKind)> = attention
        .outstanding
        .iter()
        .filter(|(id, _)| !open.contains(id.as_str()))
        .map(|(id, (kind, _))| (id.clone(), *kind))
        .collect();
    for (id, kind) in gone {
        attention.outstanding.remove(&id);
        match kind {
            EventKind::Popup => attention.popup_missed = true,
            EventKind::Capture => {
                if let Some(e) = log.events.iter_mut().find(|e| e.event_id == id)
                    && !e.answered
                {
                    e.answered = true;
                    e.passed = Some(false);
                }
            }
        }
    }
}

fn record_answer(
    log: &mut StudyLog,
    kind: AnswerKind,
    at: f64,
    outcome: Result<bool, &ClientError>,
) {
    let outcome = outcome.map_err(|e| {
        if e.code().is_none() {
            log.errors.push(e.to_string());
        }
        e.code().cloned()
    });
    log.answers.push(AnswerSent { kind, at, outcome });
}

/// A code of the same length as `asked` that is not it.
fn wrong_code(asked: &str) -> String {
    let digits: String = asked
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap_or('0'),
            None => c,
        })
        .collect();
    if digits.is_empty() {
        "0".to_owned()
    } else {
        digits
    }
}

/// What a platform did when one learner played in two windows at once.
#[derive(Clone, Debug, PartialEq)]
pub enum TwoWindows {
    /// One window was refused for playing alongside the other.
    Refused(ErrorCode),
    /// Both played: the platform acknowledged a heartbeat of the first window sent after it had
    /// accepted the second's start, and refused neither.
    BothPlayed,
    /// They never overlapped, so there was nothing to refuse: the second did not start, or the
    /// first sent no acknowledged heartbeat after the second had started (its study ended just
    /// then, say).
    NotOverlapped,
}

/// How two windows of one learner ended, `first` opened before `second`.
pub fn two_windows(first: &StudyLog, second: &StudyLog) -> TwoWindows {
    let refusal = [ErrorCode::ConcurrentPlayback, ErrorCode::PlaybackSuperseded]
        .into_iter()
        .find(|code| {
            second.start_refused.as_ref() == Some(code)
                || first.refused_with(code)
                || second.refused_with(code)
        });
    match (
        refusal,
        second.start_accepted_at,
        first.last_acked_beat_sent_at,
    ) {
        (Some(code), _, _) => TwoWindows::Refused(code),
        (None, Some(second_started), Some(first_beat)) if first_beat > second_started => {
            TwoWindows::BothPlayed
        }
        _ => TwoWindows::NotOverlapped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_code_is_never_the_right_one() {
        assert_eq!(wrong_code("4821"), "5932");
        assert_eq!(wrong_code("9999"), "0000");
        assert_ne!(wrong_code(""), "");
    }
}
