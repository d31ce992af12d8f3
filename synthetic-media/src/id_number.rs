//! Chinese resident ID numbers (GB 11643-1999): 6-digit region code, 8-digit birth date,
//! 3-digit sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check character.
//! Also generators of invalid numbers for negative tests.

use crate::rng;
use chrono::{Datelike, NaiveDate};
use rand::Rng;

/// Weights of the first 17 digits in the MOD 11-2 checksum.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of the weighted sum modulo 11.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// County-level region codes used for synthetic people (real codes of city districts).
pub(crate) const REGIONS: [&str; 16] = [
    "110101", "120101", "210102", "310101", "320102", "330106", "350102", "370102", "410105",
    "420102", "430102", "440106", "440305", "500103", "510104", "610113",
];

/// Two-digit province codes that GB/T 2260 assigns.
const PROVINCES: [u32; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// Ways an ID number can be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidIdKind {
    /// Well formed, but the last character is not the checksum of the first 17.
    BadCheckDigit,
    /// Correct checksum, but the birth date does not exist (e.g. 31 April, month 13).
    ImpossibleDate,
    /// One character too few or too many.
    WrongLength,
}

impl InvalidIdKind {
    /// All kinds, in a fixed order.
    pub const ALL: [InvalidIdKind; 3] = [
        InvalidIdKind::BadCheckDigit,
        InvalidIdKind::ImpossibleDate,
        InvalidIdKind::WrongLength,
    ];
}

/// The check character for the first 17 digits, or `None` if they are not 17 ASCII digits.
pub fn check_digit(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize])
}

/// The birth date encoded in a number, if its digits 7..15 form a real date.
pub fn birth_date(s: &str) -> Option<NaiveDate> {
    let d = s.get(6..14)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i32 = d[0..4].parse().ok()?;
    let m: u32 = d[4..6].parse().ok()?;
    let day: u32 = d[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, day)
}

/// Whether `s` is a valid 18-character resident ID number: a known province, a real birth date
/// between 1900 and today, and a correct check character (upper-case `X` for ten).
pub fn is_valid(s: &str) -> bool {
    if s.len() != 18 || !s.is_ascii() {
        return false;
    }
    let Some(expected) = check_digit(&s[..17]) else {
        return false;
    };
    if s.as_bytes()[17] as char != expected {
        return false;
    }
    let Ok(province) = s[..2].parse::<u32>() else {
        return false;
    };
    if !PROVINCES.contains(&province) {
        return false;
    }
    match birth_date(s) {
        Some(d) => d.year() >= 1900 && d <= chrono::Local::now().date_naive(),
        None => false,
    }
}

/// Builds a valid number from its parts (sequence 1..=999).
pub(crate) fn compose(region: &str, birth: NaiveDate, sequence: u32) -> String {
    let first17 = format!("{region}{}{:03}", birth.format("%Y%m%d"), sequence % 1000);
    let c = check_digit(&first17).unwrap_or('0');
    format!("{first17}{c}")
}

/// A number that is invalid in the given way, deterministic in `seed`.
pub fn invalid(kind: InvalidIdKind, seed: u64) -> String {
    let mut r = rng::rng(seed, "invalid-id");
    let region = REGIONS[r.random_range(0..REGIONS.len())];
    let year = r.random_range(1966..2006);
    let seq = r.random_range(1..1000u32);
    match kind {
        InvalidIdKind::BadCheckDigit => {
            let birth = NaiveDate::from_ymd_opt(year, r.random_range(1..13), r.random_range(1..29))
                .unwrap_or_default();
            let good = compose(region, birth, seq);
            let right = good.as_bytes()[17] as char;
            let others: Vec<char> = CHECK.iter().copied().filter(|&c| c != right).collect();
            let wrong = others[r.random_range(0..others.len())];
            format!("{}{wrong}", &good[..17])
        }
        InvalidIdKind::ImpossibleDate => {
            let (m, d) = match r.random_range(0..4) {
                0 => (13, r.random_range(1..29)),
                1 => (r.random_range(1..13), 0),
                2 => (4, 31),
                _ => (2, 30),
            };
            let first17 = format!("{region}{year:04}{m:02}{d:02}{seq:03}");
            let c = check_digit(&first17).unwrap_or('0');
            format!("{first17}{c}")
        }
        InvalidIdKind::WrongLength => {
            let birth = NaiveDate::from_ymd_opt(year, r.random_range(1..13), r.random_range(1..29))
                .unwrap_or_default();
            let good = compose(region, birth, seq);
            if r.random_bool(0.5) {
                good[..17].to_string()
            } else {
                format!("{good}{}", r.random_range(0..10))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        // The example number of GB 11643-1999.
        assert_eq!(check_digit("11010519491231002"), Some('X'));
        assert!(is_valid("11010519491231002X"));
        assert!(!is_valid("110105194912310021"));
        assert!(!is_valid("11010519491231002x"));
        assert_eq!(check_digit("4403051990010112"), None);
    }

    #[test]
    fn invalid_numbers_are_invalid() {
        for seed in 0..300 {
            for kind in InvalidIdKind::ALL {
                let s = invalid(kind, seed);
                assert!(!is_valid(&s), "{kind:?} {s}");
                match kind {
                    InvalidIdKind::WrongLength => assert_ne!(s.len(), 18),
                    InvalidIdKind::ImpossibleDate => {
                        assert_eq!(s.len(), 18);
                        assert!(birth_date(&s).is_none());
                        assert_eq!(check_digit(&s[..17]), Some(s.as_bytes()[17] as char));
                    }
                    InvalidIdKind::BadCheckDigit => {
                        assert_eq!(s.len(), 18);
                        assert!(birth_date(&s).is_some());
                    }
                }
            }
        }
    }
}
