//! Seed derivation: every random choice comes from a ChaCha stream keyed by (seed, purpose).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser: a good 64-bit mixer.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a byte string.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Combines a seed and a number into a new seed.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    splitmix(splitmix(a) ^ b.rotate_left(17) ^ 0x5851_F42D_4C95_7F2D)
}

/// A deterministic generator for one purpose of one seed.
pub(crate) fn rng(seed: u64, purpose: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed, fnv(purpose.as_bytes())))
}

/// A tiny fast generator for per-pixel noise (cheap even in unoptimised builds).
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(splitmix(seed) | 1)
    }
    #[inline]
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Approximately standard normal (sum of four uniforms, rescaled).
    #[inline]
    pub(crate) fn gauss(&mut self) -> f32 {
        let x = self.next();
        let a = (x & 0xFFFF) as f32
            + ((x >> 16) & 0xFFFF) as f32
            + ((x >> 32) & 0xFFFF) as f32
            + ((x >> 48) & 0xFFFF) as f32;
        // mean 2*65535, variance 4 * 65536^2/12
        (a - 131_070.0) / 37_837.0
    }
}
