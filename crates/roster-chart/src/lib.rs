//! Pictures for the admin console: plain data in, an inline `<svg>` element
//! out, as pure functions with no I/O and no dependencies.
//!
//! - [`sessions_chart`]: a job's import sessions, active users after each (a
//!   line) over the users each created, updated, deactivated and
//!   reactivated (stacked bars);
//! - [`heartbeat_chart`]: per agent, a strip of buckets over the last day,
//!   heard from or not;
//! - [`access_changes_chart`]: a linking preview, per access the users who
//!   would gain it (right) and lose it (left).
//!
//! What every chart keeps to:
//! - **Safe to embed under a strict CSP**: no script, no `style` attribute
//!   and no `<style>` element; colours are presentation attributes, which a
//!   console stylesheet may override (`.roster-chart`, per chart
//!   `.roster-chart-sessions`, `-heartbeats`, `-accesses`; inside,
//!   `.rc-legend`, `.rc-line`, `.rc-x-axis`, `.rc-y-axis`). Every caller-supplied string
//!   is XML-escaped (`& < > " '`), control characters dropped to U+FFFD.
//! - **Accessible**: `role="img"`, `aria-labelledby` naming a `<title>` and a
//!   `<desc>` whose ids start with the caller's prefix (kept to
//!   `[A-Za-z0-9_-]`; give each chart on a page its own). The `<desc>`
//!   says the gist in words; bars carry `<title>` tooltips with exact values.
//!   Colours are Okabe–Ito (colour-blind safe), each ≥ 3:1 on white; text is
//!   black or `#595959` (7:1); legends name every series and counts carry
//!   signs, so colour is never the only cue.
//! - **Responsive**: a viewBox 640 wide, `width="100%"`, no fixed size; text
//!   is 18 units, ~11 px on a 390 px phone. Cap the width on large screens in
//!   the console's stylesheet (`.roster-chart { max-width: 48rem }`).
//! - **Long labels** are cut with an ellipsis to the room they have, and to
//!   100 characters where written in full (title, description, tooltips).
//! - **Bounded**: past [`MAX_SESSION_BARS`] sessions are grouped, past
//!   [`MAX_AGENT_ROWS`] agents and [`MAX_ACCESS_ROWS`] accesses are counted
//!   not drawn, strips have at most [`MAX_HEARTBEAT_COLUMNS`] cells; no input
//!   gives NaN or infinity, and empty input gives a small chart saying so.

mod access;
mod heartbeat;
mod sessions;
mod svg;

pub use access::{AccessChange, AccessChangesChart, MAX_ACCESS_ROWS, access_changes_chart};
pub use heartbeat::{AgentHeartbeats, HeartbeatChart, MAX_AGENT_ROWS, MAX_HEARTBEAT_COLUMNS, Tick, heartbeat_chart};
pub use sessions::{MAX_SESSION_BARS, Session, SessionsChart, sessions_chart};
pub use svg::utc_minute;
