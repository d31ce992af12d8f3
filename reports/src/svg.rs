//! Small inline-SVG charts (line charts and horizontal bars) for the HTML report: no scripts,
//! no fonts fetched, no chart crate.

use std::fmt::Write as _;

use crate::html::esc;

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A line chart: x is usually seconds since the phase started.
#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub width: f64,
    pub height: f64,
}

/// Colours that stay apart in print and for most colour-blind readers.
pub const PALETTE: [&str; 8] = [
    "#1f5fa8", "#d1495b", "#2a9d59", "#e39b17", "#7b4fa8", "#3b9fb4", "#8c6d31", "#555555",
];

const LEFT: f64 = 58.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 44.0;

impl LineChart {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> LineChart {
        LineChart {
            title: title.to_owned(),
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
            series: Vec::new(),
            width: 720.0,
            height: 220.0,
        }
    }

    pub fn series(mut self, name: &str, points: Vec<(f64, f64)>) -> LineChart {
        let color = PALETTE[self.series.len() % PALETTE.len()];
        self.series.push(Series {
            name: name.to_owned(),
            color,
            points: points
                .into_iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect(),
        });
        self
    }

    /// The chart as an `<svg>` element; "no data" text when every series is empty.
    pub fn render(&self) -> String {
        let (w, h) = (self.width, self.height);
        let plot_w = w - LEFT - RIGHT;
        let plot_h = h - TOP - BOTTOM;
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
            esc(&self.title)
        );
        let _ = write!(
            out,
            r#"<text x="{LEFT}" y="16" class="ct">{}</text>"#,
            esc(&self.title)
        );
        let all: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .collect();
        if all.is_empty() {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" class="cn" text-anchor="middle">no data 无数据</text></svg>"#,
                w / 2.0,
                h / 2.0
            );
            return out;
        }
        let x_min = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let mut x_max = all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        if x_max <= x_min {
            x_max = x_min + 1.0;
        }
        let y_max = all.iter().map(|p| p.1).fold(0.0, f64::max);
        let y_step = nice_step(y_max / 5.0);
        let y_ticks = ((y_max / y_step).ceil().max(1.0)) as u32;
        let y_top = y_step * f64::from(y_ticks);
        let sx = |x: f64| LEFT + (x - x_min) / (x_max - x_min) * plot_w;
        let sy = |y: f64| TOP + plot_h - (y / y_top) * plot_h;
        // Grid and y ticks.
        for i in 0..=y_ticks {
            let v = y_step * f64::from(i);
            let y = sy(v);
            let _ = write!(
                out,
                r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="cg"/><text x="{:.1}" y="{:.1}" class="cx" text-anchor="end">{}</text>"#,
                LEFT + plot_w,
                LEFT - 4.0,
                y + 3.5,
                short_number(v)
            );
        }
        // X ticks.
        let step = nice_step((x_max - x_min) / 6.0);
        let mut x = (x_min / step).ceil() * step;
        while x <= x_max + step * 1e-9 {
            let px = sx(x);
            let _ = write!(
                out,
                r#"<line x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{:.1}" class="ca"/><text x="{px:.1}" y="{:.1}" class="cx" text-anchor="middle">{}</text>"#,
                TOP + plot_h,
                TOP + plot_h + 4.0,
                TOP + plot_h + 15.0,
                short_number(x)
            );
            x += step;
        }
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" class="ca"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="ca"/>"#,
            TOP + plot_h,
            LEFT + plot_w,
            TOP + plot_h,
            TOP + plot_h
        );
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="cx" text-anchor="middle">{}</text><text x="12" y="{:.1}" class="cx" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text>"#,
            LEFT + plot_w / 2.0,
            h - 18.0,
            esc(&self.x_label),
            TOP + plot_h / 2.0,
            TOP + plot_h / 2.0,
            esc(&self.y_label)
        );
        for s in &self.series {
            if s.points.is_empty() {
                continue;
            }
            let mut d = String::new();
            for (i, (x, y)) in s.points.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    sx(*x),
                    sy(*y)
                );
            }
            let _ = write!(
                out,
                r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.6"/>"#,
                s.color
            );
        }
        // Legend along the bottom.
        let mut lx = LEFT;
        for s in &self.series {
            let _ = write!(
                out,
                r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}" class="cx">{}</text>"#,
                h - 11.0,
                s.color,
                lx + 14.0,
                h - 2.0,
                esc(&s.name)
            );
            lx += 24.0 + 6.5 * s.name.chars().count() as f64;
        }
        out.push_str("</svg>");
        out
    }
}

