//! The reference verifier: face templates, face match and liveness decisions, from pixels only.
//!
//! Finding a face: skin is segmented by chromaticity and relative brightness; the largest skin
//! region is the face. Dark regions enclosed by it are the brows, eyes, nose shadow and mouth,
//! told apart by their layout. A template is a vector of pose- and light-normalised
//! measurements (in units of the eye distance, and colour ratios). A liveness answer is judged
//! by (1) the actions seen, frame by frame, against the challenge, (2) the flash colours
//! reflected by the face against those the nonce asks for, (3) moiré from a screen, and (4) a
//! face match of its neutral frames with the registered template.

use crate::error::MediaError;
use crate::liveness::{Action, Challenge, flash_colour};
use crate::raster::decode;
use image::RgbImage;

/// Number of measurements in a template.
const NF: usize = 13;
/// Spread of one level of each measurement (the match distance is in these units).
const SCALE: [f32; NF] = [
    0.2, 0.12, 0.14, 0.07, 0.08, 0.1, 0.07, 0.15, 0.18, 0.021, 0.015, 0.15, 0.15,
];
/// Scores at or above this mean "same person".
pub const MATCH_THRESHOLD: f32 = 0.72;

/// A face template: pose- and light-normalised measurements of one face.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceTemplate {
    features: [f32; NF],
}

const MAGIC: &[u8; 4] = b"DXF1";

impl FaceTemplate {
    /// Serialises to bytes (for storage in a database).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 + 4 * NF);
        v.extend_from_slice(MAGIC);
        for f in self.features {
            v.extend_from_slice(&f.to_le_bytes());
        }
        v
    }

    /// Reads bytes written by [`FaceTemplate::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, MediaError> {
        if b.len() != 4 + 4 * NF || &b[..4] != MAGIC {
            return Err(MediaError::BadTemplate(format!(
                "expected {} bytes starting DXF1",
                4 + 4 * NF
            )));
        }
        let mut features = [0.0; NF];
        for (i, f) in features.iter_mut().enumerate() {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[4 + 4 * i..8 + 4 * i]);
            *f = f32::from_le_bytes(x);
            if !f.is_finite() {
                return Err(MediaError::BadTemplate("non-finite value".into()));
            }
        }
        Ok(FaceTemplate { features })
    }

    /// The raw measurements.
    pub fn features(&self) -> &[f32] {
        &self.features
    }
}

/// Similarity of two templates in (0, 1]; 1 is identical.
pub fn match_score(a: &FaceTemplate, b: &FaceTemplate) -> f32 {
    let mut d2 = 0.0;
    for i in 0..NF {
        let d = (a.features[i] - b.features[i]) / SCALE[i];
        d2 += d * d;
    }
    (-d2 / 2.0).exp()
}

/// Whether two templates are of the same person.
pub fn faces_match(a: &FaceTemplate, b: &FaceTemplate) -> bool {
    match_score(a, b) >= MATCH_THRESHOLD
}

/// The template of the face in a photo, capture or liveness frame (JPEG or PNG).
pub fn face_template(jpeg: &[u8]) -> Result<FaceTemplate, MediaError> {
    let img = decode(jpeg)?;
    let f = analyse(&img)?;
    f.template()
        .ok_or_else(|| MediaError::NoFace("eyes or nose not found".into()))
}

