//! Who does what, and when: drawn from the run's seed, so every run has a different mix and
//! order of honest and cheating sittings, login trials and isolation trials, and nothing in
//! the traffic follows a fixed script a platform could recognise. Every cheat still comes up
//! early in the run, so that a short spot check judges as many requirements as it can.

use duxue_media::Species;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::road::{LoginTrial, Sitting};

/// Something an account does between sittings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Interlude {
    /// Logs out and back in; the old token is tried once more (SC-2).
    Relogin,
    /// Missing and forged tokens on the account's own requests (SC-2).
    ForgedTokens,
    /// Another account's progress and playback, with this account's token (SC-3).
    PeekAtOther,
}

/// One step of an account's day.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Sit(Sitting),
    /// A pause of this many platform seconds (a person between lessons).
    Pause(f64),
    Interlude(Interlude),
}

/// What each account does, in order.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Platform seconds each account waits before its first login.
    pub start_after: Vec<f64>,
    /// Trials at each account's first login.
    pub first_login: Vec<Vec<LoginTrial>>,
    pub steps: Vec<Vec<Step>>,
}

/// One cheat sitting in a form drawn at random.
fn cheat(kind: usize, rng: &mut ChaCha8Rng, max_gap: f64) -> Sitting {
    match kind {
        0 => Sitting::Seek {
            after: rng.random_range(40.0..200.0),
            jump: [60.0, 180.0, 300.0, 900.0][rng.random_range(0..4)],
        },
        // Announced (the rate declared is the rate played) or hidden (rate 1 declared while
        // the position runs faster).
        1 => {
            let (rate, speed) = [
                (1.25, 1.25),
                (2.0, 2.0),
                (4.0, 4.0),
                (1.0, 1.25),
                (1.0, 1.5),
                (1.0, 2.0),
            ][rng.random_range(0..6)];
            Sitting::SpeedUp { rate, speed }
        }
        2 => Sitting::SecondWindow,
        3 => Sitting::SecondDevice,
        4 => Sitting::Idle,
        5 => Sitting::Silent {
            after: rng.random_range(60.0..180.0),
            length: max_gap * rng.random_range(2.5..5.0),
        },
        6 => Sitting::AutoClick {
            latency: rng.random_range(0.2..1.0),
        },
        7 => Sitting::CaptureSpoof,
        _ => Sitting::CaptureIgnored,
    }
}

/// Kinds of cheat sitting [`cheat`] draws.
const CHEATS: usize = 9;
/// Sittings dealt to each account (more than a long spot check gets through).
const SITTINGS_PER_ACCOUNT: usize = 12;

fn is_capture_cheat(sitting: &Sitting) -> bool {
    matches!(sitting, Sitting::CaptureSpoof | Sitting::CaptureIgnored)
}

/// A capture cheat needs a class hour whose capture is still ahead, and a class hour takes
/// longer than any other cheat: the first round's capture cheats open the days of random
/// accounts (the first `accounts` sittings dealt are each account's first), where a fresh
/// lesson's first class hour lies ahead and a short spot check still gets through it.
fn open_with_capture_cheats(sittings: &mut [Sitting], accounts: usize, rng: &mut ChaCha8Rng) {
    let firsts = accounts.min(sittings.len());
    let round = (2 * CHEATS).min(sittings.len());
    let mut free: Vec<usize> = (0..firsts)
        .filter(|&i| !is_capture_cheat(&sittings[i]))
        .collect();
    free.shuffle(rng);
    let late: Vec<usize> = (firsts..round)
        .filter(|&i| is_capture_cheat(&sittings[i]))
        .collect();
    for (cheat, slot) in late.into_iter().zip(free) {
        sittings.swap(cheat, slot);
    }
}

