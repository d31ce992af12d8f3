//! Conforming variants: where profile v1 lets a platform choose ("either is conforming"), the
//! reference platform takes one path by default and each other path is a variant it can be
//! started with. A variant is a conforming platform, not a defect: calibration certifies the
//! platform once per variant and each must be CERTIFIED, which proves that no check false-FAILs
//! a platform that took the other path. What each variant does is data in the calibration
//! manifest ([`crate::manifest`]); how it acts is a value of [`crate::controls::Controls`].

use crate::manifest::{VariantCase, manifest};
use crate::switch::switches;

switches! {
    /// A conforming alternative the reference platform can be started with.
    Variant, "variant" {
        RefuseSecondLogin => "refuse-second-login";
        RefuseSecondWindow => "refuse-second-window";
        SilenceEarnsNothing => "silence-earns-nothing";
        CaptureMissContinues => "capture-miss-continues";
        ScopeForbidden => "scope-forbidden";
    }
}

impl Variant {
    /// Its entry in the calibration manifest (present: see [`crate::Defect::breaks`]).
    fn case(self) -> &'static VariantCase {
        manifest()
            .ok()
            .and_then(|m| m.variant(self))
            .expect("the built-in calibration manifest lists every variant (checked by its tests)")
    }

    /// What the variant does differently from the reference, in one sentence.
    pub fn description(self) -> &'static str {
        &self.case().description
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(*v));
            assert!(!v.description().is_empty());
        }
        let err = "no-such".parse::<Variant>().unwrap_err().to_string();
        assert!(err.starts_with("unknown variant `no-such`"), "{err}");
        assert!(err.contains("scope-forbidden"), "{err}");
    }
}
