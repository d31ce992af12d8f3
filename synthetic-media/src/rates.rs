//! Error counts and their 95% bounds: the two-sided Clopper–Pearson (exact binomial) interval,
//! and the rule of three (3/n, a one-sided 95% upper bound) when no error was seen.

/// An error count out of a number of trials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    /// Trials that went wrong.
    pub errors: u64,
    /// Trials.
    pub total: u64,
}

impl Count {
    /// errors / total (0 when there were no trials).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.errors as f64 / self.total as f64
        }
    }

    pub(crate) fn add(&mut self, error: bool) {
        self.total += 1;
        self.errors += u64::from(error);
    }

    pub(crate) fn merge(&mut self, o: Count) {
        self.total += o.total;
        self.errors += o.errors;
    }

    /// The two-sided 95% Clopper–Pearson interval of the rate; `None` without trials.
    pub fn clopper_pearson_95(&self) -> Option<(f64, f64)> {
        clopper_pearson(self.errors, self.total, 0.05)
    }

    /// The 95% upper bound stated for the rate: the rule of three (3/n) when no error was seen,
    /// else the Clopper–Pearson upper limit; `None` without trials.
    pub fn upper_95(&self) -> Option<f64> {
        if self.total == 0 {
            None
        } else if self.errors == 0 {
            Some((3.0 / self.total as f64).min(1.0))
        } else {
            self.clopper_pearson_95().map(|(_, hi)| hi)
        }
    }

    /// "e/n = r%, 95% [lo%, hi%] (Clopper–Pearson)", or "0/n, ≤ u% at 95% (rule of three)".
    pub fn describe(&self) -> String {
        let pct = |x: f64| format!("{:.2}%", x * 100.0);
        match (self.total, self.errors) {
            (0, _) => "no trials".to_owned(),
            (n, 0) => format!(
                "0/{n}, ≤ {} at 95% (rule of three)",
                pct(self.upper_95().unwrap_or(1.0))
            ),
            (n, e) => {
                let (lo, hi) = self.clopper_pearson_95().unwrap_or((0.0, 1.0));
                format!(
                    "{e}/{n} = {}, 95% [{}, {}] (Clopper–Pearson)",
                    pct(self.rate()),
                    pct(lo),
                    pct(hi)
                )
            }
        }
    }
}

/// The two-sided `1 − alpha` Clopper–Pearson interval for `x` successes in `n` trials.
pub fn clopper_pearson(x: u64, n: u64, alpha: f64) -> Option<(f64, f64)> {
    if n == 0 || x > n {
        return None;
    }
    let (xf, nf) = (x as f64, n as f64);
    let lo = if x == 0 {
        0.0
    } else {
        beta_quantile(alpha / 2.0, xf, nf - xf + 1.0)
    };
    let hi = if x == n {
        1.0
    } else {
        beta_quantile(1.0 - alpha / 2.0, xf + 1.0, nf - xf)
    };
    Some((lo, hi))
}

/// The `q` quantile of Beta(a, b), by bisection of the regularised incomplete beta function.
fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if incomplete_beta(mid, a, b) < q {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    (lo + hi) / 2.0
}

/// The regularised incomplete beta function I_x(a, b) (continued fraction, modified Lentz).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        (ln_front.exp() * beta_fraction(x, a, b) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - ln_front.exp() * beta_fraction(1.0 - x, b, a) / b).clamp(0.0, 1.0)
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=1000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine coefficients; relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn clopper_pearson_matches_published_values() {
        // No error in 10: the upper limit is 1 − 0.025^(1/10).
        let (lo, hi) = clopper_pearson(0, 10, 0.05).expect("interval");
        assert_eq!(lo, 0.0);
        assert!(close(hi, 1.0 - 0.025f64.powf(0.1), 1e-9), "{hi}");
        // All of 10: the lower limit is 0.025^(1/10).
        let (lo, hi) = clopper_pearson(10, 10, 0.05).expect("interval");
        assert!(close(lo, 0.025f64.powf(0.1), 1e-9), "{lo}");
        assert_eq!(hi, 1.0);
        // R: binom.test(1, 20)$conf.int = 0.001265089 0.248732762
        let (lo, hi) = clopper_pearson(1, 20, 0.05).expect("interval");
        assert!(close(lo, 0.001_265_089, 1e-8) && close(hi, 0.248_732_762, 1e-8));
        // R: binom.test(5, 100)$conf.int = 0.01643188 0.11283491
        let (lo, hi) = clopper_pearson(5, 100, 0.05).expect("interval");
        assert!(close(lo, 0.016_431_88, 1e-7) && close(hi, 0.112_834_91, 1e-7));
        assert_eq!(clopper_pearson(0, 0, 0.05), None);
    }

    #[test]
    fn zero_errors_are_bounded_by_the_rule_of_three() {
        let c = Count {
            errors: 0,
            total: 300,
        };
        assert!(close(c.upper_95().expect("bound"), 0.01, 1e-12));
        assert!(c.describe().contains("rule of three"), "{}", c.describe());
        let none = Count::default();
        assert_eq!(none.upper_95(), None);
        assert_eq!(none.describe(), "no trials");
        let some = Count {
            errors: 5,
            total: 100,
        };
        assert!(
            some.describe().contains("Clopper–Pearson"),
            "{}",
            some.describe()
        );
        assert!(close(some.upper_95().expect("bound"), 0.112_834_91, 1e-7));
    }
}
