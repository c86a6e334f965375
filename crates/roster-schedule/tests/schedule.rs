//! Schedules against the tz database: runs across daylight saving gaps and
//! folds in zones north and south, whole-hour and half-hour, the strictness
//! of the run queries, refusals, and jitter. Tables of plain data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use roster_schedule::{CATCH_UP_WINDOW, DstNote, Run, Schedule, ScheduleError, jitter};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A run as one line: `key | due (UTC) | local wall time with offset | note`,
/// the note naming a transition day (`day`) and a gap or fold.
fn line(run: &Run) -> String {
    let mut note = Vec::new();
    if run.transition_day {
        note.push("day".to_owned());
    }
    match run.dst {
        None => {}
        Some(DstNote::Gap { requested }) => note.push(format!("gap {}", requested.strftime("%H:%M"))),
        Some(DstNote::Fold) => note.push("fold".to_owned()),
    }
    format!("{} | {} | {} | {}", run.key, run.at, run.local_rfc3339(), note.join(" ")).trim_end().to_owned()
}

/// (zone, daily_at, interval, after, the next runs as [`line`]s)
type RunsCase = (&'static str, &'static str, Option<u32>, &'static str, &'static [&'static str]);

#[test]
fn runs_across_gaps_and_folds() {
    let table: &[RunsCase] = &[
        // Copenhagen springs forward 02:00 → 03:00 at 01:00Z.
        (
            "Europe/Copenhagen",
            "02:30",
            None,
            "2027-03-26T12:00:00Z",
            &[
                "2027-03-27T02:30 | 2027-03-27T01:30:00Z | 2027-03-27T02:30:00+01:00 |",
                "2027-03-28T02:30 | 2027-03-28T01:00:00Z | 2027-03-28T03:00:00+02:00 | day gap 02:30",
                "2027-03-29T02:30 | 2027-03-29T00:30:00Z | 2027-03-29T02:30:00+02:00 |",
            ],
        ),
        // …and falls back 03:00 → 02:00 at 01:00Z: 02:30 runs at its first.
        (
            "Europe/Copenhagen",
            "02:30",
            None,
            "2027-10-30T00:00:00Z",
            &[
                "2027-10-30T02:30 | 2027-10-30T00:30:00Z | 2027-10-30T02:30:00+02:00 |",
                "2027-10-31T02:30 | 2027-10-31T00:30:00Z | 2027-10-31T02:30:00+02:00 | day fold",
                "2027-11-01T02:30 | 2027-11-01T01:30:00Z | 2027-11-01T02:30:00+01:00 |",
            ],
        ),
        // A slot outside the transition's hour, on its day.
        (
            "Europe/Copenhagen",
            "12:00",
            None,
            "2027-03-28T00:00:00Z",
            &["2027-03-28T12:00 | 2027-03-28T10:00:00Z | 2027-03-28T12:00:00+02:00 | day"],
        ),
        // Hourly at half past: the gap's slot moves to 03:00, others keep their time.
        (
            "Europe/Copenhagen",
            "02:30",
            Some(60),
            "2027-03-27T23:00:00Z",
            &[
                "2027-03-28T00:30 | 2027-03-27T23:30:00Z | 2027-03-28T00:30:00+01:00 | day",
                "2027-03-28T01:30 | 2027-03-28T00:30:00Z | 2027-03-28T01:30:00+01:00 | day",
                "2027-03-28T02:30 | 2027-03-28T01:00:00Z | 2027-03-28T03:00:00+02:00 | day gap 02:30",
                "2027-03-28T03:30 | 2027-03-28T01:30:00Z | 2027-03-28T03:30:00+02:00 | day",
            ],
        ),
        // Every 30 minutes: 02:00, 02:30 (in the gap) and 03:00 share one
        // instant and are one run, named by the first.
        (
            "Europe/Copenhagen",
            "00:00",
            Some(30),
            "2027-03-28T00:00:00Z",
            &[
                "2027-03-28T01:30 | 2027-03-28T00:30:00Z | 2027-03-28T01:30:00+01:00 | day",
                "2027-03-28T02:00 | 2027-03-28T01:00:00Z | 2027-03-28T03:00:00+02:00 | day gap 02:00",
                "2027-03-28T03:30 | 2027-03-28T01:30:00Z | 2027-03-28T03:30:00+02:00 | day",
            ],
        ),
        // Every 30 minutes across the fold: 02:00 and 02:30 once each, at
        // their first; nothing while the hour repeats (00:30Z → 02:00Z).
        (
            "Europe/Copenhagen",
            "00:00",
            Some(30),
            "2027-10-30T23:00:00Z",
            &[
                "2027-10-31T01:30 | 2027-10-30T23:30:00Z | 2027-10-31T01:30:00+02:00 | day",
                "2027-10-31T02:00 | 2027-10-31T00:00:00Z | 2027-10-31T02:00:00+02:00 | day fold",
                "2027-10-31T02:30 | 2027-10-31T00:30:00Z | 2027-10-31T02:30:00+02:00 | day fold",
                "2027-10-31T03:00 | 2027-10-31T02:00:00Z | 2027-10-31T03:00:00+01:00 | day",
                "2027-10-31T03:30 | 2027-10-31T02:30:00Z | 2027-10-31T03:30:00+01:00 | day",
            ],
        ),
        // New York springs forward 02:00 → 03:00 at 07:00Z…
        (
            "America/New_York",
            "02:30",
            None,
            "2027-03-13T00:00:00Z",
            &[
                "2027-03-13T02:30 | 2027-03-13T07:30:00Z | 2027-03-13T02:30:00-05:00 |",
                "2027-03-14T02:30 | 2027-03-14T07:00:00Z | 2027-03-14T03:00:00-04:00 | day gap 02:30",
                "2027-03-15T02:30 | 2027-03-15T06:30:00Z | 2027-03-15T02:30:00-04:00 |",
            ],
        ),
        // …and falls back 02:00 → 01:00 at 06:00Z.
        (
            "America/New_York",
            "01:30",
            None,
            "2027-11-06T00:00:00Z",
            &[
                "2027-11-06T01:30 | 2027-11-06T05:30:00Z | 2027-11-06T01:30:00-04:00 |",
                "2027-11-07T01:30 | 2027-11-07T05:30:00Z | 2027-11-07T01:30:00-04:00 | day fold",
                "2027-11-08T01:30 | 2027-11-08T06:30:00Z | 2027-11-08T01:30:00-05:00 |",
            ],
        ),
        // Sydney falls back 03:00 → 02:00 in April (16:00Z the day before)…
        (
            "Australia/Sydney",
            "02:30",
            None,
            "2027-04-02T00:00:00Z",
            &[
                "2027-04-03T02:30 | 2027-04-02T15:30:00Z | 2027-04-03T02:30:00+11:00 |",
                "2027-04-04T02:30 | 2027-04-03T15:30:00Z | 2027-04-04T02:30:00+11:00 | day fold",
                "2027-04-05T02:30 | 2027-04-04T16:30:00Z | 2027-04-05T02:30:00+10:00 |",
            ],
        ),
        // …and springs forward 02:00 → 03:00 in October.
        (
            "Australia/Sydney",
            "02:30",
            None,
            "2027-10-01T00:00:00Z",
            &[
                "2027-10-02T02:30 | 2027-10-01T16:30:00Z | 2027-10-02T02:30:00+10:00 |",
                "2027-10-03T02:30 | 2027-10-02T16:00:00Z | 2027-10-03T03:00:00+11:00 | day gap 02:30",
                "2027-10-04T02:30 | 2027-10-03T15:30:00Z | 2027-10-04T02:30:00+11:00 |",
            ],
        ),
        // Lord Howe Island moves by half an hour: 02:00 → 02:30 in October…
        (
            "Australia/Lord_Howe",
            "02:15",
            None,
            "2027-10-01T00:00:00Z",
            &[
                "2027-10-02T02:15 | 2027-10-01T15:45:00Z | 2027-10-02T02:15:00+10:30 |",
                "2027-10-03T02:15 | 2027-10-02T15:30:00Z | 2027-10-03T02:30:00+11:00 | day gap 02:15",
                "2027-10-04T02:15 | 2027-10-03T15:15:00Z | 2027-10-04T02:15:00+11:00 |",
            ],
        ),
        // …and 02:00 → 01:30 in April.
        (
            "Australia/Lord_Howe",
            "01:45",
            None,
            "2027-04-02T00:00:00Z",
            &[
                "2027-04-03T01:45 | 2027-04-02T14:45:00Z | 2027-04-03T01:45:00+11:00 |",
                "2027-04-04T01:45 | 2027-04-03T14:45:00Z | 2027-04-04T01:45:00+11:00 | day fold",
                "2027-04-05T01:45 | 2027-04-04T15:15:00Z | 2027-04-05T01:45:00+10:30 |",
            ],
        ),
        // Kolkata: half an hour off UTC, no daylight saving.
        (
            "Asia/Kolkata",
            "02:30",
            Some(720),
            "2027-03-28T00:00:00Z",
            &[
                "2027-03-28T14:30 | 2027-03-28T09:00:00Z | 2027-03-28T14:30:00+05:30 |",
                "2027-03-29T02:30 | 2027-03-28T21:00:00Z | 2027-03-29T02:30:00+05:30 |",
                "2027-03-29T14:30 | 2027-03-29T09:00:00Z | 2027-03-29T14:30:00+05:30 |",
            ],
        ),
        // UTC: no transitions; a run exactly at `after` is not next.
        (
            "UTC",
            "00:00",
            None,
            "2027-03-28T00:00:00Z",
            &[
                "2027-03-29T00:00 | 2027-03-29T00:00:00Z | 2027-03-29T00:00:00+00:00 |",
                "2027-03-30T00:00 | 2027-03-30T00:00:00Z | 2027-03-30T00:00:00+00:00 |",
            ],
        ),
        (
            "Etc/UTC",
            "23:59",
            Some(1439),
            "2027-03-28T00:00:00Z",
            &[
                "2027-03-28T23:59 | 2027-03-28T23:59:00Z | 2027-03-28T23:59:00+00:00 |",
                "2027-03-29T00:00 | 2027-03-29T00:00:00Z | 2027-03-29T00:00:00+00:00 |",
                "2027-03-29T23:59 | 2027-03-29T23:59:00Z | 2027-03-29T23:59:00+00:00 |",
            ],
        ),
        // Samoa skipped 2011-12-30 whole (-10 → +14 at midnight): that date's
        // slot runs at the first instant of the 31st; only the 30th, zero
        // hours long, is a transition day.
        (
            "Pacific/Apia",
            "12:00",
            None,
            "2011-12-29T00:00:00Z",
            &[
                "2011-12-29T12:00 | 2011-12-29T22:00:00Z | 2011-12-29T12:00:00-10:00 |",
                "2011-12-30T12:00 | 2011-12-30T10:00:00Z | 2011-12-31T00:00:00+14:00 | day gap 12:00",
                "2011-12-31T12:00 | 2011-12-30T22:00:00Z | 2011-12-31T12:00:00+14:00 |",
            ],
        ),
    ];
    for &(zone, daily_at, interval, after, expected) in table {
        let schedule = Schedule::new(daily_at, zone, interval).unwrap();
        let runs: Vec<String> = schedule.runs_after(ts(after)).take(expected.len()).map(|run| line(&run)).collect();
        assert_eq!(runs, expected, "{zone} {daily_at} every {interval:?} after {after}");
    }
}

#[test]
fn a_daily_schedule_runs_once_on_every_local_date() {
    for (zone, daily_at) in [
        ("Europe/Copenhagen", "02:30"),
        ("Europe/Copenhagen", "02:00"),
        ("Europe/Copenhagen", "00:00"),
        ("America/New_York", "02:30"),
        ("America/New_York", "01:30"),
        ("Australia/Sydney", "02:30"),
        ("Australia/Lord_Howe", "01:45"),
        ("Australia/Lord_Howe", "02:15"),
        ("Asia/Kolkata", "23:59"),
        ("America/Santiago", "00:00"),
        ("UTC", "12:00"),
    ] {
        let schedule = Schedule::new(daily_at, zone, None).unwrap();
        let runs: Vec<Run> = schedule.runs_after(ts("2026-12-31T23:00:00Z")).take(400).collect();
        let mut date = runs[0].slot.date();
        let mut transition_days = 0;
        for pair in runs.windows(2) {
            assert!(pair[0].at < pair[1].at, "{zone} {daily_at}: {} then {}", line(&pair[0]), line(&pair[1]));
            assert_eq!(pair[1].slot.date(), date.tomorrow().unwrap(), "{zone} {daily_at}: a date skipped or repeated");
            date = pair[1].slot.date();
        }
        for run in &runs {
            assert_eq!(run.key, run.slot.strftime("%Y-%m-%dT%H:%M").to_string());
            assert_eq!(run.slot.time(), schedule.daily_at_time());
            transition_days += usize::from(run.transition_day);
        }
        let expected_transition_days = if matches!(zone, "Asia/Kolkata" | "UTC") { 0 } else { 2 };
        assert_eq!(transition_days, expected_transition_days, "{zone} {daily_at}: transition days in 400");
    }
}

/// The runs of one local date, keyed by slot wall time.
fn runs_of_date(schedule: &Schedule, after: &str, date: &str) -> BTreeMap<String, Run> {
    schedule
        .runs_after(ts(after))
        .take_while(|run| run.slot.date().to_string().as_str() <= date)
        .filter(|run| run.slot.date().to_string() == date)
        .map(|run| (run.slot.strftime("%H:%M").to_string(), run))
        .collect()
}

#[test]
fn interval_slots_in_a_gap_are_one_run_at_its_end() {
    let schedule = Schedule::new("00:00", "Europe/Copenhagen", Some(5)).unwrap();
    let runs = runs_of_date(&schedule, "2027-03-27T12:00:00Z", "2027-03-28");
    // 288 slots; the twelve of 02:00–02:55 and 03:00 are one run.
    assert_eq!(runs.len(), 288 - 12);
    let gap = &runs["02:00"];
    assert_eq!((gap.at, gap.dst), (ts("2027-03-28T01:00:00Z"), Some(DstNote::Gap { requested: "02:00".parse().unwrap() })));
    for absent in ["02:05", "02:30", "02:55", "03:00"] {
        assert!(!runs.contains_key(absent), "{absent}");
    }
    assert_eq!(runs["03:05"].at, ts("2027-03-28T01:05:00Z"));
    assert_eq!(runs["01:55"].at, ts("2027-03-28T00:55:00Z"));
}

#[test]
fn interval_slots_in_a_fold_run_once_each_at_their_first() {
    for (zone, after, date, first_in_fold, fold_starts, fold_slots) in [
        ("Europe/Copenhagen", "2027-10-30T12:00:00Z", "2027-10-31", "02:00", "2027-10-31T00:00:00Z", 12),
        ("America/New_York", "2027-11-06T12:00:00Z", "2027-11-07", "01:00", "2027-11-07T05:00:00Z", 12),
        ("Australia/Lord_Howe", "2027-04-03T00:00:00Z", "2027-04-04", "01:30", "2027-04-03T14:30:00Z", 6),
    ] {
        let schedule = Schedule::new("00:00", zone, Some(5)).unwrap();
        let runs = runs_of_date(&schedule, after, date);
        assert_eq!(runs.len(), 288, "{zone}: every slot once");
        let keys: BTreeSet<&str> = runs.values().map(|run| run.key.as_str()).collect();
        assert_eq!(keys.len(), 288, "{zone}: keys unique");
        let folded: Vec<&Run> = runs.values().filter(|run| run.dst == Some(DstNote::Fold)).collect();
        assert_eq!(folded.len(), fold_slots, "{zone}");
        assert_eq!(runs[first_in_fold].at, ts(fold_starts), "{zone}");
        let mut previous = None;
        for run in runs.values() {
            assert!(previous.is_none_or(|at| at < run.at), "{zone}: {}", line(run));
            previous = Some(run.at);
        }
    }
}

#[test]
fn runs_after_is_strict_and_latest_run_is_inclusive() {
    let schedule = Schedule::new("02:30", "Europe/Copenhagen", None).unwrap();
    // (at, runs_after(at)'s first key, latest_run_at_or_before(at)'s key)
    for (at, next, latest) in [
        ("2027-03-28T01:00:00Z", "2027-03-29T02:30", "2027-03-28T02:30"),
        ("2027-03-28T00:59:59Z", "2027-03-28T02:30", "2027-03-27T02:30"),
        ("2027-03-28T01:00:01Z", "2027-03-29T02:30", "2027-03-28T02:30"),
        ("2027-10-31T00:30:00Z", "2027-11-01T02:30", "2027-10-31T02:30"),
        // The fold's second 02:30 is not a run.
        ("2027-10-31T01:30:00Z", "2027-11-01T02:30", "2027-10-31T02:30"),
    ] {
        assert_eq!(schedule.runs_after(ts(at)).next().unwrap().key, next, "after {at}");
        assert_eq!(schedule.latest_run_at_or_before(ts(at)).unwrap().key, latest, "at or before {at}");
    }

    // A run that several slots share is named by the first, from either side.
    let half_hourly = Schedule::new("00:00", "Europe/Copenhagen", Some(30)).unwrap();
    let shared = ts("2027-03-28T01:00:00Z");
    assert_eq!(half_hourly.latest_run_at_or_before(shared).unwrap().key, "2027-03-28T02:00");
    assert_eq!(half_hourly.runs_after(ts("2027-03-28T00:59:00Z")).next().unwrap().key, "2027-03-28T02:00");
    assert_eq!(half_hourly.runs_after(shared).next().unwrap().key, "2027-03-28T03:30");

    // The catch-up window: a run due 48 hours before is out of it.
    let utc = Schedule::new("00:00", "UTC", None).unwrap();
    assert_eq!(utc.latest_run_at_or_before(ts("2027-03-28T00:00:00Z")).unwrap().key, "2027-03-28T00:00");
    assert_eq!(utc.latest_run_at_or_before(ts("2027-03-28T23:59:59Z")).unwrap().key, "2027-03-28T00:00");
    assert_eq!(CATCH_UP_WINDOW.as_hours(), 48);
}

#[test]
fn the_ends_of_the_calendar_end_the_runs() {
    let schedule = Schedule::new("12:00", "UTC", None).unwrap();
    // jiff's last instant is 9999-12-30T22:00Z (so every offset can apply).
    assert_eq!(Timestamp::MAX.to_string(), "9999-12-30T22:00:00.999999999Z");
    let runs: Vec<String> = schedule.runs_after(ts("9999-12-29T00:00:00Z")).map(|run| run.key).collect();
    assert_eq!(runs, ["9999-12-29T12:00", "9999-12-30T12:00"]);
    assert_eq!(schedule.latest_run_at_or_before(Timestamp::MIN), None);
    assert!(schedule.runs_after(Timestamp::MIN).next().is_some());
}

#[test]
fn schedules_are_refused_with_the_reason() {
    let bad_time = |given: &str| ScheduleError::BadTime { given: given.to_owned() };
    let unknown_zone = |given: &str| ScheduleError::UnknownZone { given: given.to_owned() };
    for (daily_at, zone, interval, expected, message) in [
        ("24:00", "UTC", None, bad_time("24:00"), "`24:00` is not a time of day: write it as HH:MM"),
        ("2:00", "UTC", None, bad_time("2:00"), "`2:00`"),
        ("02:60", "UTC", None, bad_time("02:60"), "`02:60`"),
        ("", "UTC", None, bad_time(""), "`` is not a time of day"),
        ("ab:cd", "UTC", None, bad_time("ab:cd"), "`ab:cd`"),
        ("02:30:00", "UTC", None, bad_time("02:30:00"), "`02:30:00`"),
        (" 2:30", "UTC", None, bad_time(" 2:30"), "from 00:00 to 23:59"),
        ("02:30", "Mars/Olympus", None, unknown_zone("Mars/Olympus"), "`Mars/Olympus` is not a time zone in the IANA database"),
        ("02:30", "", None, unknown_zone(""), "such as Europe/Copenhagen"),
        ("02:30", "   ", None, unknown_zone("   "), "`   `"),
        ("02:30", "../../etc/passwd", None, unknown_zone("../../etc/passwd"), "`../../etc/passwd`"),
        ("02:30", "/usr/share/zoneinfo/UTC", None, unknown_zone("/usr/share/zoneinfo/UTC"), "`/usr/share/zoneinfo/UTC`"),
        ("02:30", "Europe/../UTC", None, unknown_zone("Europe/../UTC"), "`Europe/../UTC`"),
        ("02:30", "Europe/Copenhagen ", None, unknown_zone("Europe/Copenhagen "), "`Europe/Copenhagen `"),
        ("02:30", "Etc/Unknown", None, unknown_zone("Etc/Unknown"), "`Etc/Unknown`"),
        // Files of the system's zoneinfo that are no IANA zone: `localtime`
        // is the server's own zone.
        ("02:30", "localtime", None, unknown_zone("localtime"), "`localtime`"),
        ("02:30", "posixrules", None, unknown_zone("posixrules"), "`posixrules`"),
        ("02:30", "right/UTC", None, unknown_zone("right/UTC"), "`right/UTC`"),
        ("02:30", "zone.tab", None, unknown_zone("zone.tab"), "`zone.tab`"),
        // tzdb's zone for "not set yet".
        ("02:30", "Factory", None, unknown_zone("Factory"), "`Factory`"),
        ("02:30", "UTC", Some(0), ScheduleError::IntervalTooShort { given: 0, min: 5 }, "an interval of 0 minutes is too short"),
        ("02:30", "UTC", Some(4), ScheduleError::IntervalTooShort { given: 4, min: 5 }, "every 5 minutes"),
        ("02:30", "UTC", Some(1441), ScheduleError::IntervalTooLong { given: 1441, max: 1440 }, "1441 minutes is too long"),
        // The time is checked first, then the zone, then the interval.
        ("25:00", "Mars/Olympus", Some(1), bad_time("25:00"), "`25:00`"),
    ] {
        let error = Schedule::new(daily_at, zone, interval).unwrap_err();
        assert_eq!(error, expected, "{daily_at:?} {zone:?} {interval:?}");
        assert!(error.to_string().contains(message), "{error}");
    }
}

#[test]
fn zone_names_match_without_case_and_are_stored_as_the_database_spells_them() {
    for (given, stored) in [
        ("Europe/Copenhagen", "Europe/Copenhagen"),
        ("europe/copenhagen", "Europe/Copenhagen"),
        ("AMERICA/NEW_YORK", "America/New_York"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("Etc/UTC", "Etc/UTC"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        // Links (old names) are zones of their own name.
        ("US/Eastern", "US/Eastern"),
        ("Asia/Calcutta", "Asia/Calcutta"),
    ] {
        let schedule = Schedule::new("02:30", given, None).unwrap();
        assert_eq!(schedule.time_zone_name(), stored, "{given}");
    }
    assert_eq!(Schedule::new("02:30", "europe/copenhagen", Some(60)), Schedule::new("02:30", "Europe/Copenhagen", Some(60)));
    assert_ne!(Schedule::new("02:30", "UTC", Some(60)), Schedule::new("02:30", "UTC", None));
    let schedule = Schedule::new("07:05", "UTC", Some(90)).unwrap();
    assert_eq!((schedule.daily_at(), schedule.daily_at_time().to_string().as_str()), ("07:05", "07:05:00"));
    assert_eq!(schedule.interval_minutes(), Some(90));
}

#[test]
fn jitter_is_fixed_per_seed_within_range_and_spread() {
    assert_eq!(jitter(0, 0).as_secs(), 0);
    assert_eq!(jitter(u128::MAX, 0).as_secs(), 0);
    assert_eq!(jitter(0x0192_5f4e_8a3b_7c10_9d2e_4f6a_8b1c_3d5e, 600), jitter(0x0192_5f4e_8a3b_7c10_9d2e_4f6a_8b1c_3d5e, 600));
    // Seeds that differ only in the high half (UUIDv7's timestamp) differ too.
    assert_ne!(jitter(1 << 64, 3600), jitter(2 << 64, 3600));

    let max = 600;
    // UUID-like seeds: a counter spread over both halves.
    let seeds = (0..1000u128).map(|i| (i << 80) | (i * 0x9E37_79B9) | 0x4000_0000_0000_0000);
    let mut buckets = [0u32; 10];
    let mut distinct = BTreeSet::new();
    for seed in seeds {
        let secs = jitter(seed, max).as_secs();
        assert!(secs <= u64::from(max), "{secs}");
        assert_eq!(jitter(seed, max), jitter(seed, max));
        buckets[usize::try_from(secs * 10 / (u64::from(max) + 1)).unwrap()] += 1;
        distinct.insert(secs);
    }
    // 1000 seeds over 601 values, in ten buckets of ~100 each.
    assert!(buckets.iter().all(|&count| (50..=150).contains(&count)), "{buckets:?}");
    assert!(distinct.len() > 450, "{}", distinct.len());
    // 0 and max are both reachable.
    assert!((0..10_000u128).any(|seed| jitter(seed, 3).as_secs() == 0));
    assert!((0..10_000u128).any(|seed| jitter(seed, 3).as_secs() == 3));
}

#[test]
fn a_run_starts_at_its_time_plus_jitter_never_before() {
    let schedule = Schedule::new("02:30", "Europe/Copenhagen", None).unwrap();
    let run = schedule.runs_after(ts("2027-03-27T12:00:00Z")).nth(1).unwrap();
    assert_eq!(run.start_at(42, 0), run.at);
    let seed = 0x0192_5f4e_8a3b_7c10_9d2e_4f6a_8b1c_3d5e;
    let start = run.start_at(seed, 900);
    assert_eq!(start.duration_since(run.at).as_secs(), i64::try_from(jitter(seed, 900).as_secs()).unwrap());
    assert!(start >= run.at && start.duration_since(run.at).as_secs() <= 900);
}