/// The template of the portrait on an ID-card photo: the card is found as the large bright
/// rectangle, and the portrait is cut from where the card layout puts it.
pub fn face_template_from_id_card(jpeg: &[u8]) -> Result<FaceTemplate, MediaError> {
    let img = decode(jpeg)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 200 || h < 120 {
        return Err(MediaError::TooSmall {
            width: img.width(),
            height: img.height(),
        });
    }
    // bright, low-saturation pixels: card stock
    let raw = img.as_raw();
    let mut cols = vec![0u32; w];
    let mut rows = vec![0u32; h];
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * 3;
            let (r, g, b) = (raw[i] as i32, raw[i + 1] as i32, raw[i + 2] as i32);
            let mx = r.max(g).max(b);
            let mn = r.min(g).min(b);
            if mx > 165 && mx - mn < 40 {
                cols[x] += 1;
                rows[y] += 1;
            }
        }
    }
    let span = |v: &[u32]| -> Option<(usize, usize)> {
        let max = *v.iter().max()?;
        let lim = max * 2 / 5;
        let a = v.iter().position(|&c| c > lim)?;
        let b = v.iter().rposition(|&c| c > lim)?;
        (b > a).then_some((a, b + 1))
    };
    let (x0, x1) = span(&cols).ok_or_else(|| MediaError::NoCard("no bright card".into()))?;
    let (y0, y1) = span(&rows).ok_or_else(|| MediaError::NoCard("no bright card".into()))?;
    let (cw, ch) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let aspect = cw / ch;
    if !(1.3..1.9).contains(&aspect) || cw < 0.4 * w as f32 {
        return Err(MediaError::NoCard(format!(
            "bright region {cw}x{ch} is not card-shaped"
        )));
    }
    let (px0, py0, px1, py1) = crate::card::PHOTO_BOX;
    let m = 0.015;
    let cx0 = (x0 as f32 + (px0 - m) * cw).max(0.0) as u32;
    let cy0 = (y0 as f32 + (py0 - m) * ch).max(0.0) as u32;
    let cx1 = ((x0 as f32 + (px1 + m) * cw) as u32).min(w as u32);
    let cy1 = ((y0 as f32 + (py1 + m) * ch) as u32).min(h as u32);
    if cx1 <= cx0 + 40 || cy1 <= cy0 + 40 {
        return Err(MediaError::NoCard("photo box out of the image".into()));
    }
    let crop = image::imageops::crop_imm(&img, cx0, cy0, cx1 - cx0, cy1 - cy0).to_image();
    let f = analyse(&crop)?;
    f.template()
        .ok_or_else(|| MediaError::NoFace("eyes or nose not found on the card".into()))
}

/// Statistics of one connected region.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Blob {
    pub n: f32,
    sx: f32,
    sy: f32,
    sxx: f32,
    syy: f32,
    sxy: f32,
    pub x0: i32,
    pub x1: i32,
}

impl Blob {
    fn add(&mut self, x: f32, y: f32) {
        if self.n == 0.0 {
            self.x0 = x as i32;
            self.x1 = x as i32;
        }
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        self.sxx += x * x;
        self.syy += y * y;
        self.sxy += x * y;
        self.x0 = self.x0.min(x as i32);
        self.x1 = self.x1.max(x as i32);
    }
    pub fn c(&self) -> (f32, f32) {
        (self.sx / self.n, self.sy / self.n)
    }
    /// Variance along a unit direction.
    fn var_along(&self, d: (f32, f32)) -> f32 {
        let (cx, cy) = self.c();
        let vxx = self.sxx / self.n - cx * cx + 1.0 / 12.0;
        let vyy = self.syy / self.n - cy * cy + 1.0 / 12.0;
        let vxy = self.sxy / self.n - cx * cy;
        (d.0 * d.0 * vxx + 2.0 * d.0 * d.1 * vxy + d.1 * d.1 * vyy).max(0.0)
    }
    fn width(&self) -> i32 {
        self.x1 - self.x0 + 1
    }
}

/// What one image shows: the face region and its landmarks.
pub(crate) struct Face {
    w: usize,
    /// Pixel indices of the face (skin) region.
    pixels: Vec<u32>,
    /// Per row: first and last face pixel (or -1).
    spans: Vec<(i32, i32)>,
    /// Mean colour of the face region.
    pub skin: [f32; 3],
    pub brows: [Blob; 2],
    pub eyes: [Option<Blob>; 2],
    pub nose: Option<Blob>,
    pub mouth: Blob,
    /// Widest span.
    pub width: f32,
    /// Lowest face row.
    pub chin_y: f32,
    rgb: Vec<u8>,
}

