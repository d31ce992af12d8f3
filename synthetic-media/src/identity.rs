//! Synthetic identities: a zh_CN name, a valid ID number, a phone number and face parameters,
//! all derived from one seed.

use crate::face::FaceParams;
use crate::id_number;
use crate::rng;
use chrono::NaiveDate;
use fake::Fake;
use fake::faker::name::raw::Name;
use fake::locales::ZH_CN;
use rand::Rng;

/// One synthetic person.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The seed everything else was derived from.
    pub seed: u64,
    /// Full name in Chinese characters (surname first).
    pub name: String,
    /// A valid 18-character resident ID number.
    pub id_number: String,
    /// An 11-digit mainland mobile number.
    pub phone: String,
    /// Date of birth (as in the ID number).
    pub birth_date: NaiveDate,
    /// Sex as the ID number encodes it.
    pub male: bool,
    /// The parameters of the face drawing.
    pub face: FaceParams,
}

/// Mobile number prefixes in use on the mainland.
const PHONE_PREFIXES: [&str; 24] = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "176", "177", "180", "186", "187", "188", "199",
];

/// The person for a seed (deterministic).
pub fn identity(seed: u64) -> Identity {
    let mut r = rng::rng(seed, "identity");
    let name: String = Name(ZH_CN).fake_with_rng(&mut r);
    let year = r.random_range(1966..2006);
    let birth_date = NaiveDate::from_ymd_opt(year, r.random_range(1..13), r.random_range(1..29))
        .unwrap_or_default();
    let male = r.random_bool(0.5);
    let seq = r.random_range(0..500u32) * 2 + if male { 1 } else { 2 };
    let region = id_number::REGIONS[r.random_range(0..id_number::REGIONS.len())];
    let id_number = id_number::compose(region, birth_date, seq.min(999));
    let prefix = PHONE_PREFIXES[r.random_range(0..PHONE_PREFIXES.len())];
    let phone = format!("{prefix}{:08}", r.random_range(0..100_000_000u32));
    let face = FaceParams::from_seed(seed);
    Identity {
        seed,
        name,
        id_number,
        phone,
        birth_date,
        male,
        face,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_valid_and_deterministic() {
        for seed in 0..200 {
            let a = identity(seed);
            assert_eq!(a, identity(seed));
            assert!(id_number::is_valid(&a.id_number), "{}", a.id_number);
            assert_eq!(id_number::birth_date(&a.id_number), Some(a.birth_date));
            let sex_digit = a.id_number.as_bytes()[16] - b'0';
            assert_eq!(sex_digit % 2 == 1, a.male);
            assert_eq!(a.phone.len(), 11);
            assert!(a.phone.starts_with('1'));
            assert!(a.name.chars().count() >= 2);
        }
    }
}
