//! Controls as strategies: where profile v1 allows more than one conforming behaviour, the
//! domain asks the control's value here instead of testing a switch. The reference platform's
//! choice is the default; a conforming variant ([`Variant`]) picks another conforming value and
//! a defect ([`Defect`]) a non-conforming one, so both are data over the same code.

use crate::defects::{Defect, DefectSet};
use crate::variants::Variant;

/// A login while the account already has a live session (ID-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondLogin {
    /// The reference: the new login succeeds and the older sessions are revoked.
    RevokeFirst,
    /// Variant `refuse-second-login`: refused with `session_conflict`, the first stays live.
    RefuseNew,
    /// Defect `multi-login`: both stay live.
    KeepBoth,
}

/// A playback started while another of the learner's playbacks is live (PB-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondWindow {
    /// The reference: the older playback stops (`playback_superseded`).
    SupersedeOld,
    /// Variant `refuse-second-window`: refused with `concurrent_playback`.
    RefuseNew,
    /// Defect `multi-window`: both play and earn.
    Allow,
}

/// A heartbeat gap over `heartbeat_max_gap_seconds` (PB-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Silence {
    /// The reference: the playback stops.
    Stop,
    /// Variant `silence-earns-nothing`: the interval earns nothing, the playback goes on.
    EarnNothing,
}

/// A failed or missed capture (BC-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedCapture {
    /// The reference: the class hour is withheld and the playback stops.
    WithholdAndStop,
    /// Variant `capture-miss-continues`: the class hour is withheld and the playback goes on
    /// from the class hour's start.
    WithholdAndContinue,
    /// Defect `capture-failure-ignored`: recorded, nothing withheld, nothing stopped.
    Ignore,
}

/// A supervisor's read of something that exists outside its scope (SV-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutOfScope {
    /// The reference: 404 `not_found`, as if it did not exist.
    NotFound,
    /// Variant `scope-forbidden`: 403 `forbidden`.
    Forbidden,
}

/// The strategy of every control with more than one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Controls {
    pub second_login: SecondLogin,
    pub second_window: SecondWindow,
    pub silence: Silence,
    pub failed_capture: FailedCapture,
    pub out_of_scope: OutOfScope,
}

impl Controls {
    /// The controls of a platform started with these defects and variants; a defect that breaks
    /// a control wins over a variant of it.
    pub fn new(defects: &DefectSet, variants: &[Variant]) -> Controls {
        let on = |v: Variant| variants.contains(&v);
        Controls {
            second_login: if defects.has(Defect::MultiLogin) {
                SecondLogin::KeepBoth
            } else if on(Variant::RefuseSecondLogin) {
                SecondLogin::RefuseNew
            } else {
                SecondLogin::RevokeFirst
            },
            second_window: if defects.has(Defect::MultiWindow) {
                SecondWindow::Allow
            } else if on(Variant::RefuseSecondWindow) {
                SecondWindow::RefuseNew
            } else {
                SecondWindow::SupersedeOld
            },
            silence: if on(Variant::SilenceEarnsNothing) {
                Silence::EarnNothing
            } else {
                Silence::Stop
            },
            failed_capture: if defects.has(Defect::CaptureFailureIgnored) {
                FailedCapture::Ignore
            } else if on(Variant::CaptureMissContinues) {
                FailedCapture::WithholdAndContinue
            } else {
                FailedCapture::WithholdAndStop
            },
            out_of_scope: if on(Variant::ScopeForbidden) {
                OutOfScope::Forbidden
            } else {
                OutOfScope::NotFound
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_takes_the_first_value_of_each_control() {
        let reference = Controls::new(&DefectSet::default(), &[]);
        assert_eq!(
            reference,
            Controls {
                second_login: SecondLogin::RevokeFirst,
                second_window: SecondWindow::SupersedeOld,
                silence: Silence::Stop,
                failed_capture: FailedCapture::WithholdAndStop,
                out_of_scope: OutOfScope::NotFound,
            }
        );
    }

    #[test]
    fn each_variant_changes_one_control_and_a_defect_wins() {
        let reference = Controls::new(&DefectSet::default(), &[]);
        for v in Variant::ALL {
            let c = Controls::new(&DefectSet::default(), &[*v]);
            let changed = [
                c.second_login != reference.second_login,
                c.second_window != reference.second_window,
                c.silence != reference.silence,
                c.failed_capture != reference.failed_capture,
                c.out_of_scope != reference.out_of_scope,
            ];
            assert_eq!(changed.iter().filter(|x| **x).count(), 1, "{v}");
        }
        let both = Controls::new(
            &DefectSet::new(&[Defect::MultiLogin]),
            &[Variant::RefuseSecondLogin],
        );
        assert_eq!(both.second_login, SecondLogin::KeepBoth);
    }
}
