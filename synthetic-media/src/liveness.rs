//! Liveness challenges and genuine answers.
//!
//! A challenge is a nonce and three or four distinct actions. The genuine client answers with a
//! short frame sequence in which the person performs the actions in order, while the screen
//! flashes a colour sequence derived from the nonce that lights the face (colour/flash
//! liveness): a recording made for another challenge shows the wrong colours.

use crate::face::{self, Shot};
use crate::identity::Identity;
use crate::raster::Canvas;
use crate::rng;
use rand::Rng;
use rand::seq::SliceRandom;

/// One thing a person is asked to do in front of the camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Close both eyes and open them again.
    Blink,
    /// Turn the head to the subject's left (the face moves toward image right).
    TurnLeft,
    /// Turn the head to the subject's right (the face moves toward image left).
    TurnRight,
    /// Open the mouth wide.
    OpenMouth,
    /// Nod down and back up.
    Nod,
}

impl Action {
    /// The wire name (as serialised; the same names as profile v1's `LivenessAction`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Blink => "blink",
            Action::TurnLeft => "turn_left",
            Action::TurnRight => "turn_right",
            Action::OpenMouth => "open_mouth",
            Action::Nod => "nod",
        }
    }

    /// The action with this wire name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// All actions, in a fixed order.
    pub const ALL: [Action; 5] = [
        Action::Blink,
        Action::TurnLeft,
        Action::TurnRight,
        Action::OpenMouth,
        Action::Nod,
    ];
}

/// What a platform issues: a nonce and the actions to perform, in order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    /// Random, unpredictable; also drives the flash colours.
    pub nonce: String,
    /// Three or four distinct actions.
    pub actions: Vec<Action>,
}

/// A new random challenge (3–4 distinct actions, 128-bit nonce in hex).
pub fn new_challenge(rng: &mut impl Rng) -> Challenge {
    let nonce = format!("{:016x}{:016x}", rng.random::<u64>(), rng.random::<u64>());
    let n = rng.random_range(3..=4);
    let mut all = Action::ALL.to_vec();
    all.shuffle(rng);
    all.truncate(n);
    Challenge {
        nonce,
        actions: all,
    }
}

/// How strongly the screen flash lights the face (fraction added to one channel).
pub(crate) const FLASH_GAIN: f32 = 0.12;

/// The flash colour the screen shows during frame `i` of an answer to `nonce`: 0 none, 1 red,
/// 2 green, 3 blue. Frame 0 has none; frame `i > 0` has `mix(fnv1a64(nonce), i) mod 4` (the
/// schedule of `profile/BIOMETRICS.md`, where `mix` and `fnv1a64` are spelt out).
pub fn flash_colour(nonce: &str, i: usize) -> u8 {
    if i == 0 {
        return 0;
    }
    (rng::mix(rng::fnv(nonce.as_bytes()), i as u64) % 4) as u8
}

pub(crate) fn flash_vector(colour: u8) -> [f32; 3] {
    let mut f = [1.0; 3];
    if (1..=3).contains(&colour) {
        f[colour as usize - 1] += FLASH_GAIN;
    }
    f
}

/// One planned frame: which action (if any) and how far into it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    pub action: Option<Action>,
    pub intensity: f32,
}

/// The timing of a genuine answer: a neutral frame, then for each action an optional
/// half-way frame, one or two peak frames and a return to neutral.
pub(crate) fn plan(r: &mut impl Rng, actions: &[Action]) -> Vec<Step> {
    let mut steps = vec![Step {
        action: None,
        intensity: 0.0,
    }];
    for &a in actions {
        if r.random_bool(0.3) {
            steps.push(Step {
                action: Some(a),
                intensity: r.random_range(0.25..0.4),
            });
        }
        for _ in 0..r.random_range(1..=2) {
            steps.push(Step {
                action: Some(a),
                intensity: r.random_range(0.85..1.0),
            });
        }
        steps.push(Step {
            action: None,
            intensity: r.random_range(0.0..0.08),
        });
    }
    steps
}

/// Applies a step to a shot.
pub(crate) fn pose(s: &mut Shot, step: Step) {
    let t = step.intensity;
    match step.action {
        Some(Action::Blink) => s.eye_open = 1.0 - 0.93 * t,
        Some(Action::OpenMouth) => s.mouth_open = t,
        Some(Action::TurnLeft) => s.yaw += 0.25 * t,
        Some(Action::TurnRight) => s.yaw -= 0.25 * t,
        Some(Action::Nod) => s.pitch += 0.22 * t,
        None => {}
    }
}

/// Renders the frames of a genuine answer (before noise and encoding).
pub(crate) fn render_answer(
    who: &Identity,
    challenge: &Challenge,
    shot_seed: u64,
) -> Vec<(Canvas, Shot)> {
    let seed = rng::mix(
        rng::mix(who.seed, shot_seed),
        rng::fnv(challenge.nonce.as_bytes()),
    );
    let mut r = rng::rng(seed, "liveness");
    let size = crate::FRAME_SIZE as usize;
    let g = who.face.geometry();
    let mut session = Shot::still(&mut r, size, size, &g);
    session.roll = r.random_range(-3.0f32..3.0).to_radians();
    session.quality = r.random_range(80..=92);
    let steps = plan(&mut r, &challenge.actions);
    let scene = session.background.canvas(size, size);
    steps
        .iter()
        .enumerate()
        .map(|(i, &step)| {
            let mut s = session.clone();
            s.cx += r.random_range(-1.5..1.5);
            s.cy += r.random_range(-1.5..1.5);
            s.roll += r.random_range(-1.0f32..1.0).to_radians();
            s.ied *= 1.0 + r.random_range(-0.015..0.015);
            s.yaw += r.random_range(-0.015..0.015);
            s.pitch += r.random_range(-0.01..0.01);
            let flicker = 1.0 + r.random_range(-0.02..0.02);
            s.gain = s.gain.map(|g| g * flicker);
            s.flash = flash_vector(flash_colour(&challenge.nonce, i));
            s.noise_seed = r.random();
            pose(&mut s, step);
            (face::render_over(scene.clone(), &who.face, &s), s)
        })
        .collect()
}

/// The genuine answer to a challenge: JPEG frames of the person performing the actions in
/// order under the nonce's flash colours.
pub fn liveness_frames(who: &Identity, challenge: &Challenge, shot_seed: u64) -> Vec<Vec<u8>> {
    render_answer(who, challenge, shot_seed)
        .into_iter()
        .map(|(c, s)| face::finish(c, &s))
        .collect()
}
