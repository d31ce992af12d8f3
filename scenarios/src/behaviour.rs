//! The named learner behaviours of PRODUCT.md §2, one unit per cheat: its name, the requirement
//! whose control it attacks, how it presents itself at login, how an attempt is counted, and
//! its forms — the real ways the cheat is done, each a way of playing a lesson — with their
//! parameters from `scenarios/behaviours.toml`. Probes play every form of the behaviours that
//! attack their requirement; the population plays them in turn.

use std::sync::OnceLock;

use duxue_media::Species;
use serde::{Deserialize, Serialize};

use crate::learner::Presentation;
use crate::study::{CaptureStyle, PopupStyle, Seek, StudyPlan};

/// The behaviours and their forms, as data.
pub const BEHAVIOURS: &str = include_str!("../behaviours.toml");

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

/// How one attempt of a behaviour is counted (see `behaviours.toml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Counting {
    None,
    Ledger,
    Refusal,
    Login,
    SelfCheck,
}

/// One behaviour as a unit.
#[derive(Clone, Debug)]
pub struct Unit {
    pub behaviour: Behaviour,
    /// The requirement whose control it attacks.
    pub attacks: Option<String>,
    pub presentation: Presentation,
    pub counts: Counting,
    pub forms: Vec<Form>,
}

/// Where the second window of a multi-window form plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecondWindow {
    SameLesson,
    OtherLesson,
    OtherCourse,
}

/// Which lesson an out-of-order form tries before its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LessonOrder {
    /// The last lesson, the earlier ones not done.
    SkipAhead,
    /// The current lesson started but not completed, then the next one.
    NextBeforeDone,
}

/// What a form's sitting does besides playing the lesson.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sitting {
    Study,
    TwoWindows(SecondWindow),
    SecondDevice,
    LessonOrder(LessonOrder),
    SecondEnrolment,
    /// A short sitting in each of `hours` hours of the cohort's day.
    RoundTheClock {
        hours: u32,
        study: f64,
    },
}

