//! What the three charts share: escaping, ids, numbers as text, label widths,
//! the `<svg>` frame with its title and description, legends and axis ticks.

use std::borrow::Cow;
use std::fmt::{self, Display, Write};

/// The viewBox width. At a 390 px phone the scale is ~0.6, so [`FONT`] text
/// is ~11 px there and ~18 px on a desktop at natural size.
pub(crate) const WIDTH: f64 = 640.0;
/// The margin around every chart.
pub(crate) const PAD: f64 = 12.0;
/// The one text size, in viewBox units: no text is smaller.
pub(crate) const FONT: f64 = 18.0;
/// The advance of one character at [`FONT`], slightly generous (0.6 em) so
/// estimated widths err towards room to spare.
const CHAR_W: f64 = 10.8;
/// Secondary text and axis lines: 7.0:1 on white.
pub(crate) const MUTED: &str = "#595959";
/// Grid lines: decorative, so below the 3:1 of meaningful graphics.
pub(crate) const GRID: &str = "#e3e3e3";
/// Okabe–Ito colours, each at least 3:1 on white (graphics, not text).
pub(crate) const BLACK: &str = "#000000";
pub(crate) const BLUE: &str = "#0072B2";
pub(crate) const GREEN: &str = "#009E73";
pub(crate) const VERMILLION: &str = "#D55E00";
pub(crate) const PURPLE: &str = "#CC79A7";
/// Empty cells and "not heard": 1.4:1 on white, framed by their neighbours.
pub(crate) const EMPTY: &str = "#d0d0d0";

/// Text escaped for XML and HTML, in text or in a quoted attribute. Control
/// characters XML 1.0 forbids become U+FFFD; tabs and line breaks, a space.
pub(crate) struct Esc<'a>(pub &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                '\t' | '\n' | '\r' => f.write_char(' ')?,
                c if c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) || c == '\u{fffe}' || c == '\u{ffff}' => f.write_char('\u{fffd}')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A coordinate or length: one decimal at most, never NaN or infinite.
#[derive(Clone, Copy)]
pub(crate) struct N(pub f64);

impl Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() { (self.0.clamp(-1e6, 1e6) * 10.0).round() / 10.0 } else { 0.0 };
        if v == 0.0 {
            f.write_str("0")
        } else if v.fract() == 0.0 {
            write!(f, "{v:.0}")
        } else {
            write!(f, "{v:.1}")
        }
    }
}

/// `1204` as `1,204`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number for an axis or beside a bar: exact with commas below ten million,
/// else one decimal with M, B or T, and an exponent beyond.
pub(crate) fn short(v: f64) -> String {
    let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
    let scaled = |div: f64, unit: &str| {
        let s = format!("{:.1}", v / div);
        format!("{}{unit}", s.strip_suffix(".0").unwrap_or(&s))
    };
    match v {
        v if v < 1e7 => count(v.round() as u64),
        v if v < 1e9 => scaled(1e6, "M"),
        v if v < 1e12 => scaled(1e9, "B"),
        v if v < 1e15 => scaled(1e12, "T"),
        v => format!("{v:.1e}"),
    }
}

/// The id prefix as the characters `[A-Za-z0-9_-]` of what the caller gave
/// (at most 64), starting with a letter so it is an XML name too.
pub(crate) fn sanitise_id(prefix: &str) -> String {
    let kept: String = prefix.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(64).collect();
    match kept.chars().next() {
        None => "chart".to_owned(),
        Some(c) if c.is_ascii_alphabetic() => kept,
        Some(_) => format!("c{kept}"),
    }
}

/// How many [`CHAR_W`] a character takes: two for East Asian wide ones and emoji.
fn units(c: char) -> usize {
    match c as u32 {
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFF00..=0xFF60 => 2,
        0x1F300..=0x1FAFF | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// The estimated width of `text` at [`FONT`].
pub(crate) fn text_width(text: &str) -> f64 {
    text.chars().map(units).sum::<usize>() as f64 * CHAR_W
}

/// `text` cut with an ellipsis to fit `width`.
pub(crate) fn fit(text: &str, width: f64) -> Cow<'_, str> {
    if text_width(text) <= width {
        return Cow::Borrowed(text);
    }
    let room = ((width / CHAR_W).floor() as usize).saturating_sub(1);
    let (mut used, mut out) = (0, String::new());
    for c in text.chars() {
        used += units(c);
        if used > room {
            break;
        }
        out.push(c);
    }
    out.push('…');
    Cow::Owned(out)
}

/// A caller's string cut to 100 characters (with an ellipsis) wherever it
/// is written in full (titles, descriptions, tooltips), so no input makes
/// the output large.
pub(crate) fn cap(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(100) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!("{}…", &text[..at])),
    }
}

