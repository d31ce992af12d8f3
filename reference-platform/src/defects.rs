//! Defect switches: named defects for every requirement of the catalog (SC-1 excepted: HTTPS is a
//! property of the target URL, not of the platform) — the crude form of each broken control and,
//! for many, a subtle one (a vendor's near-miss, a partial or intermittent control) — plus two
//! load defects. Each one breaks exactly its control so that the harness can prove every check
//! can fail (`duxue calibrate`).

use std::fmt;
use std::str::FromStr;

macro_rules! defects {
    ($($variant:ident => $name:literal, [$($req:literal),*], $desc:literal;)*) => {
        /// A known defect the reference platform can be started with.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Defect {
            $(#[doc = $desc] $variant,)*
        }

        impl Defect {
            /// Every defect, in catalog order.
            pub const ALL: &'static [Defect] = &[$(Defect::$variant,)*];

            /// The kebab-case name used on the command line (`--defect NAME`).
            pub fn name(self) -> &'static str {
                match self { $(Defect::$variant => $name,)* }
            }

            /// The requirement ids this defect makes fail.
            pub fn breaks(self) -> &'static [&'static str] {
                match self { $(Defect::$variant => &[$($req),*],)* }
            }

            /// What the defect does, in one sentence.
            pub fn description(self) -> &'static str {
                match self { $(Defect::$variant => $desc,)* }
            }
        }
    };
}

