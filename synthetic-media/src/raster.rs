//! A small anti-aliased rasteriser on a floating-point RGB canvas, plus JPEG in and out.

use crate::error::MediaError;
use crate::rng::gaussian_noise;
use image::RgbImage;

/// An RGB colour, channels in 0..=255 (may exceed while compositing).
pub(crate) type Rgb = [f32; 3];

/// Scales a colour channel-wise.
pub(crate) fn scale(c: Rgb, k: f32) -> Rgb {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// Multiplies two colours channel-wise (the second one as factors).
pub(crate) fn modulate(c: Rgb, k: [f32; 3]) -> Rgb {
    [c[0] * k[0], c[1] * k[1], c[2] * k[2]]
}

/// Linear interpolation between two colours.
pub(crate) fn lerp(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// A floating-point RGB canvas.
#[derive(Clone)]
pub(crate) struct Canvas {
    pub w: usize,
    pub h: usize,
    pub px: Vec<f32>,
}

impl Canvas {
    pub(crate) fn new(w: usize, h: usize, c: Rgb) -> Self {
        let mut px = vec![0.0; w * h * 3];
        if c != [0.0; 3] {
            for p in px.chunks_exact_mut(3) {
                p.copy_from_slice(&c);
            }
        }
        Canvas { w, h, px }
    }

    /// Fills with a vertical gradient from `top` to `bottom`.
    pub(crate) fn vertical_gradient(&mut self, top: Rgb, bottom: Rgb) {
        let h = self.h.max(2) as f32 - 1.0;
        for y in 0..self.h {
            let c = lerp(top, bottom, y as f32 / h);
            let row = &mut self.px[y * self.w * 3..(y + 1) * self.w * 3];
            for p in row.chunks_exact_mut(3) {
                p[0] = c[0];
                p[1] = c[1];
                p[2] = c[2];
            }
        }
    }

    /// Fills an axis-aligned rectangle (pixel centres inside), blended with `alpha`.
    pub(crate) fn fill_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb, alpha: f32) {
        let xa = x0.max(0.0).round() as usize;
        let xb = (x1.min(self.w as f32)).round().max(0.0) as usize;
        let ya = y0.max(0.0).round() as usize;
        let yb = (y1.min(self.h as f32)).round().max(0.0) as usize;
        for y in ya..yb {
            let mut i = (y * self.w + xa) * 3;
            for _ in xa..xb {
                self.px[i] += (c[0] - self.px[i]) * alpha;
                self.px[i + 1] += (c[1] - self.px[i + 1]) * alpha;
                self.px[i + 2] += (c[2] - self.px[i + 2]) * alpha;
                i += 3;
            }
        }
    }

    /// Fills a shape given by an approximate signed distance (pixels, negative inside)
    /// over a bounding box, anti-aliased.
    pub(crate) fn fill_sdf(
        &mut self,
        bbox: (f32, f32, f32, f32),
        c: Rgb,
        sdf: impl Fn(f32, f32) -> f32,
    ) {
        self.fill_sdf_rows(bbox, c, |_| Some((bbox.0, bbox.2)), |_| None, sdf);
    }

    /// Like [`Canvas::fill_sdf`], with a per-row x range (`None` skips the row) and a per-row
    /// solid range: pixel centres inside it are known to have `sdf <= -0.5`, so they are
    /// painted without evaluating it.
    pub(crate) fn fill_sdf_rows(
        &mut self,
        bbox: (f32, f32, f32, f32),
        c: Rgb,
        rows: impl Fn(f32) -> Option<(f32, f32)>,
        solid: impl Fn(f32) -> Option<(f32, f32)>,
        sdf: impl Fn(f32, f32) -> f32,
    ) {
        let ya = (bbox.1 - 1.0).floor().max(0.0) as usize;
        let yb = ((bbox.3 + 2.0).ceil().max(0.0) as usize).min(self.h);
        for y in ya..yb {
            let fy = y as f32 + 0.5;
            let Some((x0, x1)) = rows(fy) else { continue };
            let xa = (x0.max(bbox.0) - 1.0).floor().max(0.0) as usize;
            let xb = ((x1.min(bbox.2) + 2.0).ceil().max(0.0) as usize).min(self.w);
            // pixels whose centre x + 0.5 lies in the solid range
            let (sa, sb) = match solid(fy) {
                Some((s0, s1)) if s1 > s0 => (
                    ((s0 - 0.5).ceil().max(0.0) as usize).clamp(xa, xb),
                    (((s1 - 0.5).floor() + 1.0).max(0.0) as usize).clamp(xa, xb),
                ),
                _ => (xb, xb),
            };
            let row = &mut self.px[y * self.w * 3..(y + 1) * self.w * 3];
            for x in (xa..sa).chain(sb.max(sa)..xb) {
                let d = sdf(x as f32 + 0.5, fy);
                if d < 0.5 {
                    let a = if d <= -0.5 { 1.0 } else { 0.5 - d };
                    let p = &mut row[x * 3..x * 3 + 3];
                    p[0] += (c[0] - p[0]) * a;
                    p[1] += (c[1] - p[1]) * a;
                    p[2] += (c[2] - p[2]) * a;
                }
            }
            for p in row[sa * 3..sb.max(sa) * 3].chunks_exact_mut(3) {
                p.copy_from_slice(&c);
            }
        }
    }

    /// Fills a rotated ellipse (angle in radians).
    pub(crate) fn fill_ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, angle: f32, c: Rgb) {
        let rx = rx.max(0.3);
        let ry = ry.max(0.3);
        let (s, co) = angle.sin_cos();
        self.fill_sdf_rows(
            ellipse_bbox(cx, cy, rx, ry, co, s),
            c,
            |y| ellipse_row(y - cy, rx + 1.0, ry + 1.0, co, s).map(|(a, b)| (cx + a, cx + b)),
            |y| solid_ellipse_row(y - cy, rx, ry, co, s).map(|(a, b)| (cx + a, cx + b)),
            |x, y| ellipse_sdf(x - cx, y - cy, rx, ry, co, s),
        );
    }

    /// Fills a capsule (a thick segment with round ends).
    pub(crate) fn fill_capsule(&mut self, p0: (f32, f32), p1: (f32, f32), r: f32, c: Rgb) {
        let bbox = (
            p0.0.min(p1.0) - r,
            p0.1.min(p1.1) - r,
            p0.0.max(p1.0) + r,
            p0.1.max(p1.1) + r,
        );
        let dx = p1.0 - p0.0;
        let dy = p1.1 - p0.1;
        let len2 = (dx * dx + dy * dy).max(1e-6);
        self.fill_sdf(bbox, c, |x, y| {
            let t = (((x - p0.0) * dx + (y - p0.1) * dy) / len2).clamp(0.0, 1.0);
            let ex = x - p0.0 - t * dx;
            let ey = y - p0.1 - t * dy;
            (ex * ex + ey * ey).sqrt() - r
        });
    }

    /// Multiplies every pixel by a per-channel gain and a linear spatial gradient.
    pub(crate) fn light(&mut self, gain: [f32; 3], gx: f32, gy: f32) {
        let w = self.w as f32;
        let h = self.h as f32;
        let cols: Vec<f32> = (0..self.w)
            .map(|x| gx * ((x as f32 + 0.5) / w - 0.5))
            .collect();
        for y in 0..self.h {
            let fy = 1.0 + gy * ((y as f32 + 0.5) / h - 0.5);
            let row = &mut self.px[y * self.w * 3..(y + 1) * self.w * 3];
            for (p, &fx) in row.chunks_exact_mut(3).zip(&cols) {
                let k = fy + fx;
                p[0] *= gain[0] * k;
                p[1] *= gain[1] * k;
                p[2] *= gain[2] * k;
            }
        }
    }

    /// Bilinear sample at continuous pixel coordinates (pixel centres at +0.5).
    #[inline(always)]
    pub(crate) fn sample(&self, x: f32, y: f32) -> Rgb {
        let fx = (x - 0.5).clamp(0.0, self.w as f32 - 1.001);
        let fy = (y - 0.5).clamp(0.0, self.h as f32 - 1.001);
        // Both are clamped non-negative and small, so the i32 conversion is exact (and one
        // instruction, where a usize conversion from f32 is several).
        let x0 = fx as i32 as usize;
        let y0 = fy as i32 as usize;
        let tx = fx - x0 as f32;
        let ty = fy - y0 as f32;
        let top = (y0 * self.w + x0) * 3;
        let bottom = top + self.w * 3;
        // Two slices of known length: one bounds check each, none per channel.
        let (t, b) = (&self.px[top..top + 6], &self.px[bottom..bottom + 6]);
        let mut out = [0.0; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let upper = t[c] + (t[c + 3] - t[c]) * tx;
            let lower = b[c] + (b[c + 3] - b[c]) * tx;
            *o = upper + (lower - upper) * ty;
        }
        out
    }

    /// Adds Gaussian sensor noise of standard deviation `sigma` (grey levels), clamps to
    /// bytes and encodes as a baseline JPEG (JFIF header only: no EXIF, no comment).
    pub(crate) fn noisy_jpeg(&self, sigma: f32, seed: u64, quality: u8) -> Vec<u8> {
        let px = &self.px;
        let mut rgb = vec![0u8; px.len()];
        gaussian_noise(px.len(), sigma, seed, |i, z| rgb[i] = to_byte(px[i] + z));
        encode_jpeg(&rgb, self.w, self.h, quality)
    }
}

