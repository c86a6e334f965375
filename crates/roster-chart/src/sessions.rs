//! The sessions chart: a job's import sessions in time order, active users
//! after each (a line, top panel) over the changes each made (stacked bars,
//! bottom panel), sharing one x axis with a slot per session.

use std::borrow::Cow;
use std::fmt::Write;

use crate::svg::{
    self, BLACK, BLUE, GREEN, MUTED, N, PAD, PURPLE, Scale, Swatch, VERMILLION, WIDTH, count, legend, line, rect, text, utc_minute,
    x_labels, y_axis, y_label_width,
};

/// At most this many bars (and line points): more sessions are grouped, in
/// time order, into runs of equal length (the last may be shorter).
pub const MAX_SESSION_BARS: usize = 120;

/// One import session, as the chart needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// When the session ran (unix milliseconds): orders the sessions, and
    /// gives the label when `label` is `None`.
    pub at_unix_ms: i64,
    /// The session's time as the admin reads it, in the tenant's zone (the
    /// crate knows none); `None` or blank for [`utc_minute`] of `at_unix_ms`.
    /// Short labels (`3 Mar 14:05`) leave room for more axis ticks.
    pub label: Option<String>,
    /// Active users after the session: the line.
    pub active_users: u64,
    /// Users the session created: the first series of the bars.
    pub created: u64,
    /// Users it updated.
    pub updated: u64,
    /// Users it deactivated.
    pub deactivated: u64,
    /// Users it reactivated.
    pub reactivated: u64,
}

/// The input of [`sessions_chart`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionsChart {
    /// Makes the chart's element ids unique on the page (`{prefix}-title`,
    /// `{prefix}-desc`); kept to `[A-Za-z0-9_-]`.
    pub id_prefix: String,
    /// The accessible name (`<title>`); blank for "Import sessions".
    pub title: String,
    /// The sessions, in any order: the chart sorts them by time.
    pub sessions: Vec<Session>,
}

/// The bar series: name and colour, in stacking order from the axis up.
const SERIES: [(&str, &str); 4] = [("Created", GREEN), ("Updated", BLUE), ("Deactivated", VERMILLION), ("Reactivated", PURPLE)];

fn changes(s: &Session) -> [u64; 4] {
    [s.created, s.updated, s.deactivated, s.reactivated]
}

fn total(c: &[u64; 4]) -> u64 {
    c.iter().fold(0, |a, b| a.saturating_add(*b))
}

fn label(s: &Session) -> Cow<'_, str> {
    match &s.label {
        Some(l) if !l.trim().is_empty() => svg::cap(l),
        _ => Cow::Owned(utc_minute(s.at_unix_ms)),
    }
}

fn breakdown(c: &[u64; 4]) -> String {
    let parts: Vec<String> = SERIES.iter().zip(c).map(|((name, _), n)| format!("{} {}", name.to_lowercase(), count(*n))).collect();
    parts.join(", ")
}

/// Consecutive sessions drawn as one bar: the changes summed, the line at
/// the active users after the last of them.
struct Group<'a> {
    first: &'a Session,
    last: &'a Session,
    len: usize,
    changes: [u64; 4],
}

