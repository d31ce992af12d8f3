//! The population mix: a weight per behaviour. Given inline (`honest=58,seeker=3`) or as a TOML
//! file with a `[mix]` table; the default is mostly honest with every cheat type present.
//! Learners are dealt their behaviours by smooth weighted round robin, so the first N learners
//! hold every share to within one learner, at 40 learners as at 10,000.

use std::collections::BTreeMap;

use duxue_scenarios::behaviour::Behaviour;
use duxue_scenarios::population::behaviour_name;

#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    weights: Vec<(Behaviour, usize)>,
}

impl Default for Mix {
    /// 58% honest, 3% of each of the fourteen cheats.
    fn default() -> Self {
        Mix {
            weights: Behaviour::ALL
                .iter()
                .map(|&b| (b, if b == Behaviour::Honest { 58 } else { 3 }))
                .collect(),
        }
    }
}

impl Mix {
    pub fn weights(&self) -> impl Iterator<Item = (Behaviour, usize)> + '_ {
        self.weights.iter().copied()
    }

    /// The behaviours of learners number 0, 1, … `learners − 1`: smooth weighted round robin
    /// (each behaviour gains its weight every turn; the one furthest ahead is dealt and loses
    /// the total), so every prefix of the sequence holds each share to within one learner.
    pub fn deal(&self, learners: usize) -> Vec<Behaviour> {
        let weights: Vec<(Behaviour, i64)> = self
            .weights()
            .filter(|(_, w)| *w > 0)
            .map(|(b, w)| (b, w as i64))
            .collect();
        let total: i64 = weights.iter().map(|(_, w)| w).sum();
        let mut current = vec![0_i64; weights.len()];
        let mut dealt = Vec::with_capacity(learners);
        for _ in 0..learners {
            let mut best = 0;
            for (i, (_, w)) in weights.iter().enumerate() {
                current[i] += w;
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            dealt.push(weights[best].0);
        }
        dealt
    }

    /// Weights as percentages by behaviour name (for the report).
    pub fn shares(&self) -> BTreeMap<String, f64> {
        let total: usize = self.weights.iter().map(|(_, w)| w).sum();
        self.weights
            .iter()
            .filter(|(_, w)| *w > 0)
            .map(|(b, w)| {
                (
                    behaviour_name(*b),
                    (*w as f64 * 1000.0 / total.max(1) as f64).round() / 10.0,
                )
            })
            .collect()
    }

    /// Reads `--mix`: a file path (TOML with a `[mix]` table) or `name=weight,...`.
    pub fn parse(spec: &str) -> Result<Mix, String> {
        let path = std::path::Path::new(spec);
        let pairs: Vec<(String, i64)> = if path.exists() {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{spec}: cannot read: {e}"))?;
            let doc: toml::Table =
                toml::from_str(&text).map_err(|e| format!("{spec}: not TOML: {}", e.message()))?;
            let table = doc
                .get("mix")
                .and_then(|m| m.as_table())
                .ok_or_else(|| format!("{spec}: no [mix] table"))?;
            table
                .iter()
                .map(|(k, v)| {
                    v.as_integer()
                        .map(|w| (k.clone(), w))
                        .ok_or_else(|| format!("{spec}: mix.{k}: weight must be an integer"))
                })
                .collect::<Result<_, _>>()?
        } else {
            spec.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|pair| {
                    let (name, weight) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("`{pair}` is not name=weight"))?;
                    let weight = weight
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| format!("`{pair}`: weight must be an integer"))?;
                    Ok((name.trim().to_owned(), weight))
                })
                .collect::<Result<_, String>>()?
        };
        let mut weights = Vec::new();
        for (name, weight) in pairs {
            let behaviour = Behaviour::ALL
                .iter()
                .copied()
                .find(|b| behaviour_name(*b) == name)
                .ok_or_else(|| {
                    let known: Vec<String> =
                        Behaviour::ALL.iter().map(|b| behaviour_name(*b)).collect();
                    format!("unknown behaviour `{name}` (known: {})", known.join(", "))
                })?;
            if !(0..=10_000).contains(&weight) {
                return Err(format!("{name}: weight {weight} is not within 0..=10000"));
            }
            weights.push((behaviour, weight as usize));
        }
        if weights.iter().all(|(_, w)| *w == 0) {
            return Err("the mix has no behaviour with a positive weight".into());
        }
        Ok(Mix { weights })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mix_is_mostly_honest_with_every_cheat() {
        let shares = Mix::default().shares();
        assert_eq!(shares.len(), Behaviour::ALL.len());
        assert_eq!(shares["honest"], 58.0);
    }

    #[test]
    fn small_populations_hold_the_shares() {
        let mix = Mix::default();
        for learners in [15, 40, 200, 1000] {
            let dealt = mix.deal(learners);
            for (behaviour, weight) in mix.weights() {
                let count = dealt.iter().filter(|b| **b == behaviour).count() as f64;
                let exact = learners as f64 * weight as f64 / 100.0;
                assert!(
                    (count - exact).abs() <= 1.0,
                    "{learners} learners: {behaviour:?} {count}, share {exact}"
                );
            }
        }
        let forty = mix.deal(40);
        let honest = forty.iter().filter(|b| **b == Behaviour::Honest).count();
        assert!((23..=24).contains(&honest), "{honest} honest of 40");
    }

    #[test]
    fn inline_mixes_parse_and_bad_ones_say_why() {
        let mix = Mix::parse("honest=9, seeker=1").expect("valid");
        assert_eq!(mix.shares()["seeker"], 10.0);
        assert!(Mix::parse("honest").unwrap_err().contains("name=weight"));
        assert!(
            Mix::parse("cheater=1")
                .unwrap_err()
                .contains("unknown behaviour")
        );
        assert!(Mix::parse("honest=0").unwrap_err().contains("positive"));
    }
}
