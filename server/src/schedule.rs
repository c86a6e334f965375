//! A job's schedule as the server uses it: checked from its wire form
//! (`roster_proto::admin::Schedule`), the next run to store with the job,
//! the run a due job starts, and the next runs the API shows. The calendar
//! arithmetic (time zones, daylight saving, slots) is `roster-schedule`'s;
//! this adds the job's jitter and the server's time type.

use jiff::Timestamp;
use roster_proto::JobId;
use roster_proto::admin::{self, ScheduledRun};
use roster_schedule::{DstNote, Run};

use crate::error::JobError;
use crate::store::UnixMillis;

/// How late a due run may start and still count as on time; later, the
/// server missed it (it was down or stalled) and the run is `caught_up`.
pub const ON_TIME_WITHIN_MS: i64 = 5 * 60 * 1000;

/// How many runs `GET /api/v1/jobs/{job}/schedule` shows.
pub const SHOWN_RUNS: usize = 5;

/// The schedule's calendar, or why it is refused.
pub fn checked(schedule: &admin::Schedule) -> Result<roster_schedule::Schedule, JobError> {
    roster_schedule::Schedule::new(&schedule.daily_at.to_string(), &schedule.time_zone, schedule.interval_minutes)
        .map_err(JobError::Schedule)
}

/// The schedule as stored: the zone as the time zone database spells it.
pub fn normalised(schedule: &admin::Schedule) -> Result<admin::Schedule, JobError> {
    let calendar = checked(schedule)?;
    Ok(admin::Schedule { time_zone: calendar.time_zone_name().to_owned(), ..schedule.clone() })
}

/// The next run a job stores: when it starts and the slot it runs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRun {
    pub starts_at: UnixMillis,
    /// [`run_key`].
    pub key: String,
}

/// A run's key, unique per job (`schedule_runs`): its local slot and the
/// zone whose clock it is on (`2027-03-28T02:30 Europe/Copenhagen`), so a
/// slot starts once, and a schedule moved to another zone does not take a
/// slot of the old one for its own.
pub fn run_key(calendar: &roster_schedule::Schedule, run: &Run) -> String {
    format!("{} {}", run.key, calendar.time_zone_name())
}

/// The runs of `calendar` whose start (slot plus the job's jitter) is
/// strictly after `now`, in order, with that start. A slot due up to the
/// jitter before `now` may still start after it.
fn starting_after(
    calendar: &roster_schedule::Schedule,
    job: JobId,
    jitter_secs: u32,
    now: UnixMillis,
) -> impl Iterator<Item = (Run, UnixMillis)> + '_ {
    let seed = job.as_uuid().as_u128();
    let from = timestamp(now.minus_ms(i64::from(jitter_secs) * 1000 + 1));
    calendar
        .runs_after(from)
        .map(move |run| {
            let starts = millis(run.start_at(seed, jitter_secs));
            (run, starts)
        })
        .filter(move |(_, starts)| starts.0 > now.0)
}

/// The job's first run that starts strictly after `now` (jitter
/// included), `None` while its schedule is disabled.
pub fn next_run(schedule: &admin::Schedule, job: JobId, jitter_secs: u32, now: UnixMillis) -> Result<Option<NextRun>, JobError> {
    if !schedule.enabled {
        return Ok(None);
    }
    let calendar = checked(schedule)?;
    let next = starting_after(&calendar, job, jitter_secs, now).next();
    Ok(next.map(|(run, starts_at)| NextRun { starts_at, key: run_key(&calendar, &run) }))
}

/// The run a job due at `due` starts at `now`: the slot it was due for if
/// it is on time, else (the server missed it) the latest slot due by now,
/// once, marked caught up, whatever the number of slots missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRun {
    pub key: String,
    pub caught_up: bool,
}

pub fn due_run(schedule: &admin::Schedule, due: &NextRun, now: UnixMillis) -> Result<DueRun, JobError> {
    if now.millis_since(due.starts_at) <= ON_TIME_WITHIN_MS {
        return Ok(DueRun { key: due.key.clone(), caught_up: false });
    }
    let calendar = checked(schedule)?;
    let latest = calendar.latest_run_at_or_before(timestamp(now));
    Ok(DueRun { key: latest.map_or_else(|| due.key.clone(), |run| run_key(&calendar, &run)), caught_up: true })
}

