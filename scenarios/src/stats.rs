//! The small statistics probes state their claims with: binomial tails, the one-sided 95% upper
//! bound on a rate seen in n trials (Clopper–Pearson), and the Kolmogorov–Smirnov test of
//! shares against the uniform distribution.

/// P(Binomial(n, p) ≥ k).
pub fn binomial_tail(n: usize, p: f64, k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let mut term = (1.0 - p).powi(n as i32); // P(X = 0)
    let mut below = 0.0;
    for x in 0..k {
        below += term;
        term *= (n - x) as f64 / (x + 1) as f64 * p / (1.0 - p);
    }
    (1.0 - below).clamp(0.0, 1.0)
}

/// The one-sided 95% upper confidence bound (Clopper–Pearson, exact) on a rate of which
/// `successes` were seen in `trials`: the rate at which seeing so few has probability 5%.
/// With none seen it is 1 − 0.05^(1/n) (about 3/n, the rule of three).
pub fn upper_bound_95(successes: usize, trials: usize) -> f64 {
    if trials == 0 {
        return 1.0;
    }
    if successes >= trials {
        return 1.0;
    }
    if successes == 0 {
        return 1.0 - 0.05f64.powf(1.0 / trials as f64);
    }
    // P(X ≤ successes) falls as p grows; find where it crosses 5%.
    let at_most = |p: f64| 1.0 - binomial_tail(trials, p, successes + 1);
    let (mut lo, mut hi) = (successes as f64 / trials as f64, 1.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if at_most(mid) > 0.05 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The Kolmogorov–Smirnov test of shares (values in [0, 1]) against the uniform distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UniformityTest {
    /// The largest distance between the empirical and the uniform distribution function.
    pub distance: f64,
    /// The chance that uniform shares lie at least this far from uniform.
    pub chance: f64,
}

/// Tests `shares` for uniformity on [0, 1] (Kolmogorov–Smirnov, with Stephens' small-sample
/// correction of the asymptotic distribution, good to a few percent of the chance from n = 5).
pub fn uniformity(shares: &[f64]) -> UniformityTest {
    let mut sorted: Vec<f64> = shares.iter().map(|s| s.clamp(0.0, 1.0)).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return UniformityTest {
            distance: 0.0,
            chance: 1.0,
        };
    }
    let nf = n as f64;
    let distance = sorted
        .iter()
        .enumerate()
        .map(|(i, x)| (((i + 1) as f64 / nf) - x).max(x - i as f64 / nf))
        .fold(0.0, f64::max);
    UniformityTest {
        distance,
        chance: distance_chance(n, distance),
    }
}

/// The chance that `n` uniform shares lie at least `distance` from uniform.
pub fn distance_chance(n: usize, distance: f64) -> f64 {
    let root = (n as f64).sqrt();
    kolmogorov_tail((root + 0.12 + 0.11 / root) * distance)
}

/// The distance from uniform beyond which `n` shares have less than `chance` of being uniform:
/// the smallest distance a test at that level rejects.
pub fn distance_limit(n: usize, chance: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if distance_chance(n, mid) >= chance {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// P(K > λ) for the Kolmogorov distribution: 2 Σ (−1)^(k−1) e^(−2k²λ²).
fn kolmogorov_tail(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as u32 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn binomial_tail_matches_small_cases() {
        assert!((binomial_tail(3, 0.5, 0) - 1.0).abs() < 1e-12);
        assert!((binomial_tail(3, 0.5, 2) - 0.5).abs() < 1e-12);
        assert!((binomial_tail(3, 0.5, 3) - 0.125).abs() < 1e-12);
        assert_eq!(binomial_tail(3, 0.5, 4), 0.0);
    }

    #[test]
    fn upper_bounds_match_published_values() {
        // None in 45: 1 − 0.05^(1/45).
        assert!((upper_bound_95(0, 45) - 0.0644).abs() < 5e-4);
        assert!((upper_bound_95(0, 30) - 0.0950).abs() < 5e-4);
        // One in 45 (exact Clopper–Pearson one-sided 95%): 0.1011.
        assert!(
            (upper_bound_95(1, 45) - 0.1011).abs() < 1e-3,
            "{}",
            upper_bound_95(1, 45)
        );
        // Five in 20: 0.4556.
        assert!(
            (upper_bound_95(5, 20) - 0.4556).abs() < 1e-3,
            "{}",
            upper_bound_95(5, 20)
        );
        assert_eq!(upper_bound_95(3, 3), 1.0);
    }

    #[test]
    fn kolmogorov_chances_match_tables() {
        // Critical values of the asymptotic distribution: P(K > 1.358) = 0.05, 1.949 → 0.001.
        assert!((kolmogorov_tail(1.358) - 0.05).abs() < 1e-3);
        assert!((kolmogorov_tail(1.949) - 0.001).abs() < 1e-4);
        let spread: Vec<f64> = (0..32).map(|i| (f64::from(i) + 0.5) / 32.0).collect();
        assert!(uniformity(&spread).chance > 0.99);
        assert!(uniformity(&[0.4; 32]).chance < 1e-6);
    }

    #[test]
    fn the_limit_at_30_shares_and_one_in_a_thousand() {
        let limit = distance_limit(30, 0.001);
        assert!((0.34..0.36).contains(&limit), "{limit}");
        assert!((distance_chance(30, limit) - 0.001).abs() < 1e-4);
    }

    #[test]
    fn uniform_shares_are_rejected_about_as_often_as_the_chance_says() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let draws = 20_000;
        let rejected = (0..draws)
            .filter(|_| {
                let shares: Vec<f64> = (0..32).map(|_| rng.random::<f64>()).collect();
                uniformity(&shares).chance < 0.01
            })
            .count();
        let rate = rejected as f64 / f64::from(draws);
        assert!((0.005..0.015).contains(&rate), "{rate}");
    }
}