/// The chart as an `<svg>` element, or a small "No sessions yet" one.
///
/// The x axis gives each session (or group, past [`MAX_SESSION_BARS`]) an
/// equal slot in time order rather than spacing by time: sessions are the
/// unit, scheduled ones are near evenly spaced anyway, and a hand-started
/// import minutes after a scheduled one would otherwise be a hidden sliver.
/// The tick labels say when. The two panels have their own value axes (no
/// dual axis on one panel); the changes axis starts at zero, the active
/// users axis is fitted to the data.
pub fn sessions_chart(chart: &SessionsChart) -> String {
    let title = svg::title_or(&chart.title, "Import sessions");
    let mut sessions: Vec<&Session> = chart.sessions.iter().collect();
    sessions.sort_by_key(|s| s.at_unix_ms);
    let (Some(first), Some(last)) = (sessions.first(), sessions.last()) else {
        return svg::empty("sessions", &chart.id_prefix, &title, "No sessions yet");
    };
    let per_bar = sessions.len().div_ceil(MAX_SESSION_BARS);
    let groups: Vec<Group> = sessions
        .chunks(per_bar)
        .filter_map(|run| {
            let changes = run.iter().map(|s| changes(s)).fold([0u64; 4], |a, c| std::array::from_fn(|i| a[i].saturating_add(c[i])));
            Some(Group { first: run.first()?, last: run.last()?, len: run.len(), changes })
        })
        .collect();

    let users = groups.iter().map(|g| g.last.active_users as f64);
    let users = Scale::new(users.clone().fold(f64::INFINITY, f64::min), users.fold(0.0, f64::max), false);
    let bars = Scale::new(0.0, groups.iter().map(|g| total(&g.changes) as f64).fold(0.0, f64::max), true);
    let left = PAD + 8.0 + y_label_width(&users).max(y_label_width(&bars));
    let right = WIDTH - PAD;
    let slot = (right - left) / groups.len() as f64;
    let x_of = |i: usize| left + slot * (i as f64 + 0.5);
    let height = 140.0;

    let mut body = String::new();
    let users_top = legend(&mut body, &[(Swatch::Line(BLACK), "Active users")], PAD, PAD) + 8.0;
    let users_bottom = users_top + height;
    y_axis(&mut body, &users, left, right, users_bottom, height);
    let points: Vec<(f64, f64)> =
        groups.iter().enumerate().map(|(i, g)| (x_of(i), users_bottom - users.at(g.last.active_users as f64) * height)).collect();
    let _ = write!(
        body,
        "<polyline class=\"rc-line\" fill=\"none\" stroke=\"{BLACK}\" stroke-width=\"2.5\" stroke-linejoin=\"round\" points=\""
    );
    for (x, y) in &points {
        let _ = write!(body, "{},{} ", N(*x), N(*y));
    }
    body.push_str("\"/>");
    if points.len() <= 60 {
        for (x, y) in &points {
            let _ = write!(body, "<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{BLACK}\"/>", N(*x), N(*y));
        }
    }

    let caption = if per_bar == 1 { "Changes per session".to_owned() } else { format!("Changes per {per_bar} sessions (summed)") };
    let items: Vec<(Swatch, &str)> = SERIES.iter().map(|(name, colour)| (Swatch::Box(colour), *name)).collect();
    text(&mut body, PAD, users_bottom + 38.0, "start", Some(MUTED), &caption);
    let bars_top = legend(&mut body, &items, PAD, users_bottom + 44.0) + 8.0;
    let bars_bottom = bars_top + height;
    y_axis(&mut body, &bars, left, right, bars_bottom, height);
    let bar_w = (slot * 0.7).clamp(1.0, 40.0);
    for (i, g) in groups.iter().enumerate() {
        let when =
            if g.len == 1 { label(g.first).into_owned() } else { format!("{} to {}, {} sessions", label(g.first), label(g.last), g.len) };
        let _ = write!(
            body,
            "<g><title>{}: {} changes ({}); {} active users after</title>",
            svg::Esc(&when),
            count(total(&g.changes)),
            breakdown(&g.changes),
            count(g.last.active_users)
        );
        let mut below = 0u64;
        for ((_, colour), n) in SERIES.iter().zip(g.changes).filter(|(_, n)| *n > 0) {
            let top = below.saturating_add(n);
            let (y0, y1) = (bars_bottom - bars.at(below as f64) * height, bars_bottom - bars.at(top as f64) * height);
            rect(&mut body, x_of(i) - bar_w / 2.0, y1, bar_w, (y0 - y1).max(0.5), colour);
            below = top;
        }
        body.push_str("</g>");
    }
    line(&mut body, (left, bars_bottom), (right, bars_bottom), MUTED, 1.0);

    // Up to 13 evenly spaced candidates, thinned by `x_labels` until they fit.
    let labels: Vec<(f64, Cow<str>)> = (0..13.min(groups.len()))
        .map(|j| if groups.len() < 13 { j } else { j * (groups.len() - 1) / 12 })
        .filter_map(|i| Some((x_of(i), label(groups.get(i)?.first))))
        .collect();
    let ticks: Vec<(f64, &str)> = labels.iter().map(|(x, l)| (*x, l.as_ref())).collect();
    svg::draw_x_labels(&mut body, &x_labels(&ticks, left, right), bars_bottom);

    let desc = describe(&sessions, first, last, per_bar);
    svg::frame("sessions", &chart.id_prefix, &title, &desc, bars_bottom + 30.0 + PAD, &body)
}

/// The chart in words: how many sessions over which span, active users
/// from first to last, and the session with the most changes.
fn describe(sessions: &[&Session], first: &Session, last: &Session, per_bar: usize) -> String {
    let busiest = sessions.iter().rev().max_by_key(|s| total(&changes(s))).copied().unwrap_or(last);
    let most = total(&changes(busiest));
    let mut desc = if sessions.len() == 1 {
        format!(
            "1 session on {}; {} active users; {} changes ({})",
            label(first),
            count(first.active_users),
            count(most),
            breakdown(&changes(first))
        )
    } else {
        let users = format!("active users {} → {}", count(first.active_users), count(last.active_users));
        let changes = match most {
            0 => "no changes".to_owned(),
            _ => format!("most changes {} on {} ({})", count(most), label(busiest), breakdown(&changes(busiest))),
        };
        format!("{} sessions from {} to {}; {users}; {changes}", count(sessions.len() as u64), label(first), label(last))
    };
    desc.push('.');
    if per_bar > 1 {
        let _ = write!(desc, " Each bar sums up to {per_bar} sessions.");
    }
    desc
}
