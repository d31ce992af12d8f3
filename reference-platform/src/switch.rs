//! Named switches the platform is started with — defects ([`crate::Defect`]) and conforming
//! variants ([`crate::Variant`]): an enum whose values have a kebab-case name for the command
//! line, in one fixed order. What each one does is data in the calibration manifest.

/// A name that names no switch of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{given}`; valid {kind}s: {valid}")]
pub struct UnknownSwitch {
    /// `defect` or `variant`.
    pub kind: &'static str,
    pub given: String,
    /// Every valid name, comma-separated.
    pub valid: String,
}

/// Defines a switch enum: `ALL`, `name()`, `Display` and `FromStr` (case-insensitive).
macro_rules! switches {
    ($(#[$meta:meta])* $ty:ident, $kind:literal { $($variant:ident => $name:literal;)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $ty {
            $(#[doc = $name] $variant,)*
        }

        impl $ty {
            /// Every value, in the order listed.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)*];

            /// The kebab-case name used on the command line.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::switch::UnknownSwitch;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim();
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name().eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| $crate::switch::UnknownSwitch {
                        kind: $kind,
                        given: s.to_owned(),
                        valid: $ty::ALL
                            .iter()
                            .map(|v| v.name())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }
    };
}

pub(crate) use switches;
