//! Parametric faces and how a camera sees them.
//!
//! A face is drawn in "face units": one unit is the distance between the eye centres, the
//! origin is midway between the eyes, `v` points down. Identity lives in quantised levels of
//! independent measurements (face width, eye-to-mouth distance, mouth width, lip height, eye
//! width, nose position, brow height, chin length, hairline height, skin tone, hair colour);
//! a shot adds pose, expression, lighting, background, sensor noise and JPEG quality.

use crate::identity::Identity;
use crate::raster::{Canvas, Rgb, modulate, scale};
use crate::rng;
use rand::Rng;

pub(crate) const FACE_W: [f32; 4] = [2.1, 2.3, 2.5, 2.7];
pub(crate) const MOUTH_V: [f32; 5] = [0.96, 1.08, 1.20, 1.32, 1.44];
pub(crate) const MOUTH_W: [f32; 4] = [0.56, 0.70, 0.84, 0.98];
pub(crate) const LIP_H: [f32; 3] = [0.10, 0.17, 0.24];
pub(crate) const EYE_W: [f32; 3] = [0.28, 0.36, 0.44];
pub(crate) const NOSE_F: [f32; 3] = [0.50, 0.60, 0.70];
pub(crate) const BROW_V: [f32; 3] = [0.26, 0.33, 0.40];
pub(crate) const CHIN: [f32; 3] = [0.45, 0.60, 0.75];
pub(crate) const HAIRLINE: [f32; 3] = [0.70, 0.86, 1.02];
pub(crate) const SKIN: [Rgb; 4] = [
    [236.0, 198.0, 172.0],
    [226.0, 180.0, 145.0],
    [212.0, 158.0, 118.0],
    [186.0, 128.0, 92.0],
];
pub(crate) const HAIR: [Rgb; 4] = [
    [32.0, 28.0, 28.0],
    [72.0, 50.0, 38.0],
    [105.0, 38.0, 48.0],
    [158.0, 158.0, 162.0],
];
/// Eye height relative to eye width.
pub(crate) const EYE_ASPECT: f32 = 0.45;
/// Curvature of the hairline (it is lower at the temples).
const HAIR_CURVE: f32 = 0.15;

/// Backgrounds and clothes: colours well away from skin.
const SCENE: [Rgb; 10] = [
    [70.0, 110.0, 170.0],
    [60.0, 140.0, 150.0],
    [90.0, 150.0, 100.0],
    [140.0, 140.0, 145.0],
    [120.0, 100.0, 160.0],
    [40.0, 50.0, 80.0],
    [180.0, 190.0, 200.0],
    [200.0, 205.0, 215.0],
    [100.0, 120.0, 110.0],
    [45.0, 45.0, 50.0],
];

/// The quantised parameters of one face (indices into the level tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FaceParams {
    /// Face width level.
    pub face_width: u8,
    /// Eye-line-to-mouth distance level.
    pub mouth_height: u8,
    /// Mouth width level.
    pub mouth_width: u8,
    /// Lip (closed mouth) height level.
    pub lips: u8,
    /// Eye width level.
    pub eye_width: u8,
    /// Nose position level (fraction of the way from eyes to mouth).
    pub nose: u8,
    /// Brow height level.
    pub brow: u8,
    /// Chin length level.
    pub chin: u8,
    /// Hairline height level.
    pub hairline: u8,
    /// Skin tone level.
    pub skin: u8,
    /// Hair colour level.
    pub hair: u8,
    /// Hair style (drawing only).
    pub hair_style: u8,
    /// Clothes colour (drawing only).
    pub clothes: u8,
}

impl FaceParams {
    /// Parameters for a seed, each level uniform and independent.
    pub fn from_seed(seed: u64) -> Self {
        let mut r = rng::rng(seed, "face-params");
        let mut pick = |n: usize| r.random_range(0..n) as u8;
        FaceParams {
            face_width: pick(FACE_W.len()),
            mouth_height: pick(MOUTH_V.len()),
            mouth_width: pick(MOUTH_W.len()),
            lips: pick(LIP_H.len()),
            eye_width: pick(EYE_W.len()),
            nose: pick(NOSE_F.len()),
            brow: pick(BROW_V.len()),
            chin: pick(CHIN.len()),
            hairline: pick(HAIRLINE.len()),
            skin: pick(SKIN.len()),
            hair: pick(HAIR.len()),
            hair_style: pick(3),
            clothes: pick(SCENE.len()),
        }
    }