/// Rounds to the nearest byte, clamped: `x.round().clamp(0.0, 255.0) as u8` (but for values
/// within an ulp below a half, which go up), without the `roundf` call baseline x86-64 makes
/// for `round` (a fifth of the time of making a noisy frame).
#[inline]
fn to_byte(x: f32) -> u8 {
    (x + 0.5).clamp(0.0, 255.0) as u8
}

/// The x range (relative to the centre) that a rotated ellipse covers at height `dy`.
pub(crate) fn ellipse_row(dy: f32, rx: f32, ry: f32, co: f32, s: f32) -> Option<(f32, f32)> {
    // (dx co + dy s)^2 / rx^2 + (-dx s + dy co)^2 / ry^2 <= 1, a quadratic in dx
    let (irx, iry) = (1.0 / (rx * rx), 1.0 / (ry * ry));
    let a = co * co * irx + s * s * iry;
    let b = 2.0 * dy * co * s * (irx - iry);
    let c = dy * dy * (s * s * irx + co * co * iry) - 1.0;
    let disc = b * b - 4.0 * a * c;
    if disc < 0.0 {
        return None;
    }
    let r = disc.sqrt();
    Some(((-b - r) / (2.0 * a), (-b + r) / (2.0 * a)))
}

/// The bounding box of a rotated ellipse centred at (`cx`, `cy`).
fn ellipse_bbox(cx: f32, cy: f32, rx: f32, ry: f32, co: f32, s: f32) -> (f32, f32, f32, f32) {
    let hx = (rx * rx * co * co + ry * ry * s * s).sqrt();
    let hy = (rx * rx * s * s + ry * ry * co * co).sqrt();
    (cx - hx, cy - hy, cx + hx, cy + hy)
}

