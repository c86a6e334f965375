//! The heartbeat chart: per agent, a strip of time buckets over the last day,
//! each heard from or not, under the agent's name and how many were heard.

use std::borrow::Cow;
use std::fmt::Write;

use crate::svg::{self, BLUE, EMPTY, GRID, MUTED, N, PAD, Swatch, WIDTH, count, fit, legend, line, rect, text, text_width, x_labels};

/// At most this many agent rows; the rest are counted ("and 990 more agents").
pub const MAX_AGENT_ROWS: usize = 20;

/// At most this many cells a strip: with more buckets, each cell covers
/// several consecutive ones and is heard if any of them is.
pub const MAX_HEARTBEAT_COLUMNS: usize = 288;

/// One agent's heartbeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentHeartbeats {
    /// The agent's name, as the admin knows it.
    pub name: String,
    /// Whether the agent was heard in each bucket, oldest first; missing
    /// buckets count as not heard, extra ones are ignored.
    pub heard: Vec<bool>,
}

/// A labelled point on the time axis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// Where: the number of buckets from the window's start (0 is the start,
    /// [`HeartbeatChart::buckets`] the end).
    pub bucket: usize,
    /// What it reads, in the tenant's zone (`14:00`, `Tue 00:00`); labels
    /// that would overlap the one before are left out.
    pub label: String,
}

/// The input of [`heartbeat_chart`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatChart {
    /// Makes the chart's element ids unique on the page; kept to `[A-Za-z0-9_-]`.
    pub id_prefix: String,
    /// The accessible name (`<title>`); blank for "Agent heartbeats".
    pub title: String,
    /// How many buckets the window has (288 five-minute ones for a day).
    pub buckets: usize,
    /// The agents, in the order they are shown: put first the ones an admin
    /// should see, past [`MAX_AGENT_ROWS`] they are only counted.
    pub agents: Vec<AgentHeartbeats>,
    /// The axis labels (hours, the window's start and end), in any order.
    pub ticks: Vec<Tick>,
}

/// The chart as an `<svg>` element, or a small "No heartbeats in the last
/// day" one when there are no agents or no buckets. An agent never heard
/// still gets its (empty) row: which agent is silent is the point.
pub fn heartbeat_chart(chart: &HeartbeatChart) -> String {
    let title = svg::title_or(&chart.title, "Agent heartbeats");
    let n = chart.buckets;
    if chart.agents.is_empty() || n == 0 {
        return svg::empty("heartbeats", &chart.id_prefix, &title, "No heartbeats in the last day");
    }
    let heard = |a: &AgentHeartbeats| a.heard.iter().take(n).filter(|h| **h).count();
    let anyone = chart.agents.iter().any(|a| heard(a) > 0);
    let (left, width) = (PAD, WIDTH - 2.0 * PAD);
    let cols = n.min(MAX_HEARTBEAT_COLUMNS);
    // The first bucket of column `c` (u128: `buckets` may be anything).
    let from = |c: usize| (c as u128 * n as u128 / cols as u128) as usize;

    let mut body = String::new();
    let rows_top = if anyone {
        legend(&mut body, &[(Swatch::Box(BLUE), "Heard"), (Swatch::Box(EMPTY), "Not heard")], PAD, PAD) + 6.0
    } else {
        text(&mut body, PAD, PAD + 19.0, "start", Some(MUTED), "No heartbeats in the last day");
        PAD + 32.0
    };
    let shown = &chart.agents[..chart.agents.len().min(MAX_AGENT_ROWS)];
    let axis_y = rows_top + 54.0 * shown.len() as f64 - 9.0;
    let mut ticks: Vec<(f64, &str)> =
        chart.ticks.iter().map(|t| (left + width * t.bucket.min(n) as f64 / n as f64, t.label.as_str())).collect();
    ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let labels = x_labels(&ticks, left, WIDTH - PAD);
    for label in &labels {
        line(&mut body, (label.x, rows_top), (label.x, axis_y), GRID, 1.0);
    }
    for (row, agent) in shown.iter().enumerate() {
        let top = rows_top + 54.0 * row as f64;
        let got = heard(agent);
        let tally = match got {
            0 => "not heard".to_owned(),
            g if g == n => format!("heard in all {}", count(n as u64)),
            g => format!("heard {} of {}", count(g as u64), count(n as u64)),
        };
        text(&mut body, WIDTH - PAD, top + 19.0, "end", Some(MUTED), &tally);
        text(&mut body, left, top + 19.0, "start", None, &fit(&agent.name, width - text_width(&tally) - 16.0));
        rect(&mut body, left, top + 27.0, width, 18.0, EMPTY);
        let mut cells = String::new();
        let on = |c: usize| agent.heard.get(from(c)..from(c + 1).min(agent.heard.len())).is_some_and(|b| b.contains(&true));
        let mut c = 0;
        while c < cols {
            if !on(c) {
                c += 1;
                continue;
            }
            let start = c;
            while c < cols && on(c) {
                c += 1;
            }
            let (x, w) = (left + width * start as f64 / cols as f64, width * (c - start) as f64 / cols as f64);
            let _ = write!(cells, "M{} {}h{}v18h-{}z", N(x), N(top + 27.0), N(w), N(w));
        }
        if !cells.is_empty() {
            let _ = write!(body, "<path fill=\"{BLUE}\" d=\"{cells}\"/>");
        }
    }
    svg::draw_x_labels(&mut body, &labels, axis_y);
    let hidden = chart.agents.len() - shown.len();
    let mut bottom = axis_y + 30.0;
    if hidden > 0 {
        text(&mut body, left, bottom + 22.0, "start", Some(MUTED), &format!("and {} more agents", count(hidden as u64)));
        bottom += 30.0;
    }

    let desc = describe(chart, &ticks, heard, shown.len());
    svg::frame("heartbeats", &chart.id_prefix, &title, &desc, bottom + PAD, &body)
}

/// The chart in words: how many agents over which window, how many were
/// heard throughout, sometimes and never, and the first few never heard.
fn describe(chart: &HeartbeatChart, ticks: &[(f64, &str)], heard: impl Fn(&AgentHeartbeats) -> usize, shown: usize) -> String {
    let n = chart.buckets;
    let agents = chart.agents.len();
    let all = chart.agents.iter().filter(|a| heard(a) == n).count();
    let never: Vec<&AgentHeartbeats> = chart.agents.iter().filter(|a| heard(a) == 0).collect();
    let plural = |k: usize, one: &str, many: &str| format!("{} {}", count(k as u64), if k == 1 { one } else { many });
    let mut desc = plural(agents, "agent", "agents");
    let _ = write!(desc, " over {}", plural(n, "interval", "intervals"));
    if let (Some((_, a)), Some((_, b))) = (ticks.first(), ticks.last()) {
        let _ = write!(desc, " from {} to {}", svg::cap(a), svg::cap(b));
    }
    if never.len() == agents {
        desc.push_str(": no heartbeats in the last day.");
    } else {
        let _ = write!(
            desc,
            ": {} heard in every interval, {} in some, {} never.",
            count(all as u64),
            count((agents - all - never.len()) as u64),
            count(never.len() as u64)
        );
    }
    if !never.is_empty() && never.len() < agents {
        let names: Vec<Cow<str>> = never.iter().take(5).map(|a| svg::cap(&a.name)).collect();
        let _ = write!(desc, " Never heard: {}", names.join(", "));
        if never.len() > 5 {
            let _ = write!(desc, " and {} more", count(never.len() as u64 - 5));
        }
        desc.push('.');
    }
    if shown < agents {
        let _ = write!(desc, " The first {shown} are shown.");
    }
    desc
}