    pub(crate) fn geometry(&self) -> Geometry {
        let a = FACE_W[self.face_width as usize] / 2.0;
        let mouth_v = MOUTH_V[self.mouth_height as usize];
        let chin_v = mouth_v + CHIN[self.chin as usize];
        let hairline = -HAIRLINE[self.hairline as usize];
        let top = hairline - 0.35;
        Geometry {
            a,
            b: (chin_v - top) / 2.0,
            v0: (chin_v + top) / 2.0,
            top,
            chin_v,
            hairline,
            mouth_v,
            mouth_w: MOUTH_W[self.mouth_width as usize],
            lip_h: LIP_H[self.lips as usize],
            eye_w: EYE_W[self.eye_width as usize],
            nose_v: NOSE_F[self.nose as usize] * mouth_v,
            brow_v: -BROW_V[self.brow as usize],
            skin: SKIN[self.skin as usize],
            hair: HAIR[self.hair as usize],
        }
    }
}

/// Derived layout in face units.
pub(crate) struct Geometry {
    pub a: f32,
    pub b: f32,
    pub v0: f32,
    pub top: f32,
    pub chin_v: f32,
    pub hairline: f32,
    pub mouth_v: f32,
    pub mouth_w: f32,
    pub lip_h: f32,
    pub eye_w: f32,
    pub nose_v: f32,
    pub brow_v: f32,
    pub skin: Rgb,
    pub hair: Rgb,
}

/// A background: a vertical gradient and a few flat rectangles (shelves, doors, pictures).
#[derive(Clone, Debug)]
pub(crate) struct Background {
    pub top: Rgb,
    pub bottom: Rgb,
    pub rects: Vec<([f32; 4], Rgb)>,
}

impl Background {
    pub(crate) fn random(r: &mut impl Rng, w: f32, h: f32) -> Self {
        let top = SCENE[r.random_range(0..SCENE.len())];
        let k = r.random_range(0.75..1.1);
        let bottom = scale(top, k);
        let n = r.random_range(0..4);
        let rects = (0..n)
            .map(|_| {
                let x0 = r.random_range(-0.2..0.9) * w;
                let y0 = r.random_range(-0.2..0.9) * h;
                let rw = r.random_range(0.1..0.5) * w;
                let rh = r.random_range(0.1..0.6) * h;
                (
                    [x0, y0, x0 + rw, y0 + rh],
                    SCENE[r.random_range(0..SCENE.len())],
                )
            })
            .collect();
        Background { top, bottom, rects }
    }

    /// A canvas showing this background.
    pub(crate) fn canvas(&self, w: usize, h: usize) -> Canvas {
        let mut c = Canvas::new(w, h, [0.0; 3]);
        c.vertical_gradient(self.top, self.bottom);
        for (rc, col) in &self.rects {
            c.fill_rect(rc[0], rc[1], rc[2], rc[3], *col, 1.0);
        }
        c
    }
}

/// Everything about one picture of a face except who it is.
#[derive(Clone, Debug)]
pub(crate) struct Shot {
    pub w: usize,
    pub h: usize,
    /// Eye midpoint in pixels.
    pub cx: f32,
    pub cy: f32,
    /// Eye distance in pixels.
    pub ied: f32,
    /// In-plane rotation (radians).
    pub roll: f32,
    /// Head turn: inner features shift by this many face units (+ is the subject's left,
    /// image right).
    pub yaw: f32,
    /// Head nod: inner features shift down by this many face units.
    pub pitch: f32,
    /// 1 = eyes open, near 0 = closed.
    pub eye_open: f32,
    /// 0 = mouth closed, 1 = wide open.
    pub mouth_open: f32,
    /// Global light gain per channel.
    pub gain: [f32; 3],
    /// Light gradient across the image (x, y).
    pub grad: (f32, f32),
    /// Extra light on the subject from the screen (per channel factor).
    pub flash: [f32; 3],
    pub background: Background,
    pub noise: f32,
    pub quality: u8,
    pub noise_seed: u64,
}

impl Shot {
    /// A random still: a registration photo or a webcam capture.
    pub(crate) fn still(r: &mut impl Rng, w: usize, h: usize, g: &Geometry) -> Self {
        let m = w.min(h) as f32;
        let ied = 0.205 * m * r.random_range(0.93..1.07);
        let (cx, cy) = place(g, w, h, ied);
        let tint = 0.004;
        // auto-exposure: the brightest skin channel lands between 140 and 195
        let top = g.skin[0].max(g.skin[1]).max(g.skin[2]);
        let gain = r.random_range(140.0..195.0) / top;
        Shot {
            w,
            h,
            cx: cx + r.random_range(-0.05..0.05) * m,
            cy: cy + r.random_range(-0.04..0.04) * m,
            ied,
            roll: r.random_range(-5.0f32..5.0).to_radians(),
            yaw: r.random_range(-0.03..0.03),
            pitch: r.random_range(-0.01..0.01),
            eye_open: 1.0,
            mouth_open: 0.0,
            gain: [
                gain * (1.0 + r.random_range(-tint..tint)),
                gain * (1.0 + r.random_range(-tint..tint)),
                gain * (1.0 + r.random_range(-tint..tint)),
            ],
            grad: (r.random_range(-0.15..0.15), r.random_range(-0.12..0.12)),
            flash: [1.0; 3],
            background: Background::random(r, w as f32, h as f32),
            noise: r.random_range(1.5..4.0),
            quality: r.random_range(82..=95),
            noise_seed: r.random(),
        }
    }
}