/// Finds the face and its landmarks.
pub(crate) fn analyse(img: &RgbImage) -> Result<Face, MediaError> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 64 || h < 64 {
        return Err(MediaError::TooSmall {
            width: img.width(),
            height: img.height(),
        });
    }
    let raw = img.as_raw();
    let n = w * h;
    let mut lum = vec![0u8; n];
    let mut cand = vec![false; n];
    let mut hist = [0u32; 256];
    let mut ncand = 0u32;
    for i in 0..n {
        let r = raw[3 * i] as i32;
        let g = raw[3 * i + 1] as i32;
        let b = raw[3 * i + 2] as i32;
        let l = (r * 77 + g * 150 + b * 29) >> 8;
        lum[i] = l as u8;
        let s = r + g + b;
        if s > 90
            && r > g
            && 100 * r >= 36 * s
            && 100 * r <= 50 * s
            && 100 * b <= 315 * s / 10
            && 100 * g >= 26 * s
            && 100 * g <= 40 * s
        {
            cand[i] = true;
            hist[l as usize] += 1;
            ncand += 1;
        }
    }
    if ncand < (n / 60) as u32 {
        return Err(MediaError::NoFace("no skin".into()));
    }
    // 75th percentile of candidate brightness
    let mut acc = 0;
    let mut l75 = 255;
    for (l, &c) in hist.iter().enumerate() {
        acc += c;
        if acc * 4 >= ncand * 3 {
            l75 = l as i32;
            break;
        }
    }
    let skin_min = (l75 * 60 / 100) as u8;
    let dark_max = (l75 * 72 / 100) as u8;
    for i in 0..n {
        if cand[i] && lum[i] < skin_min {
            cand[i] = false;
        }
    }

    // largest 4-connected skin region
    let mut label = vec![0u32; n];
    let mut best: Vec<u32> = Vec::new();
    let mut stack: Vec<u32> = Vec::new();
    let mut next = 1;
    for start in 0..n {
        if !cand[start] || label[start] != 0 {
            continue;
        }
        let mut region = Vec::new();
        label[start] = next;
        stack.push(start as u32);
        while let Some(p) = stack.pop() {
            region.push(p);
            let p = p as usize;
            let (x, y) = (p % w, p / w);
            let mut visit = |q: usize| {
                if cand[q] && label[q] == 0 {
                    label[q] = next;
                    stack.push(q as u32);
                }
            };
            if x > 0 {
                visit(p - 1);
            }
            if x + 1 < w {
                visit(p + 1);
            }
            if y > 0 {
                visit(p - w);
            }
            if y + 1 < h {
                visit(p + w);
            }
        }
        if region.len() > best.len() {
            best = region;
        }
        next += 1;
    }
    if best.len() < n / 40 {
        return Err(MediaError::NoFace(format!(
            "largest skin region has {} pixels",
            best.len()
        )));
    }
    let face_label = label[best[0] as usize];
    let mut spans = vec![(-1i32, -1i32); h];
    let mut sum = [0.0f64; 3];
    for &p in &best {
        let p = p as usize;
        let (x, y) = ((p % w) as i32, p / w);
        let s = &mut spans[y];
        if s.0 < 0 || x < s.0 {
            s.0 = x;
        }
        if x > s.1 {
            s.1 = x;
        }
        for c in 0..3 {
            sum[c] += f64::from(raw[3 * p + c]);
        }
    }
    let area = best.len() as f32;
    let skin = sum.map(|s| (s / best.len() as f64) as f32);
    let mut width = 0;
    let mut chin_y = 0;
    for (y, s) in spans.iter().enumerate() {
        if s.0 >= 0 {
            width = width.max(s.1 - s.0 + 1);
            chin_y = y;
        }
    }
    // dark regions enclosed by the face rows
    let mut dark = vec![false; n];
    for (y, s) in spans.iter().enumerate() {
        if s.0 < 0 {
            continue;
        }
        for x in s.0..=s.1 {
            let i = y * w + x as usize;
            if label[i] != face_label && lum[i] <= dark_max {
                dark[i] = true;
            }
        }
    }
    let mut blobs: Vec<Blob> = Vec::new();
    let min_area = (area * 0.0008).max(3.0);
    for start in 0..n {
        if !dark[start] {
            continue;
        }
        let mut b = Blob::default();
        dark[start] = false;
        stack.push(start as u32);
        while let Some(p) = stack.pop() {
            let p = p as usize;
            let (x, y) = (p % w, p / w);
            b.add(x as f32, y as f32);
            for (dx, dy) in [
                (-1i32, -1i32),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let qx = x as i32 + dx;
                let qy = y as i32 + dy;
                if qx < 0 || qy < 0 || qx >= w as i32 || qy >= h as i32 {
                    continue;
                }
                let q = qy as usize * w + qx as usize;
                if dark[q] {
                    dark[q] = false;
                    stack.push(q as u32);
                }
            }
        }
        if b.n >= min_area {
            blobs.push(b);
        }
    }
    let wf = width as f32;
    let face_cy = best.iter().map(|&p| (p as usize / w) as f32).sum::<f32>() / area;
    // mouth: the lowest sizeable wide blob in the lower face, clear of the chin's edge
    let mouth = blobs
        .iter()
        .filter(|b| {
            b.c().1 > face_cy
                && b.c().1 < chin_y as f32 - 0.05 * wf
                && b.width() as f32 >= 0.15 * wf
                && b.n >= 0.004 * area
        })
        .max_by(|a, b| a.c().1.total_cmp(&b.c().1))
        .copied()
        .ok_or_else(|| MediaError::NoFace("no mouth".into()))?;
    // brows: the two topmost elongated blobs
    let mut upper: Vec<Blob> = blobs
        .iter()
        .filter(|b| {
            b.c().1 < mouth.c().1 - 0.2 * wf && b.n >= area * 0.002 && b.width() as f32 >= 0.07 * wf
        })
        .copied()
        .collect();
    upper.sort_by(|a, b| a.c().1.total_cmp(&b.c().1));
    // the topmost pair of similar blobs side by side
    let mut pair = None;
    'outer: for i in 0..upper.len() {
        for j in i + 1..upper.len() {
            let (a, b) = (upper[i], upper[j]);
            let (dx, dy) = (b.c().0 - a.c().0, b.c().1 - a.c().1);
            let dist = (dx * dx + dy * dy).sqrt();
            let ratio = a.n / b.n;
            if dy.abs() < 0.25 * dist
                && dist > 0.25 * wf
                && dist < 0.7 * wf
                && (0.5..2.0).contains(&ratio)
            {
                pair = Some(if dx > 0.0 { (a, b) } else { (b, a) });
                break 'outer;
            }
        }
    }
    let (bl, br) = pair.ok_or_else(|| MediaError::NoFace("brows not a pair".into()))?;
    let (lx, ly) = bl.c();
    let (rx, ry) = br.c();
    let s = ((rx - lx).powi(2) + (ry - ly).powi(2)).sqrt();
    let ax = ((rx - lx) / s, (ry - ly) / s);
    let ay = (-ax.1, ax.0);
    let is_same = |a: &Blob, b: &Blob| a.sx == b.sx && a.sy == b.sy && a.n == b.n;
    let mut eyes = [None, None];
    for (k, brow) in [bl, br].iter().enumerate() {
        let (bx, by) = brow.c();
        eyes[k] = blobs
            .iter()
            .filter(|b| !is_same(b, &bl) && !is_same(b, &br) && !is_same(b, &mouth))
            .filter(|b| {
                let (x, y) = b.c();
                let du = (x - bx) * ax.0 + (y - by) * ax.1;
                let dv = (x - bx) * ay.0 + (y - by) * ay.1;
                du.abs() < 0.3 * s && dv > 0.08 * s && dv < 0.62 * s
            })
            .max_by(|a, b| a.n.total_cmp(&b.n))
            .copied();
    }
    let nose = match eyes {
        [Some(el), Some(er)] => {
            let ey = (el.c().1 + er.c().1) / 2.0;
            let my = mouth.c().1;
            blobs
                .iter()
                .filter(|b| {
                    let y = b.c().1;
                    !is_same(b, &mouth) && y > ey + 0.25 * s && y < my - 0.1 * s
                })
                .max_by(|a, b| a.n.total_cmp(&b.n))
                .copied()
        }
        _ => None,
    };
    Ok(Face {
        w,
        pixels: best,
        spans,
        skin,
        brows: [bl, br],
        eyes,
        nose,
        mouth,
        width: wf,
        chin_y: chin_y as f32,
        rgb: raw.clone(),
    })
}