/// The caller's title (see [`cap`]), or `default` when it is blank.
pub(crate) fn title_or<'a>(title: &'a str, default: &'a str) -> Cow<'a, str> {
    if title.trim().is_empty() { Cow::Borrowed(default) } else { cap(title) }
}

/// The whole `<svg>` element around `body`: viewBox, role, the title and
/// description the `aria-labelledby` points at, and the shared text style.
pub(crate) fn frame(kind: &str, id_prefix: &str, title: &str, desc: &str, height: f64, body: &str) -> String {
    let id = sanitise_id(id_prefix);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"roster-chart roster-chart-{kind}\" viewBox=\"0 0 {} {}\" width=\"100%\" \
         preserveAspectRatio=\"xMinYMin meet\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         font-family=\"system-ui, -apple-system, Segoe UI, Roboto, sans-serif\" font-size=\"{}\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{body}</svg>",
        N(WIDTH),
        N(height.ceil()),
        N(FONT),
        Esc(title),
        Esc(desc),
    )
}

/// The small chart for no data: the title, and `message` as its description and its only text.
pub(crate) fn empty(kind: &str, id_prefix: &str, title: &str, message: &str) -> String {
    let body = format!("<text x=\"{}\" y=\"40\" text-anchor=\"middle\" fill=\"{MUTED}\">{}</text>", N(WIDTH / 2.0), Esc(message));
    frame(kind, id_prefix, title, message, 64.0, &body)
}

/// Text at (`x`, `y`) (the baseline), anchored `start`, `middle` or `end`.
pub(crate) fn text(out: &mut String, x: f64, y: f64, anchor: &str, fill: Option<&str>, content: &str) {
    let _ = write!(out, "<text x=\"{}\" y=\"{}\"", N(x), N(y));
    if anchor != "start" {
        let _ = write!(out, " text-anchor=\"{anchor}\"");
    }
    if let Some(fill) = fill {
        let _ = write!(out, " fill=\"{fill}\"");
    }
    let _ = write!(out, ">{}</text>", Esc(content));
}

/// A filled rectangle.
pub(crate) fn rect(out: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str) {
    let _ = write!(out, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"/>", N(x), N(y), N(w.max(0.0)), N(h.max(0.0)));
}

/// A straight line.
pub(crate) fn line(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, width: f64) {
    let _ = write!(
        out,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"/>",
        N(x1),
        N(y1),
        N(x2),
        N(y2),
        N(width)
    );
}

/// How a legend entry is drawn beside its label.
pub(crate) enum Swatch {
    /// A filled square.
    Box(&'static str),
    /// A short thick line with a dot, for a line series.
    Line(&'static str),
}

/// A legend of `items` from `x`, wrapped to rows within the chart, with its
/// first row's top at `top`; returns the bottom of the last row.
pub(crate) fn legend(out: &mut String, items: &[(Swatch, &str)], x: f64, top: f64) -> f64 {
    out.push_str("<g class=\"rc-legend\">");
    let (mut cx, mut row_top) = (x, top);
    for (swatch, label) in items {
        let w = 22.0 + text_width(label);
        if cx > x && cx + w > WIDTH - PAD {
            (cx, row_top) = (x, row_top + 26.0);
        }
        match swatch {
            Swatch::Box(fill) => rect(out, cx, row_top + 5.0, 16.0, 16.0, fill),
            Swatch::Line(stroke) => {
                line(out, (cx, row_top + 13.0), (cx + 16.0, row_top + 13.0), stroke, 3.0);
                let _ = write!(out, "<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{stroke}\"/>", N(cx + 8.0), N(row_top + 13.0));
            }
        }
        text(out, cx + 22.0, row_top + 19.0, "start", None, label);
        cx += w + 16.0;
    }
    out.push_str("</g>");
    row_top + 26.0
}

/// A label placed under an x axis: its tick's x, where its text starts, its anchor and text.
pub(crate) struct XLabel<'a> {
    pub x: f64,
    start: f64,
    anchor: &'static str,
    text: Cow<'a, str>,
}

/// The labels of `ticks` (x, text; in x order) anchored so none leaves
/// `[left, right]`: every one if none overlaps the next, else every second,
/// third… from the first, the fewest left out (keeping the last if possible).
pub(crate) fn x_labels<'a>(ticks: &[(f64, &'a str)], left: f64, right: f64) -> Vec<XLabel<'a>> {
    let placed: Vec<XLabel> = ticks
        .iter()
        .map(|(x, label)| {
            let text = fit(label, 240.0);
            let w = text_width(&text);
            let (start, anchor) = match *x {
                x if x - w / 2.0 < left => (x, "start"),
                x if x + w / 2.0 > right => (x - w, "end"),
                x => (x - w / 2.0, "middle"),
            };
            XLabel { x: *x, start, anchor, text }
        })
        .collect();
    let fits = |stride: usize| {
        let kept: Vec<&XLabel> = placed.iter().step_by(stride).collect();
        kept.windows(2).all(|pair| pair[0].start + text_width(&pair[0].text) + 12.0 <= pair[1].start)
    };
    // A stride that keeps the last label too, if one fits.
    let last = placed.len().saturating_sub(1).max(1);
    let stride =
        (1..=last).find(|s| last.is_multiple_of(*s) && fits(*s)).or_else(|| (1..=last).find(|s| fits(*s))).unwrap_or(placed.len().max(1));
    placed.into_iter().step_by(stride).collect()
}