defects! {
    AcceptInvalidId => "accept-invalid-id", ["ID-1"],
        "registration accepts ID numbers that fail GB 11643 (length, date or check digit)";
    DuplicateIdOtherOrganisation => "duplicate-id-other-organisation", ["ID-1"],
        "an ID number already registered is refused again only within the same organisation; another organisation may register it";
    SkipRegistrationFaceMatch => "skip-registration-face-match", ["ID-2"],
        "registration does not compare the face photo with the ID-card portrait";
    LenientFaceMatch => "lenient-face-match", ["ID-2"],
        "registration lets about one face in eight through that does not match the ID-card portrait (a threshold set too loose)";
    ReusableChallenge => "reusable-challenge", ["ID-3"],
        "liveness challenges are neither single-use nor expiring";
    LogoutReopensChallenge => "logout-reopens-challenge", ["ID-3"],
        "after a logout, the challenge the ended session logged in with may be answered again, so logging back in needs no fresh liveness check";
    WeakLiveness => "weak-liveness", ["ID-4"],
        "liveness only matches the face: actions, nonce flashes and print/screen texture are not checked";
    LenientLiveness => "lenient-liveness", ["ID-4"],
        "about one presentation attack in ten passes the liveness check (a threshold set too loose)";
    MultiLogin => "multi-login", ["ID-5"],
        "a second login leaves the first session live (two live sessions per account)";
    SameDeviceMultiLogin => "same-device-multi-login", ["ID-5"],
        "a second login naming the same device leaves the first session live (the vendor counts it as the same place)";
    SeekAllowed => "seek-allowed", ["PB-1"],
        "forward seeks are accepted and the skipped content is credited";
    SpeedUpAllowed => "speed-up-allowed", ["PB-2"],
        "playback rates above 1 are accepted and credited at that rate";
    MultiWindow => "multi-window", ["PB-3"],
        "a learner may run several playbacks at once, each earning credit";
    SparsePopups => "sparse-popups", ["PB-4"],
        "popup gaps are drawn between the policy gap and twice it (up to 600 s)";
    IdleCredit => "idle-credit", ["PB-5"],
        "unanswered popups and silent heartbeats neither pause nor stop credit";
    LessonsUnlocked => "lessons-unlocked", ["PB-6"],
        "professional lessons can be played in any order";
    NoCaptures => "no-captures", ["BC-1"],
        "no random capture is ever requested";
    CapturesSometimesSkipped => "captures-sometimes-skipped", ["BC-1"],
        "about one class hour in five gets no capture request";
    FixedCaptureOffset => "fixed-capture-offset", ["BC-2"],
        "every class hour's capture is requested at the same offset (10 minutes in)";
    EarlyCaptures => "early-captures", ["BC-2"],
        "every capture is requested at a random time within the first 10 minutes of its class hour";
    FewCaptureOffsets => "few-capture-offsets", ["BC-2"],
        "each capture is requested at one of three fixed offsets of its class hour (8, 21 or 34 minutes in), picked at random";
    CaptureFailureIgnored => "capture-failure-ignored", ["BC-3"],
        "a failed or missed capture neither withholds the class hour's credit nor stops the playback (it is still recorded)";
    NoCooldown => "no-cooldown", ["EN-1"],
        "subsidised enrolment ignores the assessment cooldown";
    CooldownPerCourse => "cooldown-per-course", ["EN-1"],
        "the assessment cooldown counts only earlier enrolments in the same course";
    AnyOccupationOnline => "any-occupation-online", ["EN-2"],
        "pure-online courses are accepted for any occupation";
    LabourDispatchAllowed => "labour-dispatch-allowed", ["EN-3"],
        "labour-dispatch firms may organise pure-online classes";
    UnapprovedOccupation => "unapproved-occupation", ["EN-4"],
        "subsidised courses are accepted for occupations Annex 1 does not approve for the platform";
    OnlineShareUnchecked => "online-share-unchecked", ["CD-1"],
        "blended courses may put any share of their class hours online";
    LooseOnlineShare => "loose-online-share", ["CD-1"],
        "blended courses may put up to 45% of their class hours online";
    GeneralShareUnchecked => "general-share-unchecked", ["CD-2"],
        "the general-training share of class hours is not checked";
    LooseGeneralShare => "loose-general-share", ["CD-2"],
        "the general-training share of class hours is accepted between 15% and 45%";
    NoAuditAccounts => "no-audit-accounts", ["SV-1"],
        "audit (审计部门) supervisor accounts cannot be created";
    StaleMonitoring => "stale-monitoring", ["SV-2"],
        "the live learner view is cached for about 60 wall seconds";
    ScopeLeak => "scope-leak", ["SV-3"],
        "enterprise and institution supervisors see every learner of the cohort";
    ImagesAndExportsUnscoped => "images-and-exports-unscoped", ["SV-3"],
        "enterprise and institution supervisors are scoped on learners, but may fetch any image and export any class of the cohort";
    SupervisorCanWrite => "supervisor-can-write", ["SV-4"],
        "supervisor tokens are accepted on study writes (heartbeat, popup, capture, stop) for learners in scope";
    SupervisorUploadsCaptures => "supervisor-uploads-captures", ["SV-4"],
        "a supervisor token may upload a capture for a learner in scope (every other write is refused)";
    ImagesNotKept => "images-not-kept", ["SV-5"],
        "capture images and liveness frames are not stored";
    BlindSelfCheck => "blind-self-check", ["SV-6"],
        "the self-check never flags anyone";
    SelfCheckOnePerSignal => "self-check-one-per-signal", ["SV-6"],
        "the self-check reports only the first learner each signal fires for";
    RoundTheClockPerPlayback => "round-the-clock-per-playback", ["SV-6"],
        "the self-check counts hours of study per playback, so study spread round the clock in short sittings is never flagged";
    ExportMiscounts => "export-miscounts", ["SV-7"],
        "the completion export counts watched time, including withheld class hours, instead of credited time";
    WrongPayee => "wrong-payee", ["SV-8"],
        "the completion export names the platform operator as subsidy payee";
    ShortRetention => "short-retention", ["RT-1"],
        "records and images older than one year (cohort clock) are purged";
    ClockAdvanceCapped => "clock-advance-capped", ["RT-1"],
        "a cohort clock advance moves at most 365 days, while its answer shows the whole jump";
    SlowUnderLoad => "slow-under-load", ["LD-1"],
        "when busy, every request is delayed (300 ms and more with the requests in flight)";
    FailOpenUnderLoad => "fail-open-under-load", ["LD-2"],
        "when busy, heartbeats issue no popups or captures and refuse no seek or speed-up";
    LogoutKeepsToken => "logout-keeps-token", ["SC-2"],
        "logout answers 204 but the token keeps working";
    CrossLearnerAccess => "cross-learner-access", ["SC-3"],
        "a learner token may read other learners' progress and use their playbacks";
    StopBeforeOwnerCheck => "stop-before-owner-check", ["SC-3"],
        "stopping another learner's playback is refused with 403, but only after the playback was stopped";
    LearnerReadsSupervision => "learner-reads-supervision", ["SC-3"],
        "supervision reads accept a learner's token as if it were the training authority's of its cohort";
    ConformanceOpen => "conformance-open", ["SC-4"],
        "conformance endpoints accept requests without (or with a wrong) conformance token";
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown defect name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown defect `{given}`; valid defects: {}", valid_names())]
pub struct UnknownDefect {
    pub given: String,
}

fn valid_names() -> String {
    Defect::ALL
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Defect::ALL
            .iter()
            .copied()
            .find(|d| d.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownDefect {
                given: s.to_owned(),
            })
    }
}

/// The set of defects a platform runs with; cheap to query on every request.
#[derive(Clone, Debug, Default)]
pub struct DefectSet {
    /// One bit per defect (room for 128; a test keeps `Defect::ALL` within it).
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

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<_> = Defect::ALL.iter().map(|d| d.name()).collect();
        for d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>(), Ok(*d));
            assert!(!d.breaks().is_empty());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Defect::ALL.len());
        let err = "no-such".parse::<Defect>().unwrap_err().to_string();
        assert!(err.contains("seek-allowed"), "{err}");
    }

    #[test]
    fn every_requirement_but_sc1_has_a_defect() {
        let catalog = duxue_profile::Catalog::builtin().expect("catalog");
        for req in &catalog.requirements {
            let count = Defect::ALL
                .iter()
                .filter(|d| d.breaks().contains(&req.id.as_str()))
                .count();
            assert_eq!(count == 0, req.id == "SC-1", "{}: {count} defects", req.id);
        }
    }

    #[test]
    fn every_defect_has_a_bit() {
        assert!(Defect::ALL.len() <= u128::BITS as usize);
        let all = DefectSet::new(Defect::ALL);
        assert_eq!(all.list(), Defect::ALL);
    }
}
