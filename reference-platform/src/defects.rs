//! Defect switches: at least one named defect per requirement of the catalog (SC-1 excepted:
//! HTTPS is a property of the target URL, not of the platform), plus the load defects. The
//! first of a requirement breaks its control crudely; the others are a vendor's near-misses
//! (partial, subtle or intermittent), so that the harness proves every check can fail, and
//! fail for the cheat in each of its real forms (`duxue calibrate`).
//! What each defect does and which requirement(s) it must fail is data, in the calibration
//! manifest ([`crate::manifest`]); this list only names the switches the code knows. One more,
//! `lax-outside-conformance`, breaks nothing a certification sees: it is the defeat device a
//! spot check on production exists to catch.

use crate::manifest::{DefectCase, manifest};
use crate::switch::{UnknownSwitch, switches};

/// An unknown defect name.
pub type UnknownDefect = UnknownSwitch;

switches! {
    /// A known defect the reference platform can be started with.
    Defect, "defect" {
        AcceptInvalidId => "accept-invalid-id";
        DuplicateIdOtherOrganisation => "duplicate-id-other-organisation";
        SkipRegistrationFaceMatch => "skip-registration-face-match";
        LenientFaceMatch => "lenient-face-match";
        ReusableChallenge => "reusable-challenge";
        LogoutReopensChallenge => "logout-reopens-challenge";
        WeakLiveness => "weak-liveness";
        LenientLiveness => "lenient-liveness";
        MultiLogin => "multi-login";
        SameDeviceMultiLogin => "same-device-multi-login";
        SeekAllowed => "seek-allowed";
        RewatchCredited => "rewatch-credited";
        PositionLeadCredited => "position-lead-credited";
        LongHeartbeatInterval => "long-heartbeat-interval";
        SpeedUpAllowed => "speed-up-allowed";
        MildSpeedUpAllowed => "mild-speed-up-allowed";
        MultiWindow => "multi-window";
        MultiWindowAcrossCourses => "multi-window-across-courses";
        SparsePopups => "sparse-popups";
        PopupGapStretchedNowAndThen => "popup-gap-stretched-now-and-then";
        IdleCredit => "idle-credit";
        FocusIgnored => "focus-ignored";
        PopupCodeNotCompared => "popup-code-not-compared";
        LatePopupAnswersAccepted => "late-popup-answers-accepted";
        LessonsUnlocked => "lessons-unlocked";
        StartedLessonUnlocksNext => "started-lesson-unlocks-next";
        NoCaptures => "no-captures";
        CapturesSometimesSkipped => "captures-sometimes-skipped";
        FixedCaptureOffset => "fixed-capture-offset";
        EarlyCaptures => "early-captures";
        FewCaptureOffsets => "few-capture-offsets";
        CaptureFailureIgnored => "capture-failure-ignored";
        StopDodgesCapture => "stop-dodges-capture";
        NoCooldown => "no-cooldown";
        CooldownPerCourse => "cooldown-per-course";
        AnyOccupationOnline => "any-occupation-online";
        LabourDispatchAllowed => "labour-dispatch-allowed";
        UnapprovedOccupation => "unapproved-occupation";
        OnlineShareUnchecked => "online-share-unchecked";
        LooseOnlineShare => "loose-online-share";
        GeneralShareUnchecked => "general-share-unchecked";
        LooseGeneralShare => "loose-general-share";
        NoAuditAccounts => "no-audit-accounts";
        StaleMonitoring => "stale-monitoring";
        ScopeLeak => "scope-leak";
        ImagesAndExportsUnscoped => "images-and-exports-unscoped";
        SupervisorCanWrite => "supervisor-can-write";
        SupervisorUploadsCaptures => "supervisor-uploads-captures";
        ImagesNotKept => "images-not-kept";
        BlindSelfCheck => "blind-self-check";
        SelfCheckOnePerSignal => "self-check-one-per-signal";
        RoundTheClockPerPlayback => "round-the-clock-per-playback";
        RoundTheClockAtFourHours => "round-the-clock-at-four-hours";
        ExportMiscounts => "export-miscounts";
        WrongPayee => "wrong-payee";
        ShortRetention => "short-retention";
        ClockAdvanceCapped => "clock-advance-capped";
        SlowUnderLoad => "slow-under-load";
        LoginCapBelowPeak => "login-cap-below-peak";
        FailOpenUnderLoad => "fail-open-under-load";
        LogoutKeepsToken => "logout-keeps-token";
        CrossLearnerAccess => "cross-learner-access";
        StopBeforeOwnerCheck => "stop-before-owner-check";
        LearnerReadsSupervision => "learner-reads-supervision";
        ConformanceOpen => "conformance-open";
        LaxOutsideConformance => "lax-outside-conformance";
    }
}

