//! Inline SVG charts. Each is an image with a title and a description a screen reader reads
//! (`role="img"`, `aria-labelledby`); series differ by dash pattern as well as colour, and
//! every value is also in a data table next to the chart.

use std::fmt::Write;

use super::html::esc;

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

fn open(id: &str, title: &str, desc: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\">\n\
         <title id=\"{id}-t\">{}</title>\n<desc id=\"{id}-d\">{}</desc>\n",
        esc(title),
        esc(desc),
        id = esc(id)
    )
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

fn axes(out: &mut String, top: usize, step: usize) {
    let plot_h = H - TOP - BOTTOM;
    let mut v = 0;
    while v <= top {
        let y = TOP + plot_h - plot_h * v as f64 / top as f64;
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#c9ccd1\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#4d4d4d\">{v}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
        v += step;
    }
}

/// One line per series over the labelled points of the x axis.
pub fn line_chart(id: &str, title: &str, desc: &str, x: &[String], series: &[Series]) -> String {
    let mut out = open(id, title, desc);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let (top, step) = scale(max);
    axes(&mut out, top, step);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = x.len().max(2) - 1;
    let px = |i: usize| LEFT + plot_w * i as f64 / n as f64;
    let py = |v: usize| TOP + plot_h - plot_h * v as f64 / top as f64;
    // Five labels at most, evenly spread, the first and the last among them.
    let mut shown: Vec<usize> = (0..5).map(|k| k * (x.len().max(1) - 1) / 4).collect();
    shown.dedup();
    for &i in &shown {
        let Some(label) = x.get(i) else { continue };
        let anchor = if i == 0 {
            "start"
        } else if i + 1 == x.len() {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\" fill=\"#4d4d4d\">{}</text>",
            px(i),
            TOP + plot_h + 16.0,
            esc(label)
        );
    }
    for s in series {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", px(i), py(*v)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\" stroke-dasharray=\"{}\" points=\"{}\"><title>{}</title></polyline>",
            s.color,
            s.dash,
            points.join(" "),
            esc(&s.name)
        );
    }
    // The legend: a sample of each line and its name.
    let legend_y = H - 18.0;
    let mut lx = LEFT;
    for s in series {
        let _ = writeln!(
            out,
            "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{legend_y:.1}\" y2=\"{legend_y:.1}\" stroke=\"{}\" stroke-width=\"2.5\" stroke-dasharray=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#1a1a1a\">{}</text>",
            lx + 28.0,
            s.color,
            s.dash,
            lx + 34.0,
            legend_y + 4.0,
            esc(&s.name)
        );
        lx += 40.0 + 8.0 * s.name.chars().count() as f64 + 24.0;
    }
    out.push_str("</svg>\n");
    out
}

/// One bar per label, its value written above it; `flag` bars are drawn in the alert colour.
pub fn bar_chart(id: &str, title: &str, desc: &str, bars: &[(String, usize, bool)]) -> String {
    let mut out = open(id, title, desc);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0);
    let (top, step) = scale(max);
    axes(&mut out, top, step);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    for (i, (label, value, flag)) in bars.iter().enumerate() {
        let h = plot_h * *value as f64 / top as f64;
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let y = TOP + plot_h - h;
        let color = if *flag { "#b3261e" } else { "#0b57d0" };
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{}: {value}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#1a1a1a\">{value}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#4d4d4d\">{}</text>",
            slot * 0.7,
            esc(label),
            x + slot * 0.35,
            y - 4.0,
            x + slot * 0.35,
            TOP + plot_h + 16.0,
            esc(label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A small bar: how much of its allowed duration a grant has left. The text beside it says
/// the same in words.
pub fn expiry_bar(fraction: f64, label: &str) -> String {
    let f = fraction.clamp(0.0, 1.0);
    let color = if f < 0.1 { "#b3261e" } else { "#0b57d0" };
    format!(
        "<svg class=\"bar\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 10\" width=\"100\" height=\"10\" role=\"img\" aria-label=\"{l}\"><title>{l}</title>\
         <rect x=\"0\" y=\"0\" width=\"100\" height=\"10\" fill=\"#e3e5e8\"/><rect x=\"0\" y=\"0\" width=\"{:.1}\" height=\"10\" fill=\"{color}\"/></svg>",
        f * 100.0,
        l = esc(label)
    )
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
        let svg = bar_chart("c", "<b>", "a & b", &[("<x>".into(), 3, false)]);
        assert!(svg.contains("<title id=\"c-t\">&lt;b&gt;</title>"));
        assert!(!svg.contains("<x>"));
    }
}
