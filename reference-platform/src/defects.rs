//! Defect switches: one named defect per requirement of the catalog (SC-1 excepted: HTTPS is a
//! property of the target URL, not of the platform), plus two load defects. Each one breaks
//! exactly its control so that the harness can prove every check can fail (`duxue calibrate`).
//! One more, `lax-outside-conformance`, breaks nothing a certification sees: it is the defeat
//! device a spot check on production exists to catch.

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
    SkipRegistrationFaceMatch => "skip-registration-face-match", ["ID-2"],
        "registration does not compare the face photo with the ID-card portrait";
    ReusableChallenge => "reusable-challenge", ["ID-3"],
        "liveness challenges are neither single-use nor expiring";
    WeakLiveness => "weak-liveness", ["ID-4"],
        "liveness only matches the face: actions, nonce flashes and print/screen texture are not checked";
    MultiLogin => "multi-login", ["ID-5"],
        "a second login leaves the first session live (two live sessions per account)";
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
    FixedCaptureOffset => "fixed-capture-offset", ["BC-2"],
        "every class hour's capture is requested at the same offset (10 minutes in)";
    CaptureFailureIgnored => "capture-failure-ignored", ["BC-3"],
        "a failed or missed capture neither withholds the class hour's credit nor stops the playback (it is still recorded)";
    NoCooldown => "no-cooldown", ["EN-1"],
        "subsidised enrolment ignores the assessment cooldown";
    AnyOccupationOnline => "any-occupation-online", ["EN-2"],
        "pure-online courses are accepted for any occupation";
    LabourDispatchAllowed => "labour-dispatch-allowed", ["EN-3"],
        "labour-dispatch firms may organise pure-online classes";
    UnapprovedOccupation => "unapproved-occupation", ["EN-4"],
        "subsidised courses are accepted for occupations Annex 1 does not approve for the platform";
    OnlineShareUnchecked => "online-share-unchecked", ["CD-1"],
        "blended courses may put any share of their class hours online";
    GeneralShareUnchecked => "general-share-unchecked", ["CD-2"],
        "the general-training share of class hours is not checked";
    NoAuditAccounts => "no-audit-accounts", ["SV-1"],
        "audit (审计部门) supervisor accounts cannot be created";
    StaleMonitoring => "stale-monitoring", ["SV-2"],
        "the live learner view is cached for about 60 wall seconds";
    ScopeLeak => "scope-leak", ["SV-3"],
        "enterprise and institution supervisors see every learner of the cohort";
    SupervisorCanWrite => "supervisor-can-write", ["SV-4"],
        "supervisor tokens are accepted on study writes (heartbeat, popup, capture, stop) for learners in scope";
    ImagesNotKept => "images-not-kept", ["SV-5"],
        "capture images and liveness frames are not stored";
    BlindSelfCheck => "blind-self-check", ["SV-6"],
        "the self-check never flags anyone";
    ExportMiscounts => "export-miscounts", ["SV-7"],
        "the completion export counts watched time, including withheld class hours, instead of credited time";
    WrongPayee => "wrong-payee", ["SV-8"],
        "the completion export names the platform operator as subsidy payee";
    ShortRetention => "short-retention", ["RT-1"],
        "records and images older than one year (cohort clock) are purged";
    SlowUnderLoad => "slow-under-load", ["LD-1"],
        "when busy, every request is delayed (300 ms and more with the requests in flight)";
    FailOpenUnderLoad => "fail-open-under-load", ["LD-2"],
        "when busy, heartbeats issue no popups or captures and refuse no seek or speed-up";
    LogoutKeepsToken => "logout-keeps-token", ["SC-2"],
        "logout answers 204 but the token keeps working";
    CrossLearnerAccess => "cross-learner-access", ["SC-3"],
        "a learner token may read other learners' progress and use their playbacks";
    ConformanceOpen => "conformance-open", ["SC-4"],
        "conformance endpoints accept requests without (or with a wrong) conformance token";
    LaxOutsideConformance => "lax-outside-conformance", [],
        "a defeat device: every learner control holds in conformance cohorts and none in the production cohort (certify passes it; a spot check on production fails it)";
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
    bits: u64,
}

impl DefectSet {
    pub fn new(defects: &[Defect]) -> Self {
        let mut bits = 0u64;
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
            // The defeat device fails nothing under certify, by design.
            assert_eq!(
                d.breaks().is_empty(),
                *d == Defect::LaxOutsideConformance,
                "{d}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Defect::ALL.len());
        let err = "no-such".parse::<Defect>().unwrap_err().to_string();
        assert!(err.contains("seek-allowed"), "{err}");
    }

    #[test]
    fn every_requirement_but_sc1_has_exactly_one_defect() {
        let catalog = duxue_profile::Catalog::builtin().expect("catalog");
        for req in &catalog.requirements {
            let count = Defect::ALL
                .iter()
                .filter(|d| d.breaks().contains(&req.id.as_str()))
                .count();
            let expected = usize::from(req.id != "SC-1");
            assert_eq!(count, expected, "{}", req.id);
        }
    }
}
