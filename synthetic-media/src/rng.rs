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
}

/// Gaussian sensor noise of standard deviation `sigma` for `len` values: calls `add(i, z)` for
/// each index in order. Each draw is one of 256 normal quantiles (scaled to unit variance), so
/// one 64-bit step of the generator gives eight draws: making a frame's noise this way takes a
/// fraction of the time of summing uniforms per value.
#[inline]
pub(crate) fn gaussian_noise(len: usize, sigma: f32, seed: u64, mut add: impl FnMut(usize, f32)) {
    let table = normal_quantiles().map(|z| z * sigma);
    let mut g = XorShift::new(seed);
    let mut i = 0;
    while i < len {
        let mut bits = g.next();
        let end = (i + 8).min(len);
        while i < end {
            add(i, table[(bits & 0xFF) as usize]);
            bits >>= 8;
            i += 1;
        }
    }
}

/// The normal quantiles at (k + 1/2) / 256, k = 0..256, rescaled so that their variance is 1.
fn normal_quantiles() -> &'static [f32; 256] {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0f64; 256];
        for (k, z) in t.iter_mut().enumerate() {
            *z = inverse_normal_cdf((k as f64 + 0.5) / 256.0);
        }
        let var = t.iter().map(|z| z * z).sum::<f64>() / 256.0;
        t.map(|z| (z / var.sqrt()) as f32)
    })
}

/// The standard normal quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9).
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn noise_has_the_asked_spread_and_no_bias() {
        let n = 200_000;
        let mut v = vec![0.0f64; n];
        super::gaussian_noise(n, 3.0, 42, |i, z| v[i] = f64::from(z));
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|z| (z - mean) * (z - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var.sqrt() - 3.0).abs() < 0.03, "sd {}", var.sqrt());
        // symmetric, and about 4.6% beyond two standard deviations as for a normal
        let beyond = v.iter().filter(|z| z.abs() > 6.0).count() as f64 / n as f64;
        assert!(
            (beyond - 0.0455).abs() < 0.004,
            "share beyond 2 sd {beyond}"
        );
    }

    #[test]
    fn quantiles_match_known_values() {
        assert!((super::inverse_normal_cdf(0.975) - 1.959_964).abs() < 1e-5);
        assert!((super::inverse_normal_cdf(0.5)).abs() < 1e-12);
        assert!((super::inverse_normal_cdf(0.001) + 3.090_232).abs() < 1e-5);
    }
}
