//! A playback kept live by hand, one honest heartbeat at a time, so that a probe can act on it
//! with another credential between beats (a supervisor's, another learner's) and read the
//! learner's state back after each act (SV-4, SC-3).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use duxue_profile::{
    Auth, ClientError, EventKind, EventOutcome, HeartbeatAck, HeartbeatRequest, PendingEvent,
    Playback, PlaybackRequest, PlaybackState, operation,
};

use crate::learner::{SimLearner, popup_code};
use crate::outcome::{Judge, ProbeError};

/// A live playback of one learner, beaten by hand at the honest pace.
pub struct Sitting {
    pub playback: Playback,
    token: String,
    position: f64,
    last_beat: f64,
    /// The platform's last answer to a heartbeat of this playback.
    pub last: Option<HeartbeatAck>,
}

impl Sitting {
    /// Starts a playback of `lesson_id` for the learner (logged in and enrolled).
    pub async fn start(
        learner: &SimLearner,
        enrolment_id: &str,
        lesson_id: &str,
    ) -> Result<Sitting, ProbeError> {
        let token = learner.token()?.to_owned();
        let playback = learner
            .client()
            .start_playback(
                &token,
                &PlaybackRequest {
                    enrolment_id: enrolment_id.to_owned(),
                    lesson_id: lesson_id.to_owned(),
                },
            )
            .await?;
        Ok(Sitting {
            position: playback.start_position,
            last_beat: learner.clock().elapsed(),
            playback,
            token,
            last: None,
        })
    }

    /// One heartbeat now, the position moved on by the cohort time since the last one.
    pub async fn beat(&mut self, learner: &SimLearner) -> Result<HeartbeatAck, ClientError> {
        let now = learner.clock().elapsed();
        self.position = (self.position + (now - self.last_beat)).min(self.playback.lesson_seconds);
        self.last_beat = now;
        let ack = learner
            .client()
            .heartbeat(
                &self.token,
                &self.playback.playback_id,
                &HeartbeatRequest {
                    position_seconds: self.position,
                    rate: 1.0,
                    focused: true,
                    client_time: Some(chrono::Utc::now()),
                },
            )
            .await?;
        self.position = ack
            .accepted_position
            .clamp(0.0, self.playback.lesson_seconds);
        self.last = Some(ack.clone());
        Ok(ack)
    }

    /// The position the platform last accepted.
    pub fn position(&self) -> f64 {
        self.position
    }

    /// Whether the last answer still shows this event pending.
    pub fn pending(&self, event_id: &str) -> bool {
        self.last
            .as_ref()
            .is_some_and(|a| a.events.iter().any(|e| e.event_id == event_id))
    }

    /// Beats at the playback's interval (at most `max_interval`) until an event of one of
    /// `kinds` is pending, answering every other event as an honest learner would; `None` when
    /// none came within `budget` cohort seconds or the playback stopped.
    pub async fn wait_for(
        &mut self,
        learner: &mut SimLearner,
        kinds: &[EventKind],
        budget: f64,
        max_interval: f64,
    ) -> Result<Option<PendingEvent>, ProbeError> {
        let interval = self
            .playback
            .heartbeat_interval_seconds
            .clamp(1.0, max_interval);
        let until = learner.clock().elapsed() + budget;
        while learner.clock().elapsed() < until {
            let ack = self.beat(learner).await?;
            if ack.state == PlaybackState::Stopped {
                return Ok(None);
            }
            if let Some(event) = ack.events.iter().find(|e| kinds.contains(&e.kind)) {
                return Ok(Some(event.clone()));
            }
            for event in &ack.events {
                self.answer(learner, event).await?;
            }
            learner.clock().sleep(interval).await;
        }
        Ok(None)
    }

