//! A schedule as an admin gives it (time of day, time zone, interval),
//! checked once, and the questions the server asks of it: which runs come
//! after an instant, and which run was last due.

use jiff::civil::Time;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

use crate::runs::Runs;
use crate::{Run, runs};

/// The interval bounds: the wire contract's (`roster_proto::admin::Schedule`).
pub use roster_proto::admin::{MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES};

/// How far back [`Schedule::latest_run_at_or_before`] looks: two days, so
/// that every local date (whose slots all run within it, however its clock
/// moves) is covered once over, and a job down longer than that catches up
/// nothing older.
pub const CATCH_UP_WINDOW: SignedDuration = SignedDuration::from_hours(48);

/// The longest IANA time zone name accepted; the database's longest is 32.
const MAX_ZONE_NAME_CHARS: usize = 64;
const MINUTES_PER_DAY: u32 = 1440;

/// Why a schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{given}` is not a time of day: write it as HH:MM, 24-hour, two digits each, from 00:00 to 23:59")]
    BadTime { given: String },
    #[error("`{given}` is not a time zone in the IANA database: give a name such as Europe/Copenhagen, America/New_York or UTC")]
    UnknownZone { given: String },
    #[error("an interval of {given} minutes is too short: runs may be at most every {min} minutes")]
    IntervalTooShort { given: u32, min: u32 },
    #[error("an interval of {given} minutes is too long: the longest is {max} minutes (a day), the same as no interval")]
    IntervalTooLong { given: u32, max: u32 },
}

/// A valid schedule: a local time of day, a time zone and an optional
/// interval. Two schedules are equal when their time, zone name and
/// interval are.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// `daily_at` as given, `HH:MM`: shown back to the admin as entered.
    daily_at_text: String,
    /// `daily_at` parsed: the anchor every slot is aligned to.
    daily_at: Time,
    /// The zone's name as the tz database spells it (lookups ignore ASCII
    /// case, so `europe/copenhagen` is stored as `Europe/Copenhagen`).
    zone_name: String,
    /// The zone itself, looked up once so that computing runs reads no files.
    zone: TimeZone,
    interval_minutes: Option<u32>,
    /// The wall times of each local date's slots, ascending; never empty.
    slots: Vec<Time>,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        (self.daily_at, &self.zone_name, self.interval_minutes) == (other.daily_at, &other.zone_name, other.interval_minutes)
    }
}

impl Eq for Schedule {}

impl Schedule {
    /// Checks a schedule as an admin gives it.
    ///
    /// - `daily_at` is `HH:MM`, 24-hour, two digits each (`02:30`, not `2:30`
    ///   nor `24:00`);
    /// - `time_zone` is an IANA name (`Europe/Copenhagen`, `UTC`,
    ///   `Etc/UTC`, old names such as `US/Eastern` too), matched without
    ///   regard to ASCII case, as the tz database matches names, and kept as
    ///   the database spells it; blank names, names with spaces, `..` or a
    ///   leading `/`, `Etc/Unknown` and `Factory` are refused before any
    ///   lookup;
    /// - `interval_minutes`, when given, is from [`MIN_INTERVAL_MINUTES`] to
    ///   [`MAX_INTERVAL_MINUTES`]; it need not divide a day.
    ///
    /// Whether a name exists is the answer of the tz database compiled into
    /// the binary, so every replica accepts the same names; a zone's rules
    /// come from the system's zoneinfo (`/usr/share/zoneinfo`) where it has
    /// the zone, as it is updated with the system, else from the compiled
    /// database.
    pub fn new(daily_at: &str, time_zone: &str, interval_minutes: Option<u32>) -> Result<Schedule, ScheduleError> {
        let time = parse_daily_at(daily_at).ok_or_else(|| ScheduleError::BadTime { given: daily_at.to_owned() })?;
        let (zone_name, zone) = look_up_zone(time_zone).ok_or_else(|| ScheduleError::UnknownZone { given: time_zone.to_owned() })?;
        if let Some(given) = interval_minutes {
            if given < MIN_INTERVAL_MINUTES {
                return Err(ScheduleError::IntervalTooShort { given, min: MIN_INTERVAL_MINUTES });
            }
            if given > MAX_INTERVAL_MINUTES {
                return Err(ScheduleError::IntervalTooLong { given, max: MAX_INTERVAL_MINUTES });
            }
        }
        let slots = slots(time, interval_minutes);
        Ok(Schedule { daily_at_text: daily_at.to_owned(), daily_at: time, zone_name, zone, interval_minutes, slots })
    }

    /// The time zone's name, as the tz database spells it.
    pub fn time_zone_name(&self) -> &str {
        &self.zone_name
    }

    /// The time zone the schedule's wall times are in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The time of day as given, `HH:MM`.
    pub fn daily_at(&self) -> &str {
        &self.daily_at_text
    }

