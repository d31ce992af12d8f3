//! The named learner behaviours of PRODUCT.md §2: what each does to a playback. Probes and the
//! population both build study plans from these.

use duxue_media::Species;
use serde::{Deserialize, Serialize};

use crate::learner::{CaptureStyle, PopupStyle, Presentation, StudyPlan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    Honest,
    Seeker,
    Speeder2,
    Speeder4,
    MultiWindow,
    MultiLogin,
    Idler,
    PopupAutoClicker,
    PrintSpoofer,
    ScreenSpoofer,
    ReplaySpoofer,
    OtherPersonSpoofer,
    OutOfOrder,
    CooldownViolator,
    RoundTheClock,
}

impl Behaviour {
    pub const ALL: [Behaviour; 15] = [
        Behaviour::Honest,
        Behaviour::Seeker,
        Behaviour::Speeder2,
        Behaviour::Speeder4,
        Behaviour::MultiWindow,
        Behaviour::MultiLogin,
        Behaviour::Idler,
        Behaviour::PopupAutoClicker,
        Behaviour::PrintSpoofer,
        Behaviour::ScreenSpoofer,
        Behaviour::ReplaySpoofer,
        Behaviour::OtherPersonSpoofer,
        Behaviour::OutOfOrder,
        Behaviour::CooldownViolator,
        Behaviour::RoundTheClock,
    ];

    pub fn is_cheat(self) -> bool {
        self != Behaviour::Honest
    }

    /// How this learner presents itself at login.
    pub fn presentation(self) -> Presentation {
        match self {
            Behaviour::PrintSpoofer => Presentation::Attack(Species::Print),
            Behaviour::ScreenSpoofer => Presentation::Attack(Species::Screen),
            Behaviour::ReplaySpoofer => Presentation::Attack(Species::Replay),
            Behaviour::OtherPersonSpoofer => Presentation::Attack(Species::OtherPerson),
            _ => Presentation::Genuine,
        }
    }

    /// The study plan of this behaviour for one lesson.
    pub fn plan(self, enrolment_id: &str, lesson_id: &str, budget_seconds: f64) -> StudyPlan {
        let mut plan = StudyPlan::honest(enrolment_id, lesson_id, budget_seconds);
        match self {
            Behaviour::Seeker => plan.seek = Some((60.0, 300.0)),
            Behaviour::Speeder2 => plan.rate = 2.0,
            Behaviour::Speeder4 => plan.rate = 4.0,
            Behaviour::Idler => {
                plan.popups = PopupStyle::Ignore;
                plan.captures = CaptureStyle::Ignore;
                plan.until_complete = false;
            }
            Behaviour::PopupAutoClicker | Behaviour::RoundTheClock => {
                plan.popups = PopupStyle::Bot { latency: 0.3 };
                plan.jitter = 0.0;
            }
            Behaviour::OtherPersonSpoofer => plan.captures = CaptureStyle::OtherPerson,
            _ => {}
        }
        plan
    }
}
