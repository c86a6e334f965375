//! From local slots to runs: where a slot's wall time falls in real time,
//! across daylight saving gaps and folds, and the run's stable key.

use std::collections::VecDeque;
use std::iter::FusedIterator;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// One run of a schedule: a local slot and the instant it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The instant the run is due, before jitter.
    pub at: Timestamp,
    /// The slot's local date and wall time as scheduled, `YYYY-MM-DDTHH:MM`
    /// (`2027-03-28T02:30`, even when that wall time did not exist and the
    /// run moved): the same on every replica, stored under a unique
    /// constraint so the run starts once.
    pub key: String,
    /// The slot as scheduled: the local date and wall time the key names.
    pub slot: DateTime,
    /// The wall time the run is due at: the slot's, or the end of the gap
    /// it fell into.
    pub local: DateTime,
    /// The zone's UTC offset at `at`.
    pub offset: Offset,
    /// Set when the slot's wall time did not exist or existed twice.
    pub dst: Option<DstNote>,
    /// Whether the slot's local date holds a change of UTC offset (daylight
    /// saving or a change of standard time), so that it is not 24 hours
    /// long: the API marks such days.
    pub transition_day: bool,
}

/// How a slot's wall time met a change of the zone's UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstNote {
    /// The wall time `requested` did not exist (the clock sprang forward over
    /// it); the run is due at the first instant after the gap.
    Gap { requested: Time },
    /// The wall time existed twice (the clock fell back over it); the run is
    /// due once, at the first.
    Fold,
}

impl Run {
    /// The local wall time the run is due at with its offset, RFC 3339:
    /// `2027-03-28T03:00:00+02:00`.
    pub fn local_rfc3339(&self) -> String {
        self.at.display_with_offset(self.offset).to_string()
    }

    /// The instant the run starts: due time plus the job's [`crate::jitter`]
    /// (`seed` the job's UUID as a `u128`), never before it is due.
    pub fn start_at(&self, seed: u128, max_jitter_secs: u32) -> Timestamp {
        self.at.saturating_add(crate::jitter(seed, max_jitter_secs)).unwrap_or(Timestamp::MAX)
    }
}

/// A schedule's runs strictly after an instant, in increasing time, from
/// [`crate::Schedule::runs_after`]. Ends only where jiff's instants end
/// ([`Timestamp::MAX`], 9999-12-30T22:00Z).
#[derive(Debug, Clone)]
pub struct Runs<'s> {
    zone: &'s TimeZone,
    slots: &'s [Time],
    /// The latest instant already given (or `after` itself): every run given
    /// is later, which makes runs strictly increasing and merges slots that
    /// land on one instant into the first of them.
    floor: Timestamp,
    /// The next local date whose slots are to be worked out; `None` past
    /// the last date.
    next_date: Option<Date>,
    /// Runs of the dates worked out so far, not yet given.
    pending: VecDeque<Run>,
}

impl<'s> Runs<'s> {
    pub(crate) fn new(zone: &'s TimeZone, slots: &'s [Time], after: Timestamp) -> Runs<'s> {
        // A slot of an earlier local date can be due after `after` when it
        // falls into a gap that ends past midnight: start two dates back.
        let date = zone.to_datetime(after).date();
        let start = date.checked_sub(SignedDuration::from_hours(48)).unwrap_or(Date::MIN);
        Runs { zone, slots, floor: after, next_date: Some(start), pending: VecDeque::new() }
    }

    /// Works out the runs of the next local date.
    fn fill(&mut self, date: Date) {
        let transition_day = is_transition_day(self.zone, date);
        for &time in self.slots {
            let slot = date.to_datetime(time);
            let Some((at, dst)) = due(self.zone, slot) else { continue };
            if at <= self.floor {
                continue;
            }
            self.floor = at;
            self.pending.push_back(Run {
                at,
                key: key(slot),
                slot,
                local: self.zone.to_datetime(at),
                offset: self.zone.to_offset(at),
                dst,
                transition_day,
            });
        }
    }
}

