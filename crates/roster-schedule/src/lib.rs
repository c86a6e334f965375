//! A job's import schedule in the tenant's own time zone: when runs are due,
//! as pure functions. No I/O and no clock: callers pass "now".
//!
//! The rules, in one place:
//! - a [`Schedule`] is a local time of day (`daily_at`, `HH:MM`), an IANA
//!   time zone and an optional interval of [`MIN_INTERVAL_MINUTES`] to
//!   [`MAX_INTERVAL_MINUTES`] minutes;
//! - without an interval a schedule has one **slot** per local date, at
//!   `daily_at`; with an interval of N minutes, the slots of a local date are
//!   the wall times from 00:00 to 23:59 that lie a whole number of N-minute
//!   steps from `daily_at` (02:30 every 60 minutes: 00:30, 01:30 … 23:30);
//! - a slot whose wall time does not exist (the clock springs forward over
//!   it) runs at the first instant after the gap, the instant of the
//!   transition; a slot whose wall time exists twice (the clock falls back)
//!   runs once, at the earlier instant;
//! - slots that land on the same instant (several slots in one gap) are one
//!   run, named by the first of them, so runs are strictly increasing in time
//!   and each local slot runs at most once;
//! - each [`Run`] has a stable [`Run::key`], the slot's local date and wall
//!   time as written (`2027-03-28T02:30`), which the server stores under a
//!   unique constraint so that a run starts once however many replicas see
//!   it due;
//! - [`jitter`] spreads the starts of many jobs due at the same time:
//!   deterministic per job, never negative, so a run never starts before
//!   its time.

mod jitter;
mod runs;
mod schedule;

pub use jitter::jitter;
pub use runs::{DstNote, Run, Runs};
pub use schedule::{CATCH_UP_WINDOW, MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES, Schedule, ScheduleError};
