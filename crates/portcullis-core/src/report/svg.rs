//! Inline SVG charts. Each is an image with a title and a description a screen reader reads
//! (`role="img"`, `aria-labelledby`); series differ by dash pattern as well as colour, and
//! every value is also in a data table next to the chart. Every element is closed explicitly:
//! inside HTML, an SVG element written `<line/>` is fine but `<line>` would hold what follows.

use maud::{Markup, html};

pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub dash: &'static str,
    pub values: Vec<usize>,
}

const W: f64 = 640.0;
const H: f64 = 300.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 64.0;

/// A coordinate, to a tenth.
fn c(v: f64) -> String {
    format!("{v:.1}")
}

fn chart(id: &str, title: &str, desc: &str, inner: Markup) -> Markup {
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) } width=(W) height=(H)
            role="img" aria-labelledby={ (id) "-t " (id) "-d" } {
            title id={ (id) "-t" } { (title) }
            desc id={ (id) "-d" } { (desc) }
            (inner)
        }
    }
}

/// A round upper bound for the y axis and its tick step.
fn scale(max: usize) -> (usize, usize) {
    let max = max.max(1);
    let raw = max.div_ceil(4);
    let mag = 10usize.pow((raw as f64).log10().floor().max(0.0) as u32);
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    (step * max.div_ceil(step), step)
}

fn axes(top: usize, step: usize) -> Markup {
    let plot_h = H - TOP - BOTTOM;
    let ticks: Vec<usize> = (0..=top).step_by(step.max(1)).collect();
    html! {
        @for v in ticks {
            @let y = TOP + plot_h - plot_h * v as f64 / top as f64;
            line x1=(LEFT) x2=(W - RIGHT) y1=(c(y)) y2=(c(y)) stroke="#c9ccd1" stroke-width="1" {}
            text x=(LEFT - 6.0) y=(c(y + 4.0)) font-size="12" text-anchor="end" fill="#4d4d4d" { (v) }
        }
    }
}

/// One line per series over the labelled points of the x axis.
pub fn line_chart(id: &str, title: &str, desc: &str, x: &[String], series: &[Series]) -> Markup {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let (top, step) = scale(max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = x.len().max(2) - 1;
    let px = |i: usize| LEFT + plot_w * i as f64 / n as f64;
    let py = |v: usize| TOP + plot_h - plot_h * v as f64 / top as f64;
    // Five labels at most, evenly spread, the first and the last among them.
    let mut shown: Vec<usize> = (0..5).map(|k| k * (x.len().max(1) - 1) / 4).collect();
    shown.dedup();
    let anchor = |i: usize| {
        if i == 0 {
            "start"
        } else if i + 1 == x.len() {
            "end"
        } else {
            "middle"
        }
    };
    // The legend: a sample of each line and its name, side by side.
    let mut lx = LEFT;
    let legend: Vec<(f64, &Series)> = series
        .iter()
        .map(|s| {
            let at = lx;
            lx += 40.0 + 8.0 * s.name.chars().count() as f64 + 24.0;
            (at, s)
        })
        .collect();
    let legend_y = H - 18.0;
    chart(
        id,
        title,
        desc,
        html! {
            (axes(top, step))
            @for &i in &shown {
                @if let Some(label) = x.get(i) {
                    text x=(c(px(i))) y=(c(TOP + plot_h + 16.0)) font-size="12" text-anchor=(anchor(i)) fill="#4d4d4d" { (label) }
                }
            }
            @for s in series {
                @let points: Vec<String> = s.values.iter().enumerate().map(|(i, v)| format!("{},{}", c(px(i)), c(py(*v)))).collect();
                polyline fill="none" stroke=(s.color) stroke-width="2.5" stroke-dasharray=(s.dash) points=(points.join(" ")) {
                    title { (s.name) }
                }
            }
            @for (lx, s) in legend {
                line x1=(c(lx)) x2=(c(lx + 28.0)) y1=(c(legend_y)) y2=(c(legend_y)) stroke=(s.color) stroke-width="2.5" stroke-dasharray=(s.dash) {}
                text x=(c(lx + 34.0)) y=(c(legend_y + 4.0)) font-size="13" fill="#1a1a1a" { (s.name) }
            }
        },
    )
}

/// One bar per label, its value written above it; `flag` bars are drawn in the alert colour.
pub fn bar_chart(id: &str, title: &str, desc: &str, bars: &[(String, usize, bool)]) -> Markup {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0);
    let (top, step) = scale(max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    chart(
        id,
        title,
        desc,
        html! {
            (axes(top, step))
            @for (i, (label, value, flag)) in bars.iter().enumerate() {
                @let h = plot_h * *value as f64 / top as f64;
                @let x = LEFT + slot * i as f64 + slot * 0.15;
                @let y = TOP + plot_h - h;
                rect x=(c(x)) y=(c(y)) width=(c(slot * 0.7)) height=(c(h)) fill=(if *flag { "#b3261e" } else { "#0b57d0" }) {
                    title { (label) ": " (value) }
                }
                text x=(c(x + slot * 0.35)) y=(c(y - 4.0)) font-size="13" text-anchor="middle" fill="#1a1a1a" { (value) }
                text x=(c(x + slot * 0.35)) y=(c(TOP + plot_h + 16.0)) font-size="12" text-anchor="middle" fill="#4d4d4d" { (label) }
            }
        },
    )
}

/// A small bar: how much of its allowed duration a grant has left. The text beside it says
/// the same in words.
pub fn expiry_bar(fraction: f64, label: &str) -> Markup {
    let f = fraction.clamp(0.0, 1.0);
    let color = if f < 0.1 { "#b3261e" } else { "#0b57d0" };
    html! {
        svg.bar xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 10" width="100" height="10" role="img" aria-label=(label) {
            title { (label) }
            rect x="0" y="0" width="100" height="10" fill="#e3e5e8" {}
            rect x="0" y="0" width=(c(f * 100.0)) height="10" fill=(color) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(7), (8, 2));
        assert_eq!(scale(133), (150, 50));
        assert_eq!(scale(99_000), (100_000, 50_000));
    }

    #[test]
    fn charts_escape_their_text() {
        let svg = bar_chart("c", "<b>", "a & b", &[("<x>".into(), 3, false)]).into_string();
        assert!(svg.contains("<title id=\"c-t\">&lt;b&gt;</title>"));
        assert!(!svg.contains("<x>"));
    }
}