/// The job's next [`SHOWN_RUNS`] runs after `now`; none while disabled.
pub fn upcoming(schedule: &admin::Schedule, job: JobId, jitter_secs: u32, now: UnixMillis) -> Result<Vec<ScheduledRun>, JobError> {
    if !schedule.enabled {
        return Ok(Vec::new());
    }
    let calendar = checked(schedule)?;
    Ok(starting_after(&calendar, job, jitter_secs, now).take(SHOWN_RUNS).map(|(run, starts)| shown(&calendar, &run, starts)).collect())
}

fn shown(calendar: &roster_schedule::Schedule, run: &Run, starts: UnixMillis) -> ScheduledRun {
    let instant = timestamp(starts);
    let zone = calendar.time_zone_name();
    let date = run.slot.date();
    let dst_note = run.dst.map(|note| match note {
        DstNote::Gap { requested } => format!(
            "{} does not exist on {date} in {zone}: runs at {}, the end of the gap",
            requested.strftime("%H:%M"),
            run.local.time().strftime("%H:%M")
        ),
        DstNote::Fold => {
            format!("{} happens twice on {date} in {zone}: runs once, at the first", run.slot.time().strftime("%H:%M"))
        }
    });
    ScheduledRun {
        at: starts.to_datetime(),
        local: instant.display_with_offset(calendar.time_zone().to_offset(instant)).to_string(),
        slot: run.key.clone(),
        dst_day: run.transition_day,
        dst_note,
    }
}

