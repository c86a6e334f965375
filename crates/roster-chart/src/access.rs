//! The linking preview: per access, the users who would gain and lose it,
//! as a diverging bar chart (losses left, gains right, counts beside).

use std::fmt::Write;

use crate::svg::{self, BLUE, MUTED, PAD, Swatch, VERMILLION, WIDTH, count, fit, legend, line, rect, short, text, text_width};

/// At most this many access rows; the rest are counted with their totals.
pub const MAX_ACCESS_ROWS: usize = 25;

/// One access's change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChange {
    /// The access's name, as the admin knows it.
    pub name: String,
    /// Users who would gain it: a bar to the right.
    pub gains: u64,
    /// Users who would lose it: a bar to the left.
    pub losses: u64,
}

/// The input of [`access_changes_chart`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChangesChart {
    /// Makes the chart's element ids unique on the page; kept to `[A-Za-z0-9_-]`.
    pub id_prefix: String,
    /// The accessible name (`<title>`); blank for "Access changes".
    pub title: String,
    /// The accesses, in the order they are shown; those with neither gains
    /// nor losses are left out, past [`MAX_ACCESS_ROWS`] they are only counted.
    pub accesses: Vec<AccessChange>,
}

/// The chart as an `<svg>` element, or a small "No change in accesses" one.
/// Both sides share one scale, so bar lengths compare across the centre;
/// counts carry their sign (`+12`, `−3`) so colour is never the only cue.
pub fn access_changes_chart(chart: &AccessChangesChart) -> String {
    let title = svg::title_or(&chart.title, "Access changes");
    let changed: Vec<&AccessChange> = chart.accesses.iter().filter(|a| a.gains > 0 || a.losses > 0).collect();
    if changed.is_empty() {
        return svg::empty("accesses", &chart.id_prefix, &title, "No change in accesses");
    }
    let (shown, rest) = changed.split_at(changed.len().min(MAX_ACCESS_ROWS));
    let gain_label = |a: &AccessChange| format!("+{}", short(a.gains as f64));
    let loss_label = |a: &AccessChange| format!("\u{2212}{}", short(a.losses as f64));
    let reserve = shown.iter().map(|a| text_width(&gain_label(a)).max(text_width(&loss_label(a)))).fold(0.0, f64::max) + 8.0;
    let centre = WIDTH / 2.0;
    let half = centre - PAD - reserve;
    let most = shown.iter().map(|a| a.gains.max(a.losses)).max().unwrap_or(1).max(1) as f64;

    let mut body = String::new();
    let items = [(Swatch::Box(VERMILLION), "Losses (\u{2212}, left)"), (Swatch::Box(BLUE), "Gains (+, right)")];
    let rows_top = legend(&mut body, &items, PAD, PAD) + 6.0;
    for (row, a) in shown.iter().enumerate() {
        let top = rows_top + 54.0 * row as f64;
        text(&mut body, PAD, top + 19.0, "start", None, &fit(&a.name, WIDTH - 2.0 * PAD));
        let _ = write!(body, "<g><title>{}: +{} / \u{2212}{}</title>", svg::Esc(&svg::cap(&a.name)), count(a.gains), count(a.losses));
        if a.losses > 0 {
            let w = (a.losses as f64 / most * half).max(1.0);
            rect(&mut body, centre - w, top + 26.0, w, 20.0, VERMILLION);
            text(&mut body, centre - w - 6.0, top + 42.0, "end", None, &loss_label(a));
        }
        if a.gains > 0 {
            let w = (a.gains as f64 / most * half).max(1.0);
            rect(&mut body, centre, top + 26.0, w, 20.0, BLUE);
            text(&mut body, centre + w + 6.0, top + 42.0, "start", None, &gain_label(a));
        }
        body.push_str("</g>");
    }
    let bottom = rows_top + 54.0 * shown.len() as f64;
    line(&mut body, (centre, rows_top + 22.0), (centre, bottom - 4.0), MUTED, 1.5);

    let sum = |list: &[&AccessChange], f: fn(&AccessChange) -> u64| list.iter().fold(0u64, |t, a| t.saturating_add(f(a)));
    let mut height = bottom + PAD;
    if !rest.is_empty() {
        let more = format!(
            "and {} more: +{} / \u{2212}{}",
            count(rest.len() as u64),
            count(sum(rest, |a| a.gains)),
            count(sum(rest, |a| a.losses))
        );
        text(&mut body, PAD, bottom + 14.0, "start", Some(MUTED), &fit(&more, WIDTH - 2.0 * PAD));
        height += 24.0;
    }

    let (gains, losses) = (sum(&changed, |a| a.gains), sum(&changed, |a| a.losses));
    let plural = if changed.len() == 1 { "access changes" } else { "accesses change" };
    let mut desc = format!("{} {plural}: {} gains and {} losses in all.", count(changed.len() as u64), count(gains), count(losses));
    if let Some(top) = changed.iter().filter(|a| a.gains > 0).rev().max_by_key(|a| a.gains) {
        let _ = write!(desc, " Most gains: {} (+{}).", svg::cap(&top.name), count(top.gains));
    }
    if let Some(top) = changed.iter().filter(|a| a.losses > 0).rev().max_by_key(|a| a.losses) {
        let _ = write!(desc, " Most losses: {} (\u{2212}{}).", svg::cap(&top.name), count(top.losses));
    }
    if !rest.is_empty() {
        let _ = write!(desc, " The first {} are shown.", shown.len());
    }
    svg::frame("accesses", &chart.id_prefix, &title, &desc, height, &body)
}