/// The x range (relative to the centre) at height `dy` where [`ellipse_sdf`] is at most -0.5:
/// the ellipse scaled by `1 - 0.6 / min(rx, ry)` (`None` when that is empty).
///
/// Inside the ellipse, at a point of the ellipse scaled by `k`, [`ellipse_sdf`] is `(k - 1) /
/// G` with `1 / G >= min(rx, ry)`, so `k <= 1 - 0.5 / min(rx, ry)` gives at most -0.5; the
/// extra 0.1 keeps rounding clear of the edge.
fn solid_ellipse_row(dy: f32, rx: f32, ry: f32, co: f32, s: f32) -> Option<(f32, f32)> {
    let inner = 1.0 - 0.6 / rx.min(ry);
    if inner <= 0.0 {
        return None;
    }
    ellipse_row(dy, rx * inner, ry * inner, co, s)
}

/// Approximate signed distance to a rotated ellipse centred at the origin.
#[inline]
pub(crate) fn ellipse_sdf(dx: f32, dy: f32, rx: f32, ry: f32, co: f32, s: f32) -> f32 {
    let u = dx * co + dy * s;
    let v = -dx * s + dy * co;
    let qx = u / rx;
    let qy = v / ry;
    let k = (qx * qx + qy * qy).sqrt();
    let gx = qx / rx;
    let gy = qy / ry;
    let g = (gx * gx + gy * gy).sqrt();
    if g < 1e-6 {
        -rx.min(ry)
    } else {
        (k - 1.0) * k / g
    }
}

