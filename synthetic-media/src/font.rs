//! Text for ID cards: a 5x7 bitmap font for digits and `X`, and a deterministic stroke pattern
//! standing in for each Chinese character (the crate ships no CJK font).

use crate::raster::{Canvas, Rgb};
use crate::rng::{fnv, splitmix};

const DIGITS: [[u8; 7]; 11] = [
    [
        0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
    ],
    [
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
    ],
    [
        0b11110, 0b00001, 0b00001, 0b01110, 0b00001, 0b00001, 0b11110,
    ],
    [
        0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
    ],
    [
        0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
    ],
    [
        0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
    ],
    [
        0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001,
    ],
];

/// Draws `text` starting at (x, y) (top left); each character is `size` pixels tall.
/// Returns the x after the last character.
pub(crate) fn draw_text(c: &mut Canvas, text: &str, x: f32, y: f32, size: f32, col: Rgb) -> f32 {
    let mut x = x;
    for ch in text.chars() {
        let glyph = match ch {
            '0'..='9' => Some(DIGITS[(ch as u8 - b'0') as usize]),
            'X' => Some(DIGITS[10]),
            _ => None,
        };
        match glyph {
            Some(rows) => {
                let p = size / 7.0;
                for (j, row) in rows.iter().enumerate() {
                    for i in 0..5 {
                        if row & (1 << (4 - i)) != 0 {
                            let px = x + i as f32 * p;
                            let py = y + j as f32 * p;
                            c.fill_rect(px, py, px + p, py + p, col, 1.0);
                        }
                    }
                }
                x += size * 0.8;
            }
            None if ch == ' ' => x += size * 0.5,
            None => {
                draw_hanzi(c, ch, x, y, size, col);
                x += size * 1.1;
            }
        }
    }
    x
}

/// A stand-in for a Chinese character: 4 to 7 strokes on a 5x5 grid, chosen by the code point.
fn draw_hanzi(c: &mut Canvas, ch: char, x: f32, y: f32, size: f32, col: Rgb) {
    let mut h = splitmix(fnv(&(ch as u32).to_le_bytes()));
    let n = 4 + (h % 4) as usize;
    h = splitmix(h);
    let cell = size / 4.0;
    let r = (size / 14.0).max(0.6);
    for _ in 0..n {
        let gx = (h % 5) as f32;
        let gy = ((h >> 3) % 5) as f32;
        let len = 1.0 + ((h >> 6) % 4) as f32;
        let dir = (h >> 9) % 4;
        h = splitmix(h);
        let (dx, dy) = match dir {
            0 => (len, 0.0),
            1 => (0.0, len),
            2 => (len * 0.7, len * 0.7),
            _ => (-len * 0.7, len * 0.7),
        };
        let x0 = (gx).clamp(0.0, 4.0);
        let y0 = (gy).clamp(0.0, 4.0);
        let x1 = (gx + dx).clamp(0.0, 4.0);
        let y1 = (gy + dy).clamp(0.0, 4.0);
        c.fill_capsule(
            (x + x0 * cell, y + y0 * cell),
            (x + x1 * cell, y + y1 * cell),
            r,
            col,
        );
    }
}