impl Face {
    /// Identity measurements; `None` when the eyes or nose are not visible.
    pub(crate) fn template(&self) -> Option<FaceTemplate> {
        let (el, er) = (self.eyes[0]?, self.eyes[1]?);
        let nose = self.nose?;
        let (lx, ly) = el.c();
        let (rx, ry) = er.c();
        let ied = ((rx - lx).powi(2) + (ry - ly).powi(2)).sqrt();
        if ied < 8.0 {
            return None;
        }
        let ex = ((rx - lx) / ied, (ry - ly) / ied);
        let ey = (-ex.1, ex.0);
        let (mx, my) = ((lx + rx) / 2.0, (ly + ry) / 2.0);
        let uv = |x: f32, y: f32| {
            let (dx, dy) = (x - mx, y - my);
            ((dx * ex.0 + dy * ex.1) / ied, (dx * ey.0 + dy * ey.1) / ied)
        };
        // outline extent across, chin and hairline
        let (mut umin, mut umax, mut vmax) = (f32::MAX, f32::MIN, f32::MIN);
        // rows narrower than a tenth of the face are slivers (an edge of the neck, say)
        let min_w = (0.1 * self.width) as i32;
        for (y, s) in self.spans.iter().enumerate() {
            if s.0 < 0 || s.1 - s.0 < min_w {
                continue;
            }
            for x in [s.0 as f32, s.1 as f32] {
                let (u, v) = uv(x, y as f32);
                umin = umin.min(u);
                umax = umax.max(u);
                vmax = vmax.max(v);
            }
        }
        let mut vmin = f32::MAX;
        for &p in &self.pixels {
            let p = p as usize;
            let (u, v) = uv((p % self.w) as f32, (p / self.w) as f32);
            if u.abs() < 0.25 && v < vmin {
                vmin = v;
            }
        }
        let (mcx, mcy) = self.mouth.c();
        let (_, mouth_v) = uv(mcx, mcy);

        let (ncx, ncy) = nose.c();
        let (_, nose_v) = uv(ncx, ncy);
        let brow_v = (uv(self.brows[0].c().0, self.brows[0].c().1).1
            + uv(self.brows[1].c().0, self.brows[1].c().1).1)
            / 2.0;
        let mouth_w = 4.0 * self.mouth.var_along(ex).sqrt() / ied;
        let lip_h = 4.0 * self.mouth.var_along(ey).sqrt() / ied;
        let eye_w = 2.0 * (el.var_along(ex).sqrt() + er.var_along(ex).sqrt()) / ied;
        // hair just above the hairline, in the middle
        let mut hair = [0.0f32; 3];
        let mut nh = 0.0;
        let h = self.rgb.len() / 3 / self.w;
        let v0 = vmin - 0.3;
        let v1 = vmin - 0.12;
        let r = 0.4 * ied;
        let (cx, cy) = (
            mx + (v0 + v1) / 2.0 * ied * ey.0,
            my + (v0 + v1) / 2.0 * ied * ey.1,
        );
        let y_lo = (cy - r).max(0.0) as usize;
        let y_hi = ((cy + r) as usize).min(h.saturating_sub(1));
        let x_lo = (cx - r).max(0.0) as usize;
        let x_hi = ((cx + r) as usize).min(self.w - 1);
        for y in y_lo..=y_hi {
            for x in x_lo..=x_hi {
                let (u, v) = uv(x as f32, y as f32);
                if u.abs() < 0.3 && v > v0 && v < v1 {
                    let i = (y * self.w + x) * 3;
                    for c in 0..3 {
                        hair[c] += f32::from(self.rgb[i + c]);
                    }
                    nh += 1.0;
                }
            }
        }
        if nh < 4.0 {
            return None;
        }
        let s = self.skin[0] + self.skin[1] + self.skin[2];
        let features = [
            umax - umin,
            mouth_v,
            mouth_w,
            lip_h,
            eye_w,
            nose_v / mouth_v.max(0.1),
            -brow_v,
            vmax - mouth_v,
            -vmin,
            self.skin[0] / s,
            self.skin[2] / s,
            hair[0] / nh / self.skin[0].max(1.0),
            hair[1] / nh / self.skin[1].max(1.0),
        ];
        features
            .iter()
            .all(|f| f.is_finite())
            .then_some(FaceTemplate { features })
    }

