//! Presentation attacks (ISO/IEC 30107 "attack species"), generated from the same seeds as
//! genuine presentations.
//!
//! - `print`: a printed photo of the victim held up to the camera: nearly identical frames,
//!   paper texture, ink contrast, no actions (the paper does reflect the screen flash).
//! - `screen`: the victim's face puppeted to perform this very challenge, flash included,
//!   shown on a phone screen held to the camera: moiré between the screen's pixel grid and the
//!   camera's, refresh banding.
//! - `replay`: a genuine recording of the victim made for another challenge, injected as a
//!   virtual camera would send it.
//! - `other-person`: a genuine live answer to this challenge by somebody else.

use crate::face::{self, Background};
use crate::identity::{Identity, identity};
use crate::liveness::{self, Challenge, flash_colour, flash_vector};
use crate::raster::{Canvas, lerp};
use crate::rng;
use rand::Rng;

/// A kind of presentation attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Species {
    /// A printed photo.
    Print,
    /// A face replayed on a screen.
    Screen,
    /// A recording made for a different challenge, sent through a virtual camera.
    Replay,
    /// A live person who is not the registered learner.
    OtherPerson,
}

impl Species {
    /// All species, in a fixed order.
    pub const ALL: [Species; 4] = [
        Species::Print,
        Species::Screen,
        Species::Replay,
        Species::OtherPerson,
    ];

    /// The kebab-case name (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Species::Print => "print",
            Species::Screen => "screen",
            Species::Replay => "replay",
            Species::OtherPerson => "other-person",
        }
    }
}

/// The person who sits in for `victim` in an other-person attack with this seed.
pub fn impostor(victim: &Identity, seed: u64) -> Identity {
    let mut s = rng::mix(rng::mix(victim.seed, seed), 0x0_7e_45_0e);
    if s == victim.seed {
        s = s.wrapping_add(1);
    }
    identity(s)
}

/// The frames an attacker of the given species sends in answer to `challenge`.
pub fn attack_frames(
    species: Species,
    victim: &Identity,
    challenge: &Challenge,
    seed: u64,
) -> Vec<Vec<u8>> {
    match species {
        Species::Print => print_frames(victim, challenge, seed),
        Species::Screen => screen_frames(victim, challenge, seed),
        Species::Replay => {
            let mut r = rng::rng(rng::mix(victim.seed, seed), "replay-challenge");
            let mut other = liveness::new_challenge(&mut r);
            if other.nonce == challenge.nonce {
                other.nonce.push('0');
            }
            liveness::liveness_frames(victim, &other, seed)
        }
        Species::OtherPerson => liveness::liveness_frames(&impostor(victim, seed), challenge, seed),
    }
}

fn print_frames(victim: &Identity, challenge: &Challenge, seed: u64) -> Vec<Vec<u8>> {
    let mut r = rng::rng(rng::mix(victim.seed, seed), "print");
    let g = victim.face.geometry();
    // The photo that was printed: a still like a registration photo.
    let mut photo_shot = face::Shot::still(&mut r, 256, 256, &g);
    photo_shot.grad = (0.0, 0.0);
    let photo = face::render(&victim.face, &photo_shot);
    let size = crate::FRAME_SIZE as usize;
    let room = Background::random(&mut r, size as f32, size as f32);
    let bg = room.canvas(size, size);
    let scale = r.random_range(0.58..0.66); // frame pixels per photo pixel
    let angle = r.random_range(-4.0f32..4.0).to_radians();
    let (cx, cy) = (
        size as f32 / 2.0 + r.random_range(-4.0..4.0),
        size as f32 / 2.0 + r.random_range(-4.0..4.0),
    );
    let border = 12.0; // white paper margin, photo pixels
    let tex_seed: u64 = r.random();
    let gain = r.random_range(0.85..1.1);
    let quality = r.random_range(80..=92);
    // The printed sheet in paper coordinates (photo pixels, the margin included): each frame
    // only looks at it from a slightly different angle.
    let side = (256.0 + 2.0 * border) as usize;
    let mut sheet = Canvas::new(side, side, [0.0; 3]);
    for (j, row) in sheet.px.chunks_exact_mut(side * 3).enumerate() {
        let v = j as f32 + 0.5 - border;
        for (i, out) in row.chunks_exact_mut(3).enumerate() {
            let u = i as f32 + 0.5 - border;
            let ink = if (0.0..256.0).contains(&u) && (0.0..256.0).contains(&v) {
                photo.sample(u, v)
            } else {
                [235.0, 235.0, 230.0]
            };
            // ink on paper: compressed contrast, less saturation, fibre texture
            let m = (ink[0] + ink[1] + ink[2]) / 3.0;
            let sat = lerp([m; 3], ink, 0.85);
            let fib = paper_fibre(tex_seed, u, v);
            for ch in 0..3 {
                out[ch] = (22.0 + 0.86 * sat[ch]) * fib;
            }
        }
    }
    let n = 1 + 3 * challenge.actions.len();
    (0..n)
        .map(|i| {
            let a = angle + r.random_range(-0.6f32..0.6).to_radians();
            let (sn, co) = a.sin_cos();
            let tx = cx + r.random_range(-1.5..1.5);
            let ty = cy + r.random_range(-1.5..1.5);
            let flash = flash_vector(flash_colour(&challenge.nonce, i));
            let mut c = bg.clone();
            let held = Held {
                at: (tx, ty),
                sin_cos: (sn, co),
                scale,
                centre: 128.0 + border,
            };
            let (du, dv) = held.step();
            let far = 256.0 + 2.0 * border;
            for (y, row) in c.px.chunks_exact_mut(size * 3).enumerate() {
                let (u0, v0) = held.row_start(y as f32 + 0.5);
                for (x, out) in row.chunks_exact_mut(3).enumerate() {
                    let (u, v) = (u0 + x as f32 * du, v0 + x as f32 * dv);
                    if !((0.0..=far).contains(&u) && (0.0..=far).contains(&v)) {
                        continue;
                    }
                    let paper = sheet.sample(u, v);
                    for ch in 0..3 {
                        out[ch] = paper[ch] * flash[ch];
                    }
                }
            }
            c.light([gain * (1.0 + r.random_range(-0.01..0.01)); 3], 0.0, 0.0);
            c.noisy_jpeg(r.random_range(1.5..3.0), r.random(), quality)
        })
        .collect()
}

