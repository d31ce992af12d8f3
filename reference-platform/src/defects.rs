//! Defect switches: at least one named defect per requirement of the catalog (SC-1 excepted:
//! HTTPS is a property of the target URL, not of the platform), plus the load defects. The
//! first of a requirement breaks its control crudely; the others are a vendor's near-misses
//! (partial, subtle or intermittent), so that the harness proves every check can fail, and
//! fail for the cheat in each of its real forms (`duxue calibrate`).

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
    RewatchCredited => "rewatch-credited", ["PB-1"],
        "content played again after rewinding earns credit again (credit counts the position's advance since the last heartbeat, not new content)";
    PositionLeadCredited => "position-lead-credited", ["PB-1", "PB-2"],
        "a heartbeat's position is credited as watched when it leads the elapsed time by at most 60 s; only larger jumps are refused, and only the rate field is checked for speed-up";
    LongHeartbeatInterval => "long-heartbeat-interval", ["PB-1", "PB-2", "PB-3", "PB-4", "PB-5", "BC-2", "BC-3"],
        "the platform asks for a heartbeat every 45 s, beyond the policy's bound, and so resolves seeks, speed, presence and capture times that coarsely";
    SpeedUpAllowed => "speed-up-allowed", ["PB-2"],
        "playback rates above 1 are accepted and credited at that rate";
    MildSpeedUpAllowed => "mild-speed-up-allowed", ["PB-2"],
        "playback rates up to 1.25 are accepted and credited at that rate (only faster ones are refused)";
    MultiWindow => "multi-window", ["PB-3"],
        "a learner may run several playbacks at once, each earning credit";
    MultiWindowAcrossCourses => "multi-window-across-courses", ["PB-3"],
        "a new playback stops the learner's other playbacks of the same course only; one in another course plays on";
    SparsePopups => "sparse-popups", ["PB-4"],
        "popup gaps are drawn between the policy gap and twice it (up to 600 s)";
    PopupGapStretchedNowAndThen => "popup-gap-stretched-now-and-then", ["PB-4"],
        "every fifth popup gap of a playback is drawn between the policy gap + 30 s and 1.5 times it";
    IdleCredit => "idle-credit", ["PB-5"],
        "unanswered popups and silent heartbeats neither pause nor stop credit";
    FocusIgnored => "focus-ignored", ["PB-5"],
        "a player without focus earns credit as if it had focus";
    PopupCodeNotCompared => "popup-code-not-compared", ["PB-5"],
        "any answer to a popup passes it, whatever code it carries";
    LatePopupAnswersAccepted => "late-popup-answers-accepted", ["PB-5"],
        "a popup answered up to two minutes after its deadline is accepted and the playback goes on";
    LessonsUnlocked => "lessons-unlocked", ["PB-6"],
        "professional lessons can be played in any order";
    StartedLessonUnlocksNext => "started-lesson-unlocks-next", ["PB-6"],
        "a professional lesson unlocks once every earlier one has been started, completed or not";
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
    LoginCapBelowPeak => "login-cap-below-peak", ["LD-1"],
        "a cohort with 150 live sessions refuses further logins with 403 liveness_failed (a cap below the declared peak, shed as refusals)";
    FailOpenUnderLoad => "fail-open-under-load", ["LD-2"],
        "when busy, heartbeats issue no popups or captures and refuse no seek or speed-up";
    LogoutKeepsToken => "logout-keeps-token", ["SC-2"],
        "logout answers 204 but the token keeps working";
    CrossLearnerAccess => "cross-learner-access", ["SC-3"],
        "a learner token may read other learners' progress and use their playbacks";
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
        assert!(Defect::ALL.len() < 128, "DefectSet holds 128 defects");
        for req in &catalog.requirements {
            let count = Defect::ALL
                .iter()
                .filter(|d| d.breaks().contains(&req.id.as_str()))
                .count();
            if req.id == "SC-1" {
                assert_eq!(count, 0, "SC-1");
            } else {
                assert!(count >= 1, "{} has no defect", req.id);
            }
        }
    }
}