/// Draws the schedule of `accounts` accounts. `max_gap` is the policy's heartbeat gap.
pub fn draw(rng: &mut ChaCha8Rng, accounts: usize, max_gap: f64) -> Schedule {
    // Rounds of every cheat once, in random order, with honest sittings among them (about
    // half of all sittings, as on a real platform most study is honest), dealt in turn.
    let mut sittings = Vec::new();
    while sittings.len() < accounts * SITTINGS_PER_ACCOUNT {
        let mut round: Vec<Sitting> = (0..CHEATS).map(|k| cheat(k, rng, max_gap)).collect();
        for _ in 0..CHEATS {
            round.push(Sitting::Honest);
        }
        round.shuffle(rng);
        sittings.extend(round);
    }
    open_with_capture_cheats(&mut sittings, accounts, rng);
    let mut steps: Vec<Vec<Step>> = vec![Vec::new(); accounts];
    for (n, sitting) in sittings.into_iter().enumerate() {
        let deck = &mut steps[n % accounts];
        deck.push(Step::Sit(sitting));
        deck.push(Step::Pause(rng.random_range(30.0..240.0)));
    }
    // Isolation and token trials after the first sitting of random accounts.
    for interlude in [
        Interlude::Relogin,
        Interlude::ForgedTokens,
        Interlude::PeekAtOther,
        Interlude::PeekAtOther,
        Interlude::Relogin,
    ] {
        let account = rng.random_range(0..accounts);
        let at = 2 + 2 * rng.random_range(0..2usize);
        let deck = &mut steps[account];
        let at = at.min(deck.len());
        deck.insert(at, Step::Interlude(interlude));
    }
    // Liveness trials at first logins: every attack species twice (whether one attack gets
    // in depends on the pixels of that one shot), a login without frames, a replayed and an
    // expired challenge, spread over random accounts.
    let mut first_login = vec![Vec::new(); accounts];
    let mut trials: Vec<LoginTrial> = Species::ALL
        .iter()
        .chain(Species::ALL.iter())
        .map(|s| LoginTrial::Spoof(*s))
        .collect();
    trials.extend([
        LoginTrial::NoFrames,
        LoginTrial::ReplayedChallenge,
        LoginTrial::ExpiredChallenge,
    ]);
    trials.shuffle(rng);
    for trial in trials {
        first_login[rng.random_range(0..accounts)].push(trial);
    }
    let start_after = (0..accounts)
        .map(|_| rng.random_range(0.0..120.0))
        .collect();
    Schedule {
        start_after,
        first_login,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn kinds(schedule: &Schedule) -> Vec<Vec<&'static str>> {
        schedule
            .steps
            .iter()
            .map(|deck| {
                deck.iter()
                    .filter_map(|s| match s {
                        Step::Sit(sitting) => Some(sitting.name()),
                        _ => None,
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_cheat_comes_early_and_runs_differ() {
        let a = draw(&mut ChaCha8Rng::seed_from_u64(1), 8, 60.0);
        let b = draw(&mut ChaCha8Rng::seed_from_u64(2), 8, 60.0);
        let (ka, kb) = (kinds(&a), kinds(&b));
        assert_ne!(ka, kb, "another seed, another mix and order");
        // The first three sittings of eight accounts hold every cheat at least once.
        let early: Vec<&str> = ka.iter().flat_map(|d| d.iter().take(3).copied()).collect();
        for name in [
            "seek",
            "speed-up",
            "second-window",
            "second-device",
            "idle",
            "silent",
            "popup-auto-click",
            "capture-spoof",
            "capture-ignored",
        ] {
            assert!(early.contains(&name), "{name} not early in {ka:?}");
        }
        // Capture cheats open two accounts' days, whose first lesson's first capture is ahead.
        for seed in 0..50 {
            let k = kinds(&draw(&mut ChaCha8Rng::seed_from_u64(seed), 8, 60.0));
            let opening: Vec<&str> = k.iter().filter_map(|d| d.first().copied()).collect();
            for name in ["capture-spoof", "capture-ignored"] {
                assert!(opening.contains(&name), "{name} opens no day in {k:?}");
            }
        }
        let trials: usize = a.first_login.iter().map(Vec::len).sum();
        assert_eq!(trials, 2 * Species::ALL.len() + 3);
        assert_eq!(
            draw(&mut ChaCha8Rng::seed_from_u64(1), 8, 60.0).steps,
            a.steps,
            "the same seed, the same schedule"
        );
    }
}
