//! Daily import schedules: when a job's next scheduled import is due, as a
//! pure function of its `HH:MM` (UTC) and the time now.

use roster_proto::DailyTime;
use time::{Duration, OffsetDateTime};

/// The first moment strictly after `after` at the daily time `at`.
pub fn next_daily_run(at: DailyTime, after: OffsetDateTime) -> OffsetDateTime {
    let after = after.to_offset(time::UtcOffset::UTC);
    let today = after.replace_time(at.time());
    if today > after { today } else { today + Duration::days(1) }
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, time};

    use super::*;

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
            let daily: DailyTime = at.format(time::macros::format_description!("[hour]:[minute]")).unwrap().parse().unwrap();
            assert_eq!(next_daily_run(daily, now), expected, "{at} after {now}");
        }
    }
}