/// The controls `lax-outside-conformance` switches off for production learners: every control
/// a learner meets while logging in and studying.
pub const LAX_OUTSIDE_CONFORMANCE: &[Defect] = &[
    Defect::ReusableChallenge,
    Defect::WeakLiveness,
    Defect::MultiLogin,
    Defect::SeekAllowed,
    Defect::SpeedUpAllowed,
    Defect::MultiWindow,
    Defect::SparsePopups,
    Defect::IdleCredit,
    Defect::LessonsUnlocked,
    Defect::CaptureFailureIgnored,
    Defect::LogoutKeepsToken,
    Defect::CrossLearnerAccess,
];

impl Defect {
    /// Its entry in the calibration manifest. The platform does not start with a manifest that
    /// misses a defect ([`crate::start`] checks it), and the crate's tests check the built-in
    /// one, so the entry is there.
    fn case(self) -> &'static DefectCase {
        manifest()
            .ok()
            .and_then(|m| m.case(self))
            .expect("the built-in calibration manifest lists every defect (checked by its tests)")
    }

    /// The requirement ids this defect makes fail (the manifest's `fails`).
    pub fn breaks(self) -> &'static [String] {
        &self.case().fails
    }

    /// Requirement ids the defect may also fail by chance (the manifest's `may_also_fail`).
    pub fn may_also_break(self) -> &'static [String] {
        &self.case().may_also_fail
    }

    /// What a spot check on production must fail instead (the manifest's `spot_check_fails`;
    /// empty but for a defeat device, which certify cannot see).
    pub fn spot_check_fails(self) -> &'static [String] {
        &self.case().spot_check_fails
    }

    /// What the defect does, in one sentence.
    pub fn description(self) -> &'static str {
        &self.case().description
    }
}

// A defect set is one bit per defect (64 are in use: the next one would not fit a u64).
const _: () = assert!(
    Defect::ALL.len() <= 128,
    "DefectSet holds at most 128 defects"
);

/// The set of defects a platform runs with; cheap to query on every request.
#[derive(Clone, Debug, Default)]
pub struct DefectSet {
    bits: u128,
}

impl DefectSet {
    pub fn new(defects: &[Defect]) -> Self {
        let mut bits = 0u128;
        for d in defects {
            bits |= 1 << (*d as u32);
        }
        DefectSet { bits }
    }

    /// Whether the defect is switched on.
    pub fn has(&self, defect: Defect) -> bool {
        self.bits & (1 << (defect as u32)) != 0
    }

    /// The defects switched on, in catalog order.
    pub fn list(&self) -> Vec<Defect> {
        Defect::ALL
            .iter()
            .copied()
            .filter(|d| self.has(*d))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each defect has a bit of its own, the last one included.
    #[test]
    fn a_defect_set_holds_each_defect_alone() {
        for d in Defect::ALL {
            assert_eq!(DefectSet::new(&[*d]).list(), vec![*d], "{d}");
        }
        assert_eq!(DefectSet::new(Defect::ALL).list(), Defect::ALL.to_vec());
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<_> = Defect::ALL.iter().map(|d| d.name()).collect();
        for d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>(), Ok(*d));
            // The defeat device fails nothing under certify, by design: a spot check sees it.
            assert_ne!(
                d.breaks().is_empty(),
                d.spot_check_fails().is_empty(),
                "{d}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Defect::ALL.len());
        let err = "no-such".parse::<Defect>().unwrap_err().to_string();
        assert!(err.contains("seek-allowed"), "{err}");
    }

    /// At least one defect per requirement (several may break one control in different
    /// forms); SC-1 has none, HTTPS being the target URL's property. Every requirement a
    /// defect names is in the catalog.
    #[test]
    fn every_requirement_but_sc1_has_a_defect() {
        let catalog = duxue_profile::Catalog::builtin().expect("catalog");
        for req in &catalog.requirements {
            let count = Defect::ALL
                .iter()
                .filter(|d| d.breaks().contains(&req.id))
                .count();
            if req.id == "SC-1" {
                assert_eq!(count, 0, "SC-1");
            } else {
                assert!(count >= 1, "no defect breaks {}", req.id);
            }
        }
        for d in Defect::ALL {
            for id in d.breaks() {
                assert!(
                    catalog.requirements.iter().any(|r| &r.id == id),
                    "{d} breaks {id}, which is not in the catalog"
                );
            }
        }
    }
}