/// One form of a behaviour.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    pub name: String,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    jump: Option<AtBy>,
    #[serde(default)]
    creep: Option<Creep>,
    #[serde(default)]
    rewind: Option<AtBy>,
    #[serde(default)]
    popups: Option<Popups>,
    #[serde(default)]
    popup_latency: Option<f64>,
    #[serde(default)]
    late_by: Option<f64>,
    #[serde(default)]
    phantom_answer_at: Option<f64>,
    #[serde(default)]
    captures: Option<Captures>,
    #[serde(default)]
    silence: Option<Silence>,
    #[serde(default)]
    focused: Option<bool>,
    #[serde(default)]
    jitter: Option<f64>,
    #[serde(default)]
    until_complete: Option<bool>,
    #[serde(default)]
    second_window: Option<SecondWindow>,
    #[serde(default)]
    second_device: bool,
    #[serde(default)]
    lesson_order: Option<LessonOrder>,
    #[serde(default)]
    second_enrolment: bool,
    #[serde(default)]
    round_the_clock: Option<RoundTheClock>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AtBy {
    at: f64,
    by: f64,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Creep {
    from: f64,
    min: f64,
    max: f64,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Silence {
    after: f64,
    length: f64,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoundTheClock {
    hours: u32,
    study: f64,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Popups {
    Human,
    Bot,
    Ignore,
    WrongCode,
    Late,
    AfterStop,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Captures {
    Genuine,
    OtherPerson,
    Ignore,
}

impl Form {
    /// The study plan of this form for one lesson.
    pub fn plan(&self, enrolment_id: &str, lesson_id: &str, budget_seconds: f64) -> StudyPlan {
        let mut plan = StudyPlan::honest(enrolment_id, lesson_id, budget_seconds);
        plan.rate = self.rate.unwrap_or(plan.rate);
        plan.speed = self.speed.unwrap_or(plan.speed);
        plan.seek = match (self.jump, self.creep, self.rewind) {
            (Some(j), _, _) => Seek::Jump { at: j.at, by: j.by },
            (_, Some(c), _) => Seek::Creep {
                from: c.from,
                min: c.min,
                max: c.max,
            },
            (_, _, Some(r)) => Seek::Rewind { at: r.at, by: r.by },
            _ => Seek::None,
        };
        plan.popups = match self.popups {
            None | Some(Popups::Human) => PopupStyle::Human,
            Some(Popups::Bot) => PopupStyle::Bot {
                latency: self.popup_latency.unwrap_or(0.3),
            },
            Some(Popups::Ignore) => PopupStyle::Ignore,
            Some(Popups::WrongCode) => PopupStyle::WrongCode,
            Some(Popups::Late) => PopupStyle::Late {
                by: self.late_by.unwrap_or(10.0),
            },
            Some(Popups::AfterStop) => PopupStyle::AfterStop,
        };
        plan.captures = match self.captures {
            None | Some(Captures::Genuine) => CaptureStyle::Genuine,
            Some(Captures::OtherPerson) => CaptureStyle::OtherPerson,
            Some(Captures::Ignore) => CaptureStyle::Ignore,
        };
        plan.phantom_answer_at = self.phantom_answer_at;
        plan.silence = self.silence.map(|s| (s.after, s.length));
        plan.focused = self.focused.unwrap_or(true);
        plan.jitter = self.jitter.unwrap_or(plan.jitter);
        plan.until_complete = self.until_complete.unwrap_or(plan.until_complete);
        plan
    }

    /// What a sitting of this form does besides playing.
    pub fn sitting(&self) -> Sitting {
        if let Some(second) = self.second_window {
            Sitting::TwoWindows(second)
        } else if self.second_device {
            Sitting::SecondDevice
        } else if let Some(order) = self.lesson_order {
            Sitting::LessonOrder(order)
        } else if self.second_enrolment {
            Sitting::SecondEnrolment
        } else if let Some(r) = self.round_the_clock {
            Sitting::RoundTheClock {
                hours: r.hours,
                study: r.study,
            }
        } else {
            Sitting::Study
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    behaviour: Vec<UnitData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitData {
    name: Behaviour,
    #[serde(default)]
    attacks: Option<String>,
    #[serde(default)]
    presentation: Option<String>,
    counts: Counting,
    form: Vec<Form>,
}

/// The behaviours of `behaviours.toml`, checked: every behaviour once, with a form.
pub fn parse_units(text: &str) -> Result<Vec<Unit>, String> {
    let catalogue: Catalogue = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut units = Vec::new();
    for data in catalogue.behaviour {
        let presentation = match data.presentation.as_deref() {
            None | Some("genuine") => Presentation::Genuine,
            Some("print") => Presentation::Attack(Species::Print),
            Some("screen") => Presentation::Attack(Species::Screen),
            Some("replay") => Presentation::Attack(Species::Replay),
            Some("other-person") => Presentation::Attack(Species::OtherPerson),
            Some(other) => return Err(format!("unknown presentation `{other}`")),
        };
        if data.form.is_empty() {
            return Err(format!("{:?} has no form", data.name));
        }
        units.push(Unit {
            behaviour: data.name,
            attacks: data.attacks.filter(|a| !a.is_empty()),
            presentation,
            counts: data.counts,
            forms: data.form,
        });
    }
    for behaviour in Behaviour::ALL {
        let count = units.iter().filter(|u| u.behaviour == behaviour).count();
        if count != 1 {
            return Err(format!("{behaviour:?} is listed {count} times"));
        }
    }
    Ok(units)
}

fn units() -> &'static [Unit] {
    static UNITS: OnceLock<Vec<Unit>> = OnceLock::new();
    UNITS.get_or_init(|| {
        // Embedded data, checked by a unit test: it cannot fail in a build that passed it.
        parse_units(BEHAVIOURS).unwrap_or_else(|e| panic!("scenarios/behaviours.toml: {e}"))
    })
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

    /// This behaviour's unit.
    pub fn unit(self) -> &'static Unit {
        // `parse_units` checked that every behaviour is listed once.
        units()
            .iter()
            .find(|u| u.behaviour == self)
            .unwrap_or_else(|| unreachable!("every behaviour has a unit"))
    }

    /// The behaviours that attack requirement `id`.
    pub fn attacking(id: &str) -> Vec<Behaviour> {
        Behaviour::ALL
            .into_iter()
            .filter(|b| b.unit().attacks.as_deref() == Some(id))
            .collect()
    }

    pub fn is_cheat(self) -> bool {
        self.unit().counts != Counting::None
    }

    /// How this learner presents itself at login.
    pub fn presentation(self) -> Presentation {
        self.unit().presentation
    }

    pub fn forms(self) -> &'static [Form] {
        &self.unit().forms
    }

    /// The study plan of this behaviour's first form for one lesson.
    pub fn plan(self, enrolment_id: &str, lesson_id: &str, budget_seconds: f64) -> StudyPlan {
        self.forms()[0].plan(enrolment_id, lesson_id, budget_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_behaviour_is_one_unit_with_forms_from_data() {
        let units = parse_units(BEHAVIOURS).expect("behaviours.toml");
        assert_eq!(units.len(), Behaviour::ALL.len());
        for b in Behaviour::ALL {
            let unit = b.unit();
            assert!(!unit.forms.is_empty());
            assert_eq!(unit.counts == Counting::None, b == Behaviour::Honest);
            assert_eq!(b.is_cheat(), unit.attacks.is_some(), "{b:?}");
        }
    }

    #[test]
    fn the_cheats_have_their_real_forms() {
        let seeks: Vec<Seek> = Behaviour::Seeker
            .forms()
            .iter()
            .map(|f| f.plan("e", "l", 1.0).seek)
            .collect();
        assert!(seeks.iter().any(|s| matches!(s, Seek::Jump { .. })));
        assert!(seeks.iter().any(|s| matches!(s, Seek::Creep { .. })));
        assert!(seeks.iter().any(|s| matches!(s, Seek::Rewind { .. })));
        let speeds: Vec<(f64, f64)> = Behaviour::attacking("PB-2")
            .into_iter()
            .flat_map(|b| b.forms())
            .map(|f| {
                let p = f.plan("e", "l", 1.0);
                (p.rate, p.speed)
            })
            .collect();
        for wanted in [
            (2.0, 2.0),
            (4.0, 4.0),
            (1.25, 1.25),
            (1.0, 1.25),
            (1.0, 1.5),
            (1.0, 2.0),
        ] {
            assert!(speeds.contains(&wanted), "{wanted:?} in {speeds:?}");
        }
        let windows: Vec<Sitting> = Behaviour::MultiWindow
            .forms()
            .iter()
            .map(Form::sitting)
            .collect();
        assert_eq!(windows.len(), 3);
        assert_eq!(
            Behaviour::RoundTheClock.forms()[0]
                .plan("e", "l", 1.0)
                .popups,
            PopupStyle::Human,
            "a round-the-clock learner is caught by its hours, not as an auto-clicker"
        );
    }

    #[test]
    fn bad_data_says_what_is_wrong() {
        let err = parse_units("[[behaviour]]\nname = \"honest\"\ncounts = \"none\"\nform = []\n")
            .unwrap_err();
        assert!(err.contains("no form"), "{err}");
        let err = parse_units(&BEHAVIOURS.replace("late_by", "lately")).unwrap_err();
        assert!(err.contains("lately"), "{err}");
    }
}