    /// The time of day every slot is aligned to.
    pub fn daily_at_time(&self) -> Time {
        self.daily_at
    }

    /// Minutes between runs, if an interval was given.
    pub fn interval_minutes(&self) -> Option<u32> {
        self.interval_minutes
    }

    /// The wall times of each local date's slots, ascending: `daily_at`
    /// alone without an interval.
    pub fn slot_times(&self) -> &[Time] {
        &self.slots
    }

    /// The runs due strictly after `after`, in order, without end (until
    /// [`Timestamp::MAX`], late in 9999). A run due exactly at `after` is
    /// not among them.
    pub fn runs_after(&self, after: Timestamp) -> Runs<'_> {
        Runs::new(&self.zone, &self.slots, after)
    }

    /// The latest run due at or before `at` (a run due exactly at `at` is
    /// it) and within [`CATCH_UP_WINDOW`] of it: the one run a job catches
    /// up on after downtime. `None` when no run was due in that window,
    /// which no real zone's rules produce.
    pub fn latest_run_at_or_before(&self, at: Timestamp) -> Option<Run> {
        let from = at.checked_sub(CATCH_UP_WINDOW).unwrap_or(Timestamp::MIN);
        self.runs_after(from).take_while(|run| run.at <= at).last()
    }
}

/// `HH:MM`, two digits each, 00:00 to 23:59.
fn parse_daily_at(text: &str) -> Option<Time> {
    let &[h1, h2, b':', m1, m2] = text.as_bytes() else {
        return None;
    };
    let digit = |byte: u8| byte.is_ascii_digit().then(|| (byte - b'0') as i8);
    let hour = digit(h1)? * 10 + digit(h2)?;
    let minute = digit(m1)? * 10 + digit(m2)?;
    Time::new(hour, minute, 0, 0).ok()
}

/// Looks a zone up by its IANA name, refusing what cannot be one before any
/// database sees it; returns the database's spelling of the name.
///
/// Which names exist is the bundled tz database's answer, the same on every
/// machine (a system's zoneinfo directory also holds `localtime`, the
/// server's own zone, and `posixrules`); the zone's rules come from the
/// system's zoneinfo where it has them, being updated with the system.
fn look_up_zone(name: &str) -> Option<(String, TimeZone)> {
    let plausible = !name.is_empty()
        && name.len() <= MAX_ZONE_NAME_CHARS
        && !name.starts_with('/')
        && !name.split('/').any(|part| part.is_empty() || part == "." || part == "..")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
    // `Etc/Unknown` is jiff's zone for "no zone known", `Factory` tzdb's for
    // "not set yet" (both shown as `-00`): never a tenant's zone.
    if !plausible || name.eq_ignore_ascii_case("Etc/Unknown") || name.eq_ignore_ascii_case("Factory") {
        return None;
    }
    let bundled = TimeZoneDatabase::bundled().get(name).ok()?;
    let spelled = bundled.iana_name().unwrap_or(name).to_owned();
    let zone = jiff::tz::db().get(&spelled).unwrap_or(bundled);
    Some((spelled, zone))
}

/// The wall times, from 00:00 to 23:59, a whole number of intervals from
/// `daily_at`.
fn slots(daily_at: Time, interval_minutes: Option<u32>) -> Vec<Time> {
    let anchor = u32::from(daily_at.hour().unsigned_abs()) * 60 + u32::from(daily_at.minute().unsigned_abs());
    let step = interval_minutes.unwrap_or(MINUTES_PER_DAY);
    (anchor % step..MINUTES_PER_DAY).step_by(step as usize).filter_map(runs::time_of_minute).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_to_daily_at() {
        let text = |times: &[Time]| times.iter().map(|t| t.strftime("%H:%M").to_string()).collect::<Vec<_>>().join(" ");
        for (daily_at, interval, expected) in [
            ("02:30", None, "02:30"),
            ("02:30", Some(1440), "02:30"),
            ("02:30", Some(720), "02:30 14:30"),
            ("02:30", Some(600), "02:30 12:30 22:30"),
            ("23:59", Some(1439), "00:00 23:59"),
            ("00:00", Some(1439), "00:00 23:59"),
            ("07:00", Some(300), "02:00 07:00 12:00 17:00 22:00"),
        ] {
            let schedule = Schedule::new(daily_at, "UTC", interval).unwrap();
            assert_eq!(text(schedule.slot_times()), expected, "{daily_at} every {interval:?}");
        }
        let hourly = Schedule::new("02:30", "UTC", Some(60)).unwrap();
        assert_eq!(hourly.slot_times().len(), 24);
        assert_eq!(text(&hourly.slot_times()[..3]), "00:30 01:30 02:30");
        assert_eq!(Schedule::new("00:03", "UTC", Some(5)).unwrap().slot_times().len(), 288);
    }
}