    /// Action measurements: (eye area, mouth opening, turn, nod), each normalised.
    pub(crate) fn motion(&self) -> [f32; 4] {
        let (lx, ly) = self.brows[0].c();
        let (rx, ry) = self.brows[1].c();
        let s = ((rx - lx).powi(2) + (ry - ly).powi(2)).sqrt().max(1.0);
        let eye_area = self
            .eyes
            .iter()
            .map(|e| e.map_or(0.0, |b| b.n))
            .sum::<f32>()
            / (s * s);
        let up = ((ry - ly) / s, -(rx - lx) / s);
        let mouth_h = 4.0 * self.mouth.var_along((-up.0, -up.1)).sqrt() / s;
        let by = (ly + ry) / 2.0;
        let my = self.mouth.c().1;
        let mut mid = 0.0;
        let mut k = 0.0;
        for y in (by.max(0.0) as usize)..=(my.max(0.0) as usize).min(self.spans.len() - 1) {
            let sp = self.spans[y];
            if sp.0 >= 0 {
                mid += (sp.0 + sp.1) as f32 / 2.0;
                k += 1.0;
            }
        }
        let mid = if k > 0.0 { mid / k } else { 0.0 };
        let feat_x = (lx + rx + self.mouth.c().0) / 3.0;
        let turn = (feat_x - mid) / self.width;
        // the outline's widest band (around the head's centre) is the reference for a nod
        let (mut sum, mut k) = (0.0f32, 0.0f32);
        for (y, sp) in self.spans.iter().enumerate() {
            if sp.0 >= 0 && (sp.1 - sp.0 + 1) as f32 >= 0.97 * self.width {
                sum += y as f32;
                k += 1.0;
            }
        }
        let mid_y = if k > 0.0 { sum / k } else { self.chin_y };
        let nod = (mid_y - by) / self.width;
        [eye_area, mouth_h, turn, nod]
    }
}

