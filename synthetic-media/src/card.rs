//! The front of a resident ID card (the side with the photo), photographed on a desk.
//!
//! Layout (fractions of the card): photo box x 0.64..0.92, y 0.12..0.72; name, sex, birth
//! date and address on the left; the ID number along the bottom.

use crate::face::{self, Background, Shot};
use crate::font::draw_text;
use crate::identity::Identity;
use crate::raster::Canvas;
use crate::rng;
use chrono::Datelike;
use rand::Rng;

/// Width and height of an ID-card image.
pub(crate) const CARD_IMAGE: (usize, usize) = (560, 400);
/// The photo box on the card, as fractions of the card (x0, y0, x1, y1).
pub(crate) const PHOTO_BOX: (f32, f32, f32, f32) = (0.64, 0.12, 0.92, 0.72);
/// Card aspect (ISO/IEC 7810 ID-1: 85.6 x 54 mm).
pub(crate) const CARD_ASPECT: f32 = 85.6 / 54.0;

/// A JPEG photo of the front of the person's ID card lying on a desk.
pub fn id_card_image(who: &Identity, shot_seed: u64) -> Vec<u8> {
    let mut r = rng::rng(rng::mix(who.seed, shot_seed), "id-card");
    let (w, h) = CARD_IMAGE;
    let desk = [
        [50.0, 55.0, 65.0],
        [35.0, 40.0, 45.0],
        [60.0, 70.0, 90.0],
        [70.0, 75.0, 72.0],
    ][r.random_range(0..4)];
    let mut c = Canvas::new(w, h, desk);
    let cw = 480.0 * r.random_range(0.95..1.03);
    let ch = cw / CARD_ASPECT;
    let x0 = (w as f32 - cw) / 2.0 + r.random_range(-15.0..15.0);
    let y0 = (h as f32 - ch) / 2.0 + r.random_range(-15.0..15.0);

    // card stock: pale with a faint tint gradient and guilloche-like bands
    let top = [232.0, 236.0, 240.0];
    let bottom = [226.0, 232.0, 228.0];
    let rows = ch.round() as usize;
    for j in 0..rows {
        let t = j as f32 / rows as f32;
        let col = crate::raster::lerp(top, bottom, t);
        c.fill_rect(x0, y0 + j as f32, x0 + cw, y0 + j as f32 + 1.0, col, 1.0);
    }
    for i in 0..6 {
        let yy = y0 + ch * (0.2 + 0.12 * i as f32);
        c.fill_capsule(
            (x0 + 0.05 * cw, yy),
            (x0 + 0.6 * cw, yy - 0.05 * ch),
            0.6,
            [215.0, 225.0, 230.0],
        );
    }

    // text
    let label = [90.0, 120.0, 150.0];
    let ink = [25.0, 25.0, 30.0];
    let s = ch / 14.0;
    let lx = x0 + 0.06 * cw;
    let vx = x0 + 0.19 * cw;
    draw_text(&mut c, "姓名", lx, y0 + 0.12 * ch, s * 0.8, label);
    draw_text(&mut c, &who.name, vx, y0 + 0.11 * ch, s * 1.1, ink);
    draw_text(&mut c, "性别", lx, y0 + 0.26 * ch, s * 0.8, label);
    draw_text(
        &mut c,
        if who.male { "男" } else { "女" },
        vx,
        y0 + 0.26 * ch,
        s,
        ink,
    );
    draw_text(
        &mut c,
        "民族",
        x0 + 0.34 * cw,
        y0 + 0.26 * ch,
        s * 0.8,
        label,
    );
    draw_text(&mut c, "汉", x0 + 0.45 * cw, y0 + 0.26 * ch, s, ink);
    draw_text(&mut c, "出生", lx, y0 + 0.40 * ch, s * 0.8, label);
    let d = who.birth_date;
    let birth = format!("{}年{}月{}日", d.year(), d.month(), d.day());
    draw_text(&mut c, &birth, vx, y0 + 0.40 * ch, s, ink);
    draw_text(&mut c, "住址", lx, y0 + 0.54 * ch, s * 0.8, label);
    draw_text(&mut c, "幸福路一百号", vx, y0 + 0.54 * ch, s, ink);
    draw_text(&mut c, "公民身份号码", lx, y0 + 0.84 * ch, s * 0.8, label);
    draw_text(
        &mut c,
        &who.id_number,
        x0 + 0.33 * cw,
        y0 + 0.835 * ch,
        s * 0.95,
        ink,
    );

    // photo: a frontal portrait on a light background
    let (px0, py0, px1, py1) = PHOTO_BOX;
    let pw = ((px1 - px0) * cw).round() as usize;
    let ph = ((py1 - py0) * ch).round() as usize;
    let g = who.face.geometry();
    let mut shot = Shot::still(&mut r, pw, ph, &g);
    shot.ied = 0.24 * pw as f32;
    let mid = (g.top - 0.25 + g.chin_v) / 2.0;
    shot.cx = pw as f32 / 2.0;
    shot.cy = ph as f32 / 2.0 - mid * shot.ied + 0.04 * ph as f32;
    shot.roll = r.random_range(-1.0f32..1.0).to_radians();
    shot.gain = [1.0; 3];
    shot.grad = (0.0, 0.0);
    shot.background = Background {
        top: [238.0, 240.0, 244.0],
        bottom: [225.0, 230.0, 238.0],
        rects: Vec::new(),
    };
    let photo = face::render(&who.face, &shot);
    let ox = (x0 + px0 * cw).round();
    let oy = (y0 + py0 * ch).round();
    for j in 0..ph {
        for i in 0..pw {
            let (x, y) = (ox as usize + i, oy as usize + j);
            if x < w && y < h {
                let src = (j * pw + i) * 3;
                let dst = (y * w + x) * 3;
                c.px[dst..dst + 3].copy_from_slice(&photo.px[src..src + 3]);
            }
        }
    }

    // the phone camera that took the picture
    let gain = r.random_range(0.85..1.1);
    c.light(
        [gain; 3],
        r.random_range(-0.15..0.15),
        r.random_range(-0.1..0.1),
    );
    c.noisy_jpeg(
        r.random_range(1.5..3.5),
        r.random(),
        r.random_range(85..=95),
    )
}