/// Encodes RGB bytes as a baseline JPEG with full-resolution chroma (4:4:4). Subsampled
/// chroma (4:2:0) would save a seventh of the time, but it blurs the flash colours that the
/// liveness check reads: BPCER went to 1.05% against its 1% bound.
///
/// `jpeg-encoder` (with its AVX2 path) rather than `image`'s encoder: making media is most of
/// the population phase's CPU, and this encoder takes about a third of the time.
fn encode_jpeg(rgb: &[u8], w: usize, h: usize, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    // Canvases are a few hundred pixels a side, and encoding a well-formed RGB buffer into a
    // Vec cannot fail.
    let side = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let _ = enc.encode(rgb, side(w), side(h), jpeg_encoder::ColorType::Rgb);
    out
}

/// Decodes a JPEG or PNG into RGB.
/// Width and height of a JPEG or PNG from its header, without decoding the pixels.
pub fn image_size(bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    let fmt = image::guess_format(bytes).map_err(|e| MediaError::NotAnImage(e.to_string()))?;
    if !matches!(fmt, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
        return Err(MediaError::NotAnImage(format!(
            "unsupported format {fmt:?}"
        )));
    }
    image::ImageReader::with_format(std::io::Cursor::new(bytes), fmt)
        .into_dimensions()
        .map_err(|e| MediaError::NotAnImage(e.to_string()))
}

pub(crate) fn decode(bytes: &[u8]) -> Result<RgbImage, MediaError> {
    let fmt = image::guess_format(bytes).map_err(|e| MediaError::NotAnImage(e.to_string()))?;
    if !matches!(fmt, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
        return Err(MediaError::NotAnImage(format!(
            "unsupported format {fmt:?}"
        )));
    }
    let img = image::load_from_memory_with_format(bytes, fmt)
        .map_err(|e| MediaError::NotAnImage(e.to_string()))?;
    Ok(img.to_rgb8())
}

#[cfg(test)]
mod solid_tests {
    use super::*;

    /// The solid range is only a shortcut: an ellipse comes out as when every pixel's distance
    /// is evaluated.
    #[test]
    fn solid_rows_paint_what_the_distance_would() {
        for i in 0..200u32 {
            let f =
                |k: u32| ((i.wrapping_mul(2_654_435_761).rotate_left(k) % 1000) as f32) / 1000.0;
            let (cx, cy) = (20.0 + 60.0 * f(1), 20.0 + 60.0 * f(7));
            let (rx, ry) = (0.2 + 40.0 * f(13), 0.2 + 40.0 * f(19));
            let angle = 6.3 * f(23);
            let colour = [200.0, 120.0, 40.0];
            let mut fast = Canvas::new(100, 100, [10.0, 20.0, 30.0]);
            fast.fill_ellipse(cx, cy, rx, ry, angle, colour);
            let mut slow = Canvas::new(100, 100, [10.0, 20.0, 30.0]);
            let (rx, ry) = (rx.max(0.3), ry.max(0.3));
            let (s, co) = angle.sin_cos();
            slow.fill_sdf_rows(
                ellipse_bbox(cx, cy, rx, ry, co, s),
                colour,
                |y| ellipse_row(y - cy, rx + 1.0, ry + 1.0, co, s).map(|(a, b)| (cx + a, cx + b)),
                |_| None,
                |x, y| ellipse_sdf(x - cx, y - cy, rx, ry, co, s),
            );
            let worst = fast
                .px
                .iter()
                .zip(&slow.px)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-3, "ellipse {i}: differs by {worst}");
        }
    }
}

#[cfg(test)]
mod byte_tests {
    #[test]
    fn to_byte_rounds_like_round_then_clamp() {
        let mut x = -3.0f32;
        while x < 258.0 {
            assert_eq!(super::to_byte(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
            x += 0.03125;
        }
    }
}