/// The outcome of a liveness check.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LivenessDecision {
    /// A live person answered this very challenge.
    pub live: bool,
    /// The person is the registered one.
    pub same_person: bool,
    /// `live && same_person`.
    pub accepted: bool,
    /// A short human-readable explanation.
    pub reason: String,
    /// Face match score of the answer's neutral frames against the registered template.
    pub match_score: f32,
    /// Actions seen, in order.
    pub actions_seen: Vec<Action>,
    /// Frames whose reflected flash colour was what the nonce asks for.
    pub flash_matches: usize,
    /// Number of frames.
    pub frames: usize,
    /// Periodic-pattern (screen moiré) score; high means a screen.
    pub moire: f32,
}

/// Moiré scores at or above this mean a screen.
const MOIRE_LIMIT: f32 = 7.0;

/// Judges a liveness answer against the challenge and the registered face.
pub fn check_liveness(
    frames: &[Vec<u8>],
    challenge: &Challenge,
    registered: &FaceTemplate,
) -> Result<LivenessDecision, MediaError> {
    if frames.is_empty() {
        return Err(MediaError::TooFewFrames(0));
    }
    let mut imgs = Vec::with_capacity(frames.len());
    for f in frames {
        imgs.push(decode(f)?);
    }
    let n = imgs.len();
    let mut faces = Vec::with_capacity(n);
    for img in &imgs {
        faces.push(analyse(img).ok());
    }
    let moire = moire_score(&imgs);
    let mut d = LivenessDecision {
        live: false,
        same_person: false,
        accepted: false,
        reason: String::new(),
        match_score: 0.0,
        actions_seen: Vec::new(),
        flash_matches: 0,
        frames: n,
        moire,
    };
    // one frame without a findable face (motion blur, a hand) is tolerated; every rule is
    // judged either way, so that the reason names each one the answer breaks
    let missing = faces.iter().filter(|f| f.is_none()).count();
    let faces_ok = missing <= 1 && missing * 2 < n;

    // flash colours
    // each channel's unlit level: its median over the frames that the nonce does not flash
    // in that channel
    let expected: Vec<u8> = (0..n).map(|i| flash_colour(&challenge.nonce, i)).collect();
    let mut med = [0.0f32; 3];
    for (c, m) in med.iter_mut().enumerate() {
        let mut v: Vec<f32> = faces
            .iter()
            .zip(&expected)
            .filter_map(|(f, &e)| {
                f.as_ref()
                    .filter(|_| e as usize != c + 1)
                    .map(|f| f.skin[c])
            })
            .collect();
        *m = median(&mut v).max(1.0);
    }
    let seen_flash: Vec<u8> = faces
        .iter()
        .map(|f| {
            let Some(f) = f else { return u8::MAX };
            let r = [f.skin[0] / med[0], f.skin[1] / med[1], f.skin[2] / med[2]];
            let mean = (r[0] + r[1] + r[2]) / 3.0;
            let dev = r.map(|x| x / mean - 1.0);
            let (k, &m) = dev
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap_or((0, &0.0));
            if m > 0.035 { k as u8 + 1 } else { 0 }
        })
        .collect();
    d.flash_matches = seen_flash
        .iter()
        .zip(&expected)
        .filter(|&(s, e)| s == e)
        .count();
    let flash_ok = d.flash_matches + usize::from(n >= 8) >= n;

    // actions
    let motion: Vec<Option<[f32; 4]>> =
        faces.iter().map(|f| f.as_ref().map(Face::motion)).collect();
    let mut base = [0.0f32; 4];
    for (k, b) in base.iter_mut().enumerate() {
        let mut v: Vec<f32> = motion.iter().flatten().map(|m| m[k]).collect();
        *b = median(&mut v);
    }
    let labels: Vec<Option<Action>> = motion
        .iter()
        .map(|m| m.as_ref().and_then(|m| classify(m, &base)))
        .collect();
    let mut seen: Vec<Action> = Vec::new();
    for a in labels.iter().flatten() {
        if seen.last() != Some(a) {
            seen.push(*a);
        }
    }
    d.actions_seen = seen;
    let actions_ok = d.actions_seen == challenge.actions;

    // identity from neutral frames: the median of their measurements (colour from the frames
    // without a flash)
    let mut shape: Vec<[f32; NF]> = Vec::new();
    let mut colour: Vec<[f32; NF]> = Vec::new();
    for (i, f) in faces.iter().enumerate() {
        let Some(f) = f else { continue };
        if labels[i].is_some() {
            continue;
        }
        if let Some(t) = f.template() {
            shape.push(t.features);
            if seen_flash[i] == 0 {
                colour.push(t.features);
            }
        }
    }
    if colour.is_empty() {
        colour = shape.clone();
    }
    if !shape.is_empty() {
        let mut features = [0.0f32; NF];
        for (j, f) in features.iter_mut().enumerate() {
            let src = if j >= 9 { &colour } else { &shape };
            let mut v: Vec<f32> = src.iter().map(|t| t[j]).collect();
            *f = median(&mut v);
        }
        let t = FaceTemplate { features };
        d.match_score = match_score(&t, registered);
        d.same_person = d.match_score >= MATCH_THRESHOLD;
    }
    let screen = moire >= MOIRE_LIMIT;
    d.live = faces_ok && actions_ok && flash_ok && !screen;
    d.accepted = d.live && d.same_person;
    let mut why = Vec::new();
    if !faces_ok {
        why.push(format!("no face in {missing} of {n} frames"));
    }
    if !actions_ok {
        why.push(format!(
            "actions {:?} expected {:?}",
            d.actions_seen, challenge.actions
        ));
    }
    if !flash_ok {
        why.push(format!(
            "flash colours matched in {} of {n} frames",
            d.flash_matches
        ));
    }
    if screen {
        why.push(format!("screen pattern (moiré {moire:.1})"));
    }
    if shape.is_empty() {
        why.push("no neutral frame with a whole face".into());
    } else if !d.same_person {
        why.push(format!("face does not match (score {:.3})", d.match_score));
    }
    d.reason = if why.is_empty() {
        "accepted".into()
    } else {
        why.join("; ")
    };
    Ok(d)
}