/// A flat thing (a printed sheet, a phone screen) held up to the camera: its centre at frame
/// point `at`, turned by the angle of `sin_cos`, `scale` frame pixels per pixel of its own.
/// Its coordinates are affine along a frame row, so each row needs only a start and a step.
struct Held {
    at: (f32, f32),
    sin_cos: (f32, f32),
    scale: f32,
    /// The held thing's own coordinates of its centre.
    centre: f32,
}

impl Held {
    /// The change of the held thing's coordinates from one pixel of a frame row to the next.
    fn step(&self) -> (f32, f32) {
        let (sn, co) = self.sin_cos;
        (co / self.scale, -sn / self.scale)
    }

    /// The held thing's coordinates at the first pixel centre of the frame row at height `fy`.
    fn row_start(&self, fy: f32) -> (f32, f32) {
        let (sn, co) = self.sin_cos;
        let (dx, dy) = (0.5 - self.at.0, fy - self.at.1);
        (
            (dx * co + dy * sn) / self.scale + self.centre,
            (-dx * sn + dy * co) / self.scale + self.centre,
        )
    }
}

/// A fixed paper grain: value noise on a 2-pixel lattice of the paper.
fn paper_fibre(seed: u64, u: f32, v: f32) -> f32 {
    let iu = (u / 2.0).floor() as i64;
    let iv = (v / 2.0).floor() as i64;
    let h = rng::splitmix(
        seed ^ (iu as u64).wrapping_mul(0x9E37_79B9) ^ (iv as u64).wrapping_mul(0x85EB_CA6B),
    );
    1.0 + ((h & 0xFFFF) as f32 / 65535.0 - 0.5) * 0.08
}

fn screen_frames(victim: &Identity, challenge: &Challenge, seed: u64) -> Vec<Vec<u8>> {
    let content = liveness::render_answer(victim, challenge, seed);
    let mut r = rng::rng(rng::mix(victim.seed, seed), "screen");
    let size = crate::FRAME_SIZE as usize;
    let room = Background::random(&mut r, size as f32, size as f32);
    let bg = room.canvas(size, size);
    let scale = r.random_range(0.9..0.97);
    let angle = r.random_range(-3.0f32..3.0).to_radians();
    let period = r.random_range(4.0..7.0);
    let theta = r.random_range(0.0..std::f32::consts::PI);
    let amp = r.random_range(0.10..0.16);
    let (kx, ky) = (theta.cos() / period, theta.sin() / period);
    let band_period = r.random_range(25.0..45.0);
    let gain = r.random_range(0.9..1.1);
    let bezel = 8.0;
    let quality = r.random_range(80..=92);
    let tau = std::f32::consts::TAU;
    content
        .iter()
        .map(|(src, _)| {
            let a = angle + r.random_range(-0.5f32..0.5).to_radians();
            let (sn, co) = a.sin_cos();
            let half = size as f32 / 2.0;
            let tx = half + r.random_range(-1.5..1.5);
            let ty = half + r.random_range(-1.5..1.5);
            let phase = r.random_range(0.0..tau);
            let band_phase = r.random_range(0.0..tau);
            // The moiré sin(tau (x kx + y ky) + phase) split by the angle-sum identity into a
            // column part and a row part, so that no pixel needs a sine of its own.
            let column: Vec<(f32, f32)> = (0..size)
                .map(|x| (tau * (x as f32 + 0.5) * kx).sin_cos())
                .collect();
            let mut c = bg.clone();
            let lim = size as f32;
            let held = Held {
                at: (tx, ty),
                sin_cos: (sn, co),
                scale,
                centre: half,
            };
            let (du, dv) = held.step();
            for (y, row) in c.px.chunks_exact_mut(size * 3).enumerate() {
                let fy = y as f32 + 0.5;
                let (row_sin, row_cos) = (tau * fy * ky + phase).sin_cos();
                let band = 1.0 + 0.02 * (tau * fy / band_period + band_phase).sin();
                let (u0, v0) = held.row_start(fy);
                for (x, (out, &(col_sin, col_cos))) in
                    row.chunks_exact_mut(3).zip(&column).enumerate()
                {
                    let (u, v) = (u0 + x as f32 * du, v0 + x as f32 * dv);
                    if !((-bezel..=lim + bezel).contains(&u) && (-bezel..=lim + bezel).contains(&v))
                    {
                        continue;
                    }
                    if !((0.0..lim).contains(&u) && (0.0..lim).contains(&v)) {
                        out.copy_from_slice(&[18.0, 18.0, 20.0]);
                        continue;
                    }
                    let p = src.sample(u, v);
                    let moire = 1.0 + amp * (col_sin * row_cos + col_cos * row_sin);
                    let k = moire * band;
                    out[0] = (10.0 + 0.92 * p[0] * 0.96) * k;
                    out[1] = (10.0 + 0.92 * p[1]) * k;
                    out[2] = (12.0 + 0.92 * p[2] * 1.04) * k;
                }
            }
            c.light([gain; 3], 0.0, 0.0);
            c.noisy_jpeg(r.random_range(1.5..3.0), r.random(), quality)
        })
        .collect()
}
