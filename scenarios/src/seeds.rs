//! Deterministic seeds: every learner, image and choice derives from the run seed, so the same
//! seed gives the same learners (and shards can split a population without overlap). Who a
//! learner is (name, ID number, phone, face) also mixes in the run's nonce: profile v1 makes ID
//! numbers unique platform-wide and a conformance tenant is not wiped between runs, so each run
//! registers new people while its seed and nonce, both in the run folder, reproduce it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Mixes two numbers into a new seed (SplitMix64 finaliser).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of the person a learner of seed `learner_seed` is, in the run of `run_nonce`.
pub fn person(learner_seed: u64, run_nonce: u64) -> u64 {
    named(mix(learner_seed, run_nonce), "person")
}

/// A seed for a named purpose.
pub fn named(seed: u64, name: &str) -> u64 {
    name.bytes().fold(seed, |acc, b| mix(acc, u64::from(b)))
}

/// A deterministic random generator for a named purpose.
pub fn rng(seed: u64, name: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(named(seed, name))
}