/// Where to put the eye midpoint so that the whole head is centred.
fn place(g: &Geometry, w: usize, h: usize, ied: f32) -> (f32, f32) {
    let mid = (g.top - 0.25 + g.chin_v) / 2.0;
    (w as f32 / 2.0, h as f32 / 2.0 - mid * ied)
}

/// Draws the face of `p` as seen in `s` (without sensor noise).
pub(crate) fn render(p: &FaceParams, s: &Shot) -> Canvas {
    render_over(s.background.canvas(s.w, s.h), p, s)
}

/// Draws the face of `p` as seen in `s` over `c`, a canvas already showing `s.background` (so
/// that the frames of one sequence can share it).
pub(crate) fn render_over(mut c: Canvas, p: &FaceParams, s: &Shot) -> Canvas {
    draw_person(&mut c, p, s);
    c.light(s.gain, s.grad.0, s.grad.1);
    c
}

/// Adds noise and encodes.
pub(crate) fn finish(c: Canvas, s: &Shot) -> Vec<u8> {
    c.noisy_jpeg(s.noise, s.noise_seed, s.quality)
}

/// Draws the person (clothes, neck, hair, face) over whatever is on the canvas.
pub(crate) fn draw_person(c: &mut Canvas, p: &FaceParams, s: &Shot) {
    let g = p.geometry();
    let (sn, co) = s.roll.sin_cos();
    let k = s.ied;
    let to_px = |u: f32, v: f32| (s.cx + k * (u * co - v * sn), s.cy + k * (u * sn + v * co));
    let fl = |col: Rgb| modulate(col, s.flash);
    let a = g.a;
    // Inner features sit on a head that turns (yaw) about a vertical axis and nods (pitch)
    // about a horizontal one: a point moves along the outline's ellipse, so it compresses
    // toward the edge rather than leaving the face.
    let turn = |u: f32, v: f32| -> (f32, f32) {
        let q = ((v - g.v0) / g.b).clamp(-0.999, 0.999);
        let v2 = g.v0 + g.b * (q.asin() + s.pitch).sin();
        let q2 = ((v2 - g.v0) / g.b).clamp(-0.999, 0.999);
        let half = a * (1.0 - q2 * q2).sqrt();
        let p = (u / half).clamp(-0.999, 0.999);
        (half * (p.asin() + s.yaw).sin(), v2)
    };
    let fp = |u: f32, v: f32| {
        let (u, v) = turn(u, v);
        to_px(u, v)
    };
    // clothes and neck
    let shirt = SCENE[p.clothes as usize % SCENE.len()];
    let (x, y) = to_px(0.0, g.chin_v + 1.55);
    c.fill_ellipse(x, y, 2.3 * k, 1.0 * k, s.roll, fl(shirt));
    let neck = scale(g.skin, 0.42);
    let (x0, y0) = to_px(0.0, g.chin_v - 0.4);
    let (x1, y1) = to_px(0.0, g.chin_v + 0.8);
    c.fill_capsule((x0, y0), (x1, y1), 0.42 * k, fl(neck));

    // hair behind the head
    let hair = fl(g.hair);
    match p.hair_style {
        0 => {
            let (x, y) = to_px(0.0, g.top + 0.5);
            c.fill_ellipse(x, y, (a + 0.12) * k, 0.8 * k, s.roll, hair);
        }
        1 => {
            let (x, y) = to_px(0.0, g.v0 + 0.25);
            c.fill_ellipse(x, y, (a + 0.22) * k, (g.b + 0.4) * k, s.roll, hair);
        }
        _ => {
            let (x, y) = to_px(0.0, g.top + 0.5);
            c.fill_ellipse(x, y, (a + 0.1) * k, 0.8 * k, s.roll, hair);
            let (x, y) = to_px(0.0, g.top - 0.3);
            c.fill_ellipse(x, y, 0.45 * k, 0.35 * k, s.roll, hair);
        }
    }

    // the face, with the fringe painted over its top
    let skin = fl(g.skin);
    let (fx, fy) = to_px(0.0, g.v0);
    let (fa, fb) = (a * k, g.b * k);
    let r = fa.max(fb);
    let bbox = (fx - r, fy - r, fx + r, fy + r);
    c.fill_ellipse(fx, fy, fa, fb, s.roll, skin);
    let (hu, hv) = turn(0.0, g.hairline);
    let (cx, cy) = (s.cx, s.cy);
    c.fill_sdf_rows(
        bbox,
        hair,
        |y| {
            crate::raster::ellipse_row(y - fy, fa + 1.0, fb + 1.0, co, sn)
                .map(|(l, r)| (fx + l, fx + r))
        },
        |_| None,
        |x, y| {
            let dx = x - cx;
            let dy = y - cy;
            let u = (dx * co + dy * sn) / k;
            let v = (-dx * sn + dy * co) / k;
            let line = hv + HAIR_CURVE * (u - hu) * (u - hu);
            let d_hair = (v - line) * k;
            let d_face = crate::raster::ellipse_sdf(x - fx, y - fy, fa, fb, co, sn);
            d_hair.max(d_face)
        },
    );

    // brows
    let brow = fl(if p.hair == 3 {
        [70.0, 70.0, 74.0]
    } else {
        scale(g.hair, 0.6)
    });
    // brows stay well inside a narrow face, so that a turned head does not push them off it
    let q = (g.brow_v - g.v0) / g.b;
    let brow_end = (0.7 * a * (1.0 - q * q).max(0.0).sqrt() - 0.045).clamp(0.5, 0.64);
    for side in [-1.0f32, 1.0] {
        let p0 = fp(side * 0.34, g.brow_v + 0.015);
        let p1 = fp(side * brow_end, g.brow_v - 0.01);
        c.fill_capsule(p0, p1, 0.045 * k, brow);
    }
    // eyes
    let eye = fl([40.0, 32.0, 30.0]);
    for side in [-1.0f32, 1.0] {
        let (x, y) = fp(side * 0.5, 0.0);
        let rx = g.eye_w / 2.0 * k;
        let ry = (g.eye_w * EYE_ASPECT / 2.0 * s.eye_open).max(0.012) * k;
        c.fill_ellipse(x, y, rx, ry, s.roll, eye);
    }
    // nose shadow
    let (nu, nv) = turn(0.0, g.nose_v);
    let (x, y) = to_px(nu + 0.25 * s.yaw.sin(), nv + 0.15 * s.pitch.sin());
    c.fill_ellipse(x, y, 0.15 * k, 0.045 * k, s.roll, fl(scale(g.skin, 0.45)));
    // mouth: lips, and when open, the dark inside
    let lips = fl(modulate(g.skin, [0.72, 0.42, 0.46]));
    let open_h = 0.55;
    let mh = g.lip_h + (open_h - g.lip_h).max(0.0) * s.mouth_open;
    let mw = g.mouth_w * (1.0 - 0.12 * s.mouth_open);
    let mv = g.mouth_v + (mh - g.lip_h) / 2.0;
    let (x, y) = fp(0.0, mv);
    c.fill_ellipse(x, y, mw / 2.0 * k, mh / 2.0 * k, s.roll, lips);
    if s.mouth_open > 0.05 {
        let inner = fl([55.0, 22.0, 28.0]);
        c.fill_ellipse(
            x,
            y,
            mw / 2.0 * 0.8 * k,
            (mh / 2.0 - 0.04).max(0.01) * k,
            s.roll,
            inner,
        );
    }
}

/// A registration face photo: JPEG, 256x256, no metadata.
pub fn face_image(who: &Identity, shot_seed: u64) -> Vec<u8> {
    let mut r = rng::rng(rng::mix(who.seed, shot_seed), "face-image");
    let g = who.face.geometry();
    let s = Shot::still(
        &mut r,
        crate::FACE_SIZE as usize,
        crate::FACE_SIZE as usize,
        &g,
    );
    finish(render(&who.face, &s), &s)
}

/// A webcam still of the person (as in a random capture during study): JPEG, 256x192,
/// under different conditions from the registration photo.
pub fn capture_image(who: &Identity, shot_seed: u64) -> Vec<u8> {
    let mut r = rng::rng(rng::mix(who.seed, shot_seed), "capture-image");
    let g = who.face.geometry();
    let mut s = Shot::still(&mut r, 256, 192, &g);
    s.quality = r.random_range(78..=90);
    s.noise += 1.0;
    finish(render(&who.face, &s), &s)
}
