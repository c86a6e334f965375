//! Daily import schedules: when a job's next scheduled import is due, as a
//! pure function of its `HH:MM` (UTC) and the time now.

use time::{Duration, OffsetDateTime, Time};

/// Parses `HH:MM` (24-hour clock, UTC).
pub fn parse_daily_time(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

/// The first moment strictly after `after` at the daily time `at`.
pub fn next_daily_run(at: Time, after: OffsetDateTime) -> OffsetDateTime {
    let after = after.to_offset(time::UtcOffset::UTC);
    let today = after.replace_time(at);
    if today > after { today } else { today + Duration::days(1) }
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, time};

    use super::*;

    #[test]
    fn parses_hh_mm_only() {
        assert_eq!(parse_daily_time("02:30"), Some(time!(02:30)));
        assert_eq!(parse_daily_time("23:59"), Some(time!(23:59)));
        for bad in ["24:00", "2:30", "02:60", "0230", "", "aa:bb", "02:30:00", "+1:+5", "+2:30"] {
            assert_eq!(parse_daily_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn next_run_is_today_if_still_ahead_else_tomorrow() {
        let cases = [
            (time!(02:00), datetime!(2026-11-25 01:59:59 UTC), datetime!(2026-11-25 02:00 UTC)),
            (time!(02:00), datetime!(2026-11-25 02:00 UTC), datetime!(2026-11-26 02:00 UTC)),
            (time!(02:00), datetime!(2026-11-25 23:00 UTC), datetime!(2026-11-26 02:00 UTC)),
            (time!(00:00), datetime!(2026-12-31 12:00 UTC), datetime!(2027-01-01 00:00 UTC)),
            // Another offset is read as the same instant in UTC.
            (time!(02:00), datetime!(2026-11-25 02:30 +01:00), datetime!(2026-11-25 02:00 UTC)),
        ];
        for (at, now, expected) in cases {
            assert_eq!(next_daily_run(at, now), expected, "{at} after {now}");
        }
    }
}