/// One bar of a horizontal bar chart, with an optional limit drawn as a red rule.
pub fn bars(
    title: &str,
    unit: &str,
    rows: &[(String, f64)],
    limit: Option<(String, f64)>,
) -> String {
    let width = 720.0;
    let row_h = 20.0;
    let label_w = 130.0;
    let plot_w = width - label_w - 90.0;
    let height = TOP + row_h * rows.len() as f64 + 24.0;
    let top = rows
        .iter()
        .map(|r| r.1)
        .chain(limit.iter().map(|l| l.1))
        .fold(0.0, f64::max);
    let top = nice_ceiling(top);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}"><text x="{label_w}" y="16" class="ct">{}</text>"#,
        esc(title),
        esc(title)
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64;
        let bar = if top > 0.0 {
            value.max(0.0) / top * plot_w
        } else {
            0.0
        };
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="cx" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" class="cx">{} {}</text>"#,
            label_w - 6.0,
            y + 13.0,
            esc(label),
            y + 3.0,
            row_h - 6.0,
            PALETTE[0],
            label_w + bar + 4.0,
            y + 13.0,
            short_number(*value),
            esc(unit)
        );
    }
    if let Some((name, value)) = limit
        && top > 0.0
    {
        let x = label_w + value / top * plot_w;
        let bottom = TOP + row_h * rows.len() as f64;
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{bottom:.1}" stroke="{}" stroke-width="1.5" stroke-dasharray="4 3"/><text x="{x:.1}" y="{:.1}" class="cx" text-anchor="middle">{} {} {}</text>"#,
            TOP - 4.0,
            PALETTE[1],
            bottom + 14.0,
            esc(&name),
            short_number(value),
            esc(unit)
        );
    }
    out.push_str("</svg>");
    out
}

/// At most `max` points: consecutive points are pooled into buckets, keeping each bucket's
/// first x and its largest y (peaks survive downsampling) or its mean y.
pub fn downsample(points: &[(f64, f64)], max: usize, keep_peaks: bool) -> Vec<(f64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .filter_map(|chunk| {
            let x = chunk.first()?.0;
            let y = if keep_peaks {
                chunk.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max)
            } else {
                chunk.iter().map(|p| p.1).sum::<f64>() / chunk.len() as f64
            };
            Some((x, y))
        })
        .collect()
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `v`.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * magnitude >= v {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

fn nice_step(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * magnitude >= v {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

/// 1234 → "1234", 12345 → "12.3k", 0.25 → "0.25".
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if a >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if a >= 100.0 || a == 0.0 || (v.fract() == 0.0 && a < 1e15) {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_and_escape_labels() {
        let svg = LineChart::new("a<b", "t (s)", "ms")
            .series("p99 & co", vec![(0.0, 1.0), (1.0, 3.0), (2.0, f64::NAN)])
            .render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a&lt;b") && svg.contains("p99 &amp; co"));
        assert!(!svg.contains("NaN"));
        let empty = LineChart::new("x", "t", "y").render();
        assert!(empty.contains("no data"));
    }

    #[test]
    fn downsampling_keeps_peaks_and_bounds_points() {
        let points: Vec<(f64, f64)> = (0..1000).map(|i| (f64::from(i), 1.0)).collect();
        let mut with_peak = points.clone();
        with_peak[501].1 = 50.0;
        let d = downsample(&with_peak, 100, true);
        assert!(d.len() <= 100);
        assert!(d.iter().any(|p| p.1 == 50.0));
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(short_number(12345.0), "12.3k");
    }
}
