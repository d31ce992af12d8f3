//! The calibration manifest (`expected-failures.toml`): the one list of what each defect switch
//! does and which requirement(s) it must FAIL, and of what each conforming variant does.
//! [`crate::Defect::breaks`], `duxue platform defects|variants` and `duxue calibrate` all read
//! it; nothing else says what a defect breaks.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::defects::Defect;
use crate::variants::Variant;

/// The manifest's text, compiled in.
pub const MANIFEST_TOML: &str = include_str!("../expected-failures.toml");

/// The parsed manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// One entry per defect switch, in the file's order.
    #[serde(rename = "case")]
    pub cases: Vec<DefectCase>,
    /// One entry per conforming variant.
    #[serde(rename = "variant", default)]
    pub variants: Vec<VariantCase>,
}

/// What one defect does and what it must fail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefectCase {
    pub defect: String,
    /// The requirement ids a calibration must see FAIL, and nothing else; empty for a defeat
    /// device, which certify must not see.
    pub fails: Vec<String>,
    /// Requirement ids the defect's effect may also reach, by chance, through another check
    /// (each with its reason in a comment beside it): their FAIL is not a surprise, their PASS
    /// is not a miss.
    #[serde(default)]
    pub may_also_fail: Vec<String>,
    /// What a spot check on production must FAIL (a defeat device's; proven by
    /// tests/spot_check.rs, not by calibrate, which runs certify only).
    #[serde(default)]
    pub spot_check_fails: Vec<String>,
    /// What the defect does wrong, in one sentence.
    pub description: String,
}

/// What one conforming variant does (it must certify: nothing fails).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantCase {
    pub variant: String,
    /// Which alternative of the profile it takes, against the reference's, in one sentence.
    pub description: String,
}

/// Why the manifest cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("expected-failures.toml: {0}")]
    Syntax(String),
    #[error("expected-failures.toml names `{name}`, which is not a {kind} of the platform")]
    Unknown { kind: &'static str, name: String },
    #[error("expected-failures.toml lists {kind} `{name}` twice")]
    Duplicate { kind: &'static str, name: String },
    #[error("{kind} `{name}` has no entry in expected-failures.toml")]
    Missing {
        kind: &'static str,
        name: &'static str,
    },
    #[error(
        "expected-failures.toml: defect `{0}` fails no requirement (give `fails` or `spot_check_fails`)"
    )]
    NothingFails(String),
    #[error(
        "expected-failures.toml: defect `{0}` lists a requirement both in fails and in may_also_fail"
    )]
    BothMustAndMay(String),
}

/// Checks that `names` lists every value of `all` exactly once and nothing else.
fn listed_once<'a, T>(
    kind: &'static str,
    names: impl Iterator<Item = &'a str>,
    all: &[T],
    name_of: fn(T) -> &'static str,
) -> Result<(), ManifestError>
where
    T: FromStr + Ord + Copy,
{
    let mut seen = BTreeSet::new();
    for name in names {
        let value: T = name.parse().map_err(|_| ManifestError::Unknown {
            kind,
            name: name.to_owned(),
        })?;
        if !seen.insert(value) {
            return Err(ManifestError::Duplicate {
                kind,
                name: name.to_owned(),
            });
        }
    }
    match all.iter().find(|v| !seen.contains(v)) {
        Some(missing) => Err(ManifestError::Missing {
            kind,
            name: name_of(*missing),
        }),
        None => Ok(()),
    }
}

impl Manifest {
    /// Parses and checks a manifest against the platform: every defect and every variant listed
    /// exactly once, nothing else listed, every defect failing something.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().to_owned()))?;
        let defects = manifest.cases.iter().map(|c| c.defect.as_str());
        listed_once("defect", defects, Defect::ALL, Defect::name)?;
        let variants = manifest.variants.iter().map(|v| v.variant.as_str());
        listed_once("variant", variants, Variant::ALL, Variant::name)?;
        if let Some(case) = manifest
            .cases
            .iter()
            .find(|c| c.fails.is_empty() && c.spot_check_fails.is_empty())
        {
            return Err(ManifestError::NothingFails(case.defect.clone()));
        }
        if let Some(case) = manifest
            .cases
            .iter()
            .find(|c| c.may_also_fail.iter().any(|id| c.fails.contains(id)))
        {
            return Err(ManifestError::BothMustAndMay(case.defect.clone()));
        }
        Ok(manifest)
    }

    /// The entry of `defect` (present once [`Manifest::parse`] accepted the manifest).
    pub fn case(&self, defect: Defect) -> Option<&DefectCase> {
        self.cases.iter().find(|c| c.defect == defect.name())
    }

    /// The entry of `variant` (present once [`Manifest::parse`] accepted the manifest).
    pub fn variant(&self, variant: Variant) -> Option<&VariantCase> {
        self.variants.iter().find(|v| v.variant == variant.name())
    }
}

/// The built-in manifest, parsed and checked once.
pub fn manifest() -> Result<&'static Manifest, ManifestError> {
    static PARSED: OnceLock<Result<Manifest, ManifestError>> = OnceLock::new();
    PARSED
        .get_or_init(|| Manifest::parse(MANIFEST_TOML))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_manifest_lists_every_switch_once() {
        let manifest = manifest().expect("valid manifest");
        assert_eq!(manifest.cases.len(), Defect::ALL.len());
        assert_eq!(manifest.variants.len(), Variant::ALL.len());
    }

    #[test]
    fn a_manifest_that_disagrees_with_the_platform_is_refused() {
        let case = |name: &str| {
            format!("[[case]]\ndefect = \"{name}\"\nfails = [\"ID-1\"]\ndescription = \"x\"\n")
        };
        let variant =
            |name: &str| format!("[[variant]]\nvariant = \"{name}\"\ndescription = \"x\"\n");
        let variants: String = Variant::ALL.iter().map(|v| variant(v.name())).collect();
        let all: String = Defect::ALL.iter().map(|d| case(d.name())).collect();
        assert!(Manifest::parse(&format!("{all}{variants}")).is_ok());
        let unknown = format!("{all}{}{variants}", case("no-such-defect"));
        assert_eq!(
            Manifest::parse(&unknown).unwrap_err(),
            ManifestError::Unknown {
                kind: "defect",
                name: "no-such-defect".into()
            }
        );
        let twice = format!("{all}{}{variants}", case("seek-allowed"));
        assert_eq!(
            Manifest::parse(&twice).unwrap_err(),
            ManifestError::Duplicate {
                kind: "defect",
                name: "seek-allowed".into()
            }
        );
        let without: String = Defect::ALL[1..].iter().map(|d| case(d.name())).collect();
        assert_eq!(
            Manifest::parse(&format!("{without}{variants}")).unwrap_err(),
            ManifestError::Missing {
                kind: "defect",
                name: Defect::ALL[0].name()
            }
        );
        assert_eq!(
            Manifest::parse(&all).unwrap_err(),
            ManifestError::Missing {
                kind: "variant",
                name: Variant::ALL[0].name()
            }
        );
        let empty = format!("{all}{variants}").replacen("fails = [\"ID-1\"]", "fails = []", 1);
        assert!(matches!(
            Manifest::parse(&empty).unwrap_err(),
            ManifestError::NothingFails(_)
        ));
        let both = format!("{all}{variants}").replacen(
            "fails = [\"ID-1\"]",
            "fails = [\"ID-1\"]\nmay_also_fail = [\"ID-1\"]",
            1,
        );
        assert!(matches!(
            Manifest::parse(&both).unwrap_err(),
            ManifestError::BothMustAndMay(_)
        ));
    }
}