impl Iterator for Runs<'_> {
    type Item = Run;

    fn next(&mut self) -> Option<Run> {
        loop {
            if let Some(run) = self.pending.pop_front() {
                return Some(run);
            }
            let date = self.next_date?;
            self.next_date = date.tomorrow().ok();
            self.fill(date);
        }
    }
}

impl FusedIterator for Runs<'_> {}

/// The instant a local slot is due: the first instant whose wall time is at
/// or past the slot's. For a wall time that exists once, that instant; in a
/// gap, the transition that opened it; in a fold, the earlier of the two.
/// `None` only at the ends of the representable range.
pub(crate) fn due(zone: &TimeZone, slot: DateTime) -> Option<(Timestamp, Option<DstNote>)> {
    let ambiguous = zone.to_ambiguous_timestamp(slot);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => Some((ambiguous.compatible().ok()?, None)),
        AmbiguousOffset::Fold { .. } => Some((ambiguous.earlier().ok()?, Some(DstNote::Fold))),
        AmbiguousOffset::Gap { .. } => {
            // Read with the offset after the gap, the slot lies before the
            // transition; with the offset before it, at or after. jiff's own
            // choices in a gap (`compatible`, `later`) take the latter, which
            // is as far past the gap's end as the slot is past its start.
            let before_gap = ambiguous.earlier().ok()?;
            let transition = zone.following(before_gap).next()?;
            Some((transition.timestamp(), Some(DstNote::Gap { requested: slot.time() })))
        }
    }
}

/// Whether a local date is not like others: it is not 24 hours long (from
/// its first instant to the next date's), or a transition falls inside it.
/// A transition at the very start of a date (a gap at midnight) belongs to
/// the date it shortens, not to the day before; a date skipped whole is one.
fn is_transition_day(zone: &TimeZone, date: Date) -> bool {
    let Some((start, _)) = due(zone, date.to_datetime(Time::midnight())) else { return false };
    let Some((end, _)) = date.tomorrow().ok().and_then(|next| due(zone, next.to_datetime(Time::midnight()))) else { return false };
    end.duration_since(start) != SignedDuration::from_hours(24)
        || zone.following(start).next().is_some_and(|transition| transition.timestamp() < end)
}

/// A run's key: the slot's local date and wall time to the minute.
fn key(slot: DateTime) -> String {
    format!("{:04}-{:02}-{:02}T{:02}:{:02}", slot.year(), slot.month(), slot.day(), slot.hour(), slot.minute())
}

/// The wall time `minute` minutes after midnight (0 to 1439).
pub(crate) fn time_of_minute(minute: u32) -> Option<Time> {
    let hour = i8::try_from(minute / 60).ok()?;
    let minute = i8::try_from(minute % 60).ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZoneDatabase;

    use super::*;

    /// The fallback for machines without tzdata: the compiled-in database
    /// gives the same runs as this machine's zoneinfo.
    #[test]
    fn the_bundled_database_gives_the_same_runs_as_the_system() {
        let bundled = TimeZoneDatabase::bundled();
        let slots: Vec<Time> =
            [(0, 0), (1, 30), (2, 0), (2, 30), (12, 0)].into_iter().map(|(h, m)| Time::new(h, m, 0, 0).unwrap()).collect();
        let after: Timestamp = "2026-12-31T00:00:00Z".parse().unwrap();
        for name in ["Europe/Copenhagen", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"] {
            let system = jiff::tz::db().get(name).unwrap();
            let compiled = bundled.get(name).unwrap();
            let from_system: Vec<Run> = Runs::new(&system, &slots, after).take(2000).collect();
            let from_bundled: Vec<Run> = Runs::new(&compiled, &slots, after).take(2000).collect();
            assert_eq!(from_system, from_bundled, "{name}");
        }
    }
}