fn timestamp(at: UnixMillis) -> Timestamp {
    Timestamp::from_millisecond(at.0).unwrap_or(if at.0 < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

fn millis(at: Timestamp) -> UnixMillis {
    UnixMillis(at.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(daily_at: &str, zone: &str, interval: Option<u32>) -> admin::Schedule {
        admin::Schedule { enabled: true, daily_at: daily_at.parse().unwrap(), time_zone: zone.into(), interval_minutes: interval }
    }

    fn at(rfc3339: &str) -> UnixMillis {
        UnixMillis(rfc3339.parse::<Timestamp>().unwrap().as_millisecond())
    }

    fn job() -> JobId {
        "0191e3f4-7c1a-7d2e-8f00-00000000abcd".parse().unwrap()
    }

    #[test]
    fn the_next_run_starts_after_now_with_the_jobs_jitter() {
        let copenhagen = schedule("02:00", "Europe/Copenhagen", None);
        let cases = [
            // (jitter, now, expected start, key)
            (0, "2027-01-10T00:30:00Z", "2027-01-10T01:00:00Z", "2027-01-10T02:00 Europe/Copenhagen"),
            (0, "2027-01-10T00:59:59Z", "2027-01-10T01:00:00Z", "2027-01-10T02:00 Europe/Copenhagen"),
            // Strictly after: a run due exactly now is not next.
            (0, "2027-01-10T01:00:00Z", "2027-01-11T01:00:00Z", "2027-01-11T02:00 Europe/Copenhagen"),
            (0, "2027-07-10T00:30:00Z", "2027-07-11T00:00:00Z", "2027-07-11T02:00 Europe/Copenhagen"),
        ];
        for (jitter, now, starts, key) in cases {
            let next = next_run(&copenhagen, job(), jitter, at(now)).unwrap().unwrap();
            assert_eq!(next, NextRun { starts_at: at(starts), key: key.into() }, "{now}");
        }
        // With jitter the start moves later, never earlier, and by the same amount every time.
        let jittered = next_run(&copenhagen, job(), 120, at("2027-01-09T12:00:00Z")).unwrap().unwrap();
        let offset = jittered.starts_at.millis_since(at("2027-01-10T01:00:00Z"));
        assert!((0..=120_000).contains(&offset), "{offset}");
        assert_eq!(next_run(&copenhagen, job(), 120, at("2027-01-09T12:00:00Z")).unwrap().unwrap(), jittered);
        // A slot already due but whose jittered start is still ahead is still next.
        let just_after_slot = UnixMillis(at("2027-01-10T01:00:00Z").0 + offset / 2);
        if offset > 2 {
            assert_eq!(next_run(&copenhagen, job(), 120, just_after_slot).unwrap().unwrap(), jittered);
        }
        let disabled = admin::Schedule { enabled: false, ..copenhagen };
        assert_eq!(next_run(&disabled, job(), 0, at("2027-01-09T12:00:00Z")).unwrap(), None);
    }

    #[test]
    fn a_run_key_names_its_zone() {
        // 02:00 UTC ran at 02:00Z; moved to New York at 03:00Z, 02:00 there (07:00Z) is another run, not that one.
        let now = at("2027-01-10T03:00:00Z");
        let utc = next_run(&schedule("02:00", "UTC", None), job(), 0, at("2027-01-10T01:00:00Z")).unwrap().unwrap();
        let new_york = next_run(&schedule("02:00", "America/New_York", None), job(), 0, now).unwrap().unwrap();
        assert_eq!(utc.key, "2027-01-10T02:00 UTC");
        assert_eq!(new_york, NextRun { starts_at: at("2027-01-10T07:00:00Z"), key: "2027-01-10T02:00 America/New_York".into() });
    }

    #[test]
    fn a_missed_run_is_caught_up_once_as_the_latest_slot() {
        let daily = schedule("02:00", "UTC", None);
        let due = NextRun { starts_at: at("2027-01-10T02:00:00Z"), key: "2027-01-10T02:00 UTC".into() };
        assert_eq!(due_run(&daily, &due, at("2027-01-10T02:00:05Z")).unwrap(), DueRun { key: due.key.clone(), caught_up: false });
        assert_eq!(due_run(&daily, &due, at("2027-01-10T02:04:59Z")).unwrap(), DueRun { key: due.key.clone(), caught_up: false });
        assert_eq!(due_run(&daily, &due, at("2027-01-10T09:00:00Z")).unwrap(), DueRun { key: due.key.clone(), caught_up: true });
        // Down for three days: one run, for the latest slot.
        assert_eq!(
            due_run(&daily, &due, at("2027-01-13T09:00:00Z")).unwrap(),
            DueRun { key: "2027-01-13T02:00 UTC".into(), caught_up: true }
        );
    }

    #[test]
    fn upcoming_runs_flag_daylight_saving() {
        let runs = upcoming(&schedule("02:30", "Europe/Copenhagen", None), job(), 0, at("2027-03-26T12:00:00Z")).unwrap();
        let shown: Vec<_> =
            runs.iter().map(|r| (r.at.to_string(), r.local.as_str(), r.slot.as_str(), r.dst_day, r.dst_note.is_some())).collect();
        assert_eq!(shown.len(), SHOWN_RUNS);
        assert_eq!(runs[0].local, "2027-03-27T02:30:00+01:00");
        assert!(!runs[0].dst_day);
        assert_eq!(runs[1].slot, "2027-03-28T02:30");
        assert_eq!(runs[1].local, "2027-03-28T03:00:00+02:00");
        assert_eq!(runs[1].at, at("2027-03-28T01:00:00Z").to_datetime());
        assert!(runs[1].dst_day);
        assert_eq!(
            runs[1].dst_note.as_deref(),
            Some("02:30 does not exist on 2027-03-28 in Europe/Copenhagen: runs at 03:00, the end of the gap")
        );
        assert_eq!(runs[2].local, "2027-03-29T02:30:00+02:00");
        assert!(!runs[2].dst_day && runs[2].dst_note.is_none(), "{shown:?}");
    }

    #[test]
    fn bad_schedules_are_refused_with_the_reason() {
        for (bad, says) in [
            (schedule("02:00", "Mars/Olympus", None), "Mars/Olympus"),
            (schedule("02:00", "UTC", Some(4)), "4 minutes"),
            (schedule("02:00", "UTC", Some(1441)), "1441 minutes"),
        ] {
            let error = checked(&bad).unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
        }
        assert_eq!(normalised(&schedule("02:00", "europe/copenhagen", None)).unwrap().time_zone, "Europe/Copenhagen");
    }
}