/// Labels one frame's motion against the sequence baseline.
fn classify(m: &[f32; 4], base: &[f32; 4]) -> Option<Action> {
    let mut best: Option<(Action, f32)> = None;
    let mut consider = |a: Action, strength: f32| {
        if strength > 1.0 && best.is_none_or(|(_, s)| strength > s) {
            best = Some((a, strength));
        }
    };
    if base[0] > 0.0 {
        consider(Action::Blink, (1.0 - m[0] / base[0]) / 0.55);
    }
    if base[1] > 0.0 {
        consider(Action::OpenMouth, (m[1] / base[1] - 1.0) / 0.8);
    }
    consider(Action::TurnLeft, (m[2] - base[2]) / 0.05);
    consider(Action::TurnRight, (base[2] - m[2]) / 0.05);
    consider(Action::Nod, (base[3] - m[3]) / 0.06);
    best.map(|(a, _)| a)
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Side of the patches used for the periodic-pattern test.
const PATCH: usize = 32;

/// How strongly the frames carry a fine periodic pattern (a screen's moiré).
///
/// The four quadrants of the frame's central 64x64 region are transformed separately (power
/// summed over five frames); at each frequency with a period of 3.5 to 8 pixels, each
/// quadrant's power is compared with its neighbourhood, and the score is the best agreement
/// (the lower ratio) of two quadrants. A moiré covers the whole screen, so it peaks in every lit
/// quadrant; face edges and noise do not peak at the same frequency in two quadrants, except
/// mirror-image ones on the frequency axes, which are not paired there.
pub(crate) fn moire_score(imgs: &[RgbImage]) -> f32 {
    let n = imgs.len();
    let kw = PATCH / 2 + 1;
    let mut power = vec![vec![0.0f32; PATCH * kw]; 4];
    let (cos_t, sin_t, win) = tables();
    let mut picks = vec![0, n / 4, n / 2, 3 * n / 4, n.saturating_sub(1)];
    picks.dedup();
    let mut used = 0;
    let mut patch = vec![0.0f32; PATCH * PATCH];
    let mut re = vec![0.0f32; PATCH * kw];
    let mut im = vec![0.0f32; PATCH * kw];
    for &i in &picks {
        let img = &imgs[i];
        let (w, h) = (img.width() as usize, img.height() as usize);
        if w < 2 * PATCH || h < 2 * PATCH {
            continue;
        }
        let raw = img.as_raw();
        let (x0, y0) = (w / 2 - PATCH, h / 2 - PATCH);
        for (q, pw) in power.iter_mut().enumerate() {
            let ox = x0 + (q % 2) * PATCH;
            let oy = y0 + (q / 2) * PATCH;
            let mut mean = 0.0;
            for y in 0..PATCH {
                for x in 0..PATCH {
                    let p = ((oy + y) * w + ox + x) * 3;
                    let l = 0.299 * f32::from(raw[p])
                        + 0.587 * f32::from(raw[p + 1])
                        + 0.114 * f32::from(raw[p + 2]);
                    patch[y * PATCH + x] = l;
                    mean += l;
                }
            }
            mean /= (PATCH * PATCH) as f32;
            for y in 0..PATCH {
                for x in 0..PATCH {
                    patch[y * PATCH + x] = (patch[y * PATCH + x] - mean) * win[x] * win[y];
                }
            }
            for y in 0..PATCH {
                let row = &patch[y * PATCH..(y + 1) * PATCH];
                for kx in 0..kw {
                    let (mut a, mut b) = (0.0, 0.0);
                    for (x, &v) in row.iter().enumerate() {
                        let t = (kx * x) % PATCH;
                        a += v * cos_t[t];
                        b -= v * sin_t[t];
                    }
                    re[y * kw + kx] = a;
                    im[y * kw + kx] = b;
                }
            }
            for kx in 0..kw {
                for ky in 0..PATCH {
                    let (mut a, mut b) = (0.0, 0.0);
                    for y in 0..PATCH {
                        let t = (ky * y) % PATCH;
                        let (c, s) = (cos_t[t], sin_t[t]);
                        let (xr, xi) = (re[y * kw + kx], im[y * kw + kx]);
                        a += xr * c + xi * s;
                        b += xi * c - xr * s;
                    }
                    pw[ky * kw + kx] += a * a + b * b;
                }
            }
        }
        used += 1;
    }
    if used == 0 {
        return 0.0;
    }
    let (lo, hi) = (PATCH as f32 / 8.0, PATCH as f32 / 3.5);
    let half = PATCH as i32 / 2;
    let mut best = 0.0f32;
    for ky in -half..half {
        for kx in 0..kw as i32 {
            let r = ((kx * kx + ky * ky) as f32).sqrt();
            if r < lo || r > hi {
                continue;
            }
            // skip the JPEG block grid's harmonics (periods dividing 8 in both directions)
            let grid = |k: i32| k.rem_euclid(PATCH as i32 / 8) == 0;
            if grid(kx) && grid(ky) {
                continue;
            }
            // two quadrants must agree (a moiré is faint on dark hair, which may fill the
            // others); quadrants (0 1 / 2 3) that mirror each other across the face's axis
            // share edge patterns on the axes, so they do not count there
            let q: Vec<f32> = power.iter().map(|pw| local_peak(pw, kx, ky)).collect();
            let on_axis = kx.abs() <= 1 || ky.abs() <= 1;
            for (a, b) in [(0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (1, 2)] {
                let mirror = a + 1 == b && a % 2 == 0;
                if !(mirror && on_axis) {
                    best = best.max(q[a].min(q[b]));
                }
            }
        }
    }
    best
}

/// Power at (kx, ky) over its surroundings (after a high-pass): the ring of bins at Chebyshev distance 2, taken
/// as the larger of its mean and of the strongest opposite pair (a straight edge's line of
/// energy through the bin lights both bins of a pair; an isolated peak lights neither).
fn local_peak(power: &[f32], kx: i32, ky: i32) -> f32 {
    let kw = (PATCH / 2 + 1) as i32;
    let at = |kx: i32, ky: i32| -> f32 {
        let (kx, ky) = if kx < 0 { (-kx, -ky) } else { (kx, ky) };
        // high-pass: the response of "pixel minus its 5x5 box mean", which keeps fine
        // patterns and damps the broad spectra of face edges
        let box5 = |k: i32| {
            let f = std::f32::consts::PI * k as f32 / PATCH as f32;
            if f.abs() < 1e-6 {
                1.0
            } else {
                (5.0 * f).sin() / (5.0 * f.sin())
            }
        };
        let g = 1.0 - box5(kx) * box5(ky);
        let ky = ky.rem_euclid(PATCH as i32);
        power[(ky * kw + kx) as usize] * g * g
    };
    let (mut pairs, mut sum) = (0.0f32, 0.0f32);
    for d in -2..=2 {
        let (a, b) = (at(kx + d, ky - 2), at(kx - d, ky + 2));
        pairs = pairs.max(a.min(b));
        sum += a + b;
    }
    for d in -1..=1 {
        let (a, b) = (at(kx - 2, ky + d), at(kx + 2, ky - d));
        pairs = pairs.max(a.min(b));
        sum += a + b;
    }
    let ring = pairs.max(sum / 16.0);
    if ring > 0.0 { at(kx, ky) / ring } else { 0.0 }
}

fn tables() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let tau = std::f32::consts::TAU;
    let cos_t = (0..PATCH)
        .map(|t| (tau * t as f32 / PATCH as f32).cos())
        .collect();
    let sin_t = (0..PATCH)
        .map(|t| (tau * t as f32 / PATCH as f32).sin())
        .collect();
    let win = (0..PATCH)
        .map(|t| 0.5 - 0.5 * (tau * (t as f32 + 0.5) / PATCH as f32).cos())
        .collect();
    (cos_t, sin_t, win)
}