    /// Answers an event as the learner: a popup with its code, a capture with the learner's face.
    pub async fn answer(
        &self,
        learner: &mut SimLearner,
        event: &PendingEvent,
    ) -> Result<EventOutcome, ClientError> {
        let client = learner.client().clone();
        match event.kind {
            EventKind::Popup => {
                let code = popup_code(event.prompt.as_deref().unwrap_or(""));
                client
                    .answer_popup(
                        &self.token,
                        &self.playback.playback_id,
                        &event.event_id,
                        &code,
                    )
                    .await
            }
            EventKind::Capture => {
                let image = B64.encode(learner.capture_image(false).await);
                client
                    .upload_capture(
                        &self.token,
                        &self.playback.playback_id,
                        &event.event_id,
                        image,
                    )
                    .await
            }
        }
    }

    /// Beats once more as the learner and checks that the playback still plays.
    pub async fn plays_on(&mut self, j: &mut Judge, learner: &SimLearner) {
        let name = "after it, the learner's playback plays on";
        match self.beat(learner).await {
            Ok(ack) => {
                j.check(
                    name,
                    ack.state != PlaybackState::Stopped,
                    format!("state {:?} at {:.0} s", ack.state, ack.accepted_position),
                );
            }
            Err(e) if e.is_refusal() => {
                j.check(name, false, e.to_string());
            }
            Err(e) => j.undecided(name, e.to_string()),
        }
    }

    /// `who`, holding `token`, answers the learner's next popup and capture request (whichever
    /// comes first, then the other) with what the learner would send. Each answer must be
    /// refused with one of `statuses`; after each the playback must play on and the event stay
    /// the learner's to answer; then the learner answers it. An event that does not come within
    /// `budget` cohort seconds leaves its check undecided. Returns (answers tried, refused).
    #[allow(clippy::too_many_arguments)]
    pub async fn events_answered_by(
        &mut self,
        j: &mut Judge,
        learner: &mut SimLearner,
        who: &str,
        token: &str,
        statuses: &[u16],
        budget: f64,
        max_interval: f64,
    ) -> Result<(usize, usize), ProbeError> {
        let mut wanted = vec![EventKind::Popup, EventKind::Capture];
        let (mut tried, mut refused) = (0, 0);
        while !wanted.is_empty() {
            let Some(event) = self
                .wait_for(learner, &wanted, budget, max_interval)
                .await?
            else {
                for kind in &wanted {
                    j.undecided(
                        format!("{who} answering the learner's {}", event_name(*kind)),
                        "none came during the lesson",
                    );
                }
                break;
            };
            wanted.retain(|k| *k != event.kind);
            let (op, body) = match event.kind {
                EventKind::Popup => (
                    "answerPopup",
                    serde_json::json!({"answer": popup_code(event.prompt.as_deref().unwrap_or(""))}),
                ),
                EventKind::Capture => (
                    "uploadCapture",
                    serde_json::json!({"image": B64.encode(learner.capture_image(false).await)}),
                ),
            };
            let Some(op) = operation(op) else { continue };
            let answer = learner
                .client()
                .send_raw(
                    op,
                    &[&self.playback.playback_id, &event.event_id],
                    Auth::Bearer(token),
                    Some(body.to_string().into_bytes()),
                )
                .await;
            tried += 1;
            refused += usize::from(j.expect_denied_raw(
                &format!(
                    "{who} answering the learner's {} is refused for authority",
                    event_name(event.kind)
                ),
                &answer,
                statuses,
            ));
            self.plays_on(j, learner).await;
            let pending = self.pending(&event.event_id);
            j.check(
                format!(
                    "after it, the {} is still the learner's to answer",
                    event_name(event.kind)
                ),
                pending,
                if pending {
                    "still pending"
                } else {
                    "no longer pending"
                },
            );
            let _ = self.answer(learner, &event).await;
        }
        Ok((tried, refused))
    }

    /// Stops the playback (a courtesy at the end of a probe; its answer is not judged).
    pub async fn stop(&self, learner: &SimLearner) {
        let _ = learner
            .client()
            .stop_playback(&self.token, &self.playback.playback_id)
            .await;
    }
}

fn event_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Popup => "popup",
        EventKind::Capture => "capture request",
    }
}