/// Draws [`x_labels`] under an axis at `y`: tick marks from `y`, text below.
pub(crate) fn draw_x_labels(out: &mut String, labels: &[XLabel], y: f64) {
    out.push_str("<g class=\"rc-x-axis\">");
    for label in labels {
        line(out, (label.x, y), (label.x, y + 6.0), MUTED, 1.0);
        text(out, label.x, y + 24.0, label.anchor, None, &label.text);
    }
    out.push_str("</g>");
}

/// A value axis: `lo` to `hi` in steps of `step`, all finite, `hi > lo`.
pub(crate) struct Scale {
    pub lo: f64,
    pub hi: f64,
    step: f64,
}

impl Scale {
    /// A scale over `[min, max]` with round steps (1, 2 or 5 × 10ⁿ, at least
    /// 1: the values are counts) and about 4 intervals; from 0 if `from_zero`.
    pub(crate) fn new(min: f64, max: f64, from_zero: bool) -> Scale {
        let (min, max) = (if from_zero { 0.0 } else { min.min(max) }, max.max(min));
        // At least 1 (counts), and not below f64's resolution at this magnitude.
        let raw = ((max - min) / 4.0).max(max.abs() / 1e12).max(1.0);
        let base = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * base).find(|s| *s >= raw).unwrap_or(10.0 * base);
        let step = if step.is_finite() && step >= 1.0 { step } else { 1.0 };
        let mut lo = (min / step).floor() * step;
        let mut hi = (max / step).ceil() * step;
        if hi <= lo {
            (lo, hi) = (if from_zero { lo } else { (lo - step).max(0.0) }, hi + step);
        }
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            (lo, hi) = (0.0, 1.0);
        }
        Scale { lo, hi, step }
    }

    /// Where `v` lies, from 0 at `lo` to 1 at `hi`.
    pub(crate) fn at(&self, v: f64) -> f64 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }

    /// The tick values, `lo` to `hi` (at most 12).
    pub(crate) fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        (0..12).map(|k| self.lo + k as f64 * self.step).take_while(|v| *v <= self.hi + self.step * 1e-9)
    }
}

/// A value axis drawn at `left` from `bottom` up `height`: grid lines across
/// to `right` and the labels of [`Scale::ticks`] left of the axis.
pub(crate) fn y_axis(out: &mut String, scale: &Scale, left: f64, right: f64, bottom: f64, height: f64) {
    out.push_str("<g class=\"rc-y-axis\">");
    for v in scale.ticks() {
        let y = bottom - scale.at(v) * height;
        line(out, (left, y), (right, y), GRID, 1.0);
        text(out, left - 6.0, y + 6.0, "end", Some(MUTED), &short(v));
    }
    line(out, (left, bottom - height), (left, bottom), MUTED, 1.0);
    out.push_str("</g>");
}

/// The widest label [`y_axis`] writes for `scale`.
pub(crate) fn y_label_width(scale: &Scale) -> f64 {
    scale.ticks().map(|v| text_width(&short(v))).fold(0.0, f64::max)
}

/// A unix time in milliseconds as `2027-03-28 14:05 UTC`, for callers that
/// have no label of their own (the crate knows no time zones).
pub fn utc_minute(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days_from_civil, inverted.
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}
