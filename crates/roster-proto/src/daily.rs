//! A time of day, `HH:MM` on a 24-hour clock: when a job's daily import
//! runs, on the clock of the schedule's time zone. On the wire it is that text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Time;

/// `HH:MM` (two digits each, 00:00..=23:59); the only way in is
/// [`FromStr`], so every value is a valid time that writes back the same.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DailyTime(Time);

/// A text that is not `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a daily time is HH:MM (24-hour, two digits each), not {0:?}")]
pub struct DailyTimeError(pub String);

impl DailyTime {
    /// What [`FromStr`] accepts, as a JSON Schema pattern.
    pub const PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

    /// `hour:minute`, for constants; out-of-range parts are clamped
    /// (23:59 at most).
    pub const fn from_hm(hour: u8, minute: u8) -> DailyTime {
        let hour = if hour > 23 { 23 } else { hour };
        let minute = if minute > 59 { 59 } else { minute };
        match Time::from_hms(hour, minute, 0) {
            Ok(time) => DailyTime(time),
            Err(_) => DailyTime(Time::MIDNIGHT),
        }
    }

    /// The time of day (seconds are always 0).
    pub fn time(self) -> Time {
        self.0
    }
}

impl FromStr for DailyTime {
    type Err = DailyTimeError;

    fn from_str(text: &str) -> Result<DailyTime, DailyTimeError> {
        let bad = || DailyTimeError(text.to_owned());
        let (h, m) = text.split_once(':').ok_or_else(bad)?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return Err(bad());
        }
        let (h, m) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Time::from_hms(h, m, 0).map(DailyTime).map_err(|_| bad())
    }
}

/// Compares with the text it writes, e.g. `"02:00"` (the only text that
/// parses to it, since both sides are strictly `HH:MM`).
impl PartialEq<&str> for DailyTime {
    fn eq(&self, other: &&str) -> bool {
        other.parse::<DailyTime>().is_ok_and(|other| other == *self)
    }
}

impl fmt::Display for DailyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

impl fmt::Debug for DailyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DailyTime({self})")
    }
}

impl Serialize for DailyTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DailyTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DailyTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A string of [`DailyTime::PATTERN`].
impl schemars::JsonSchema for DailyTime {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("DailyTime")
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": DailyTime::PATTERN })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::time;

    use super::*;

    fn parse_daily_time(text: &str) -> Option<Time> {
        text.parse::<DailyTime>().ok().map(DailyTime::time)
    }

    #[test]
    fn parses_hh_mm_only() {
        assert_eq!(parse_daily_time("02:30"), Some(time!(02:30)));
        assert_eq!(parse_daily_time("23:59"), Some(time!(23:59)));
        for bad in ["24:00", "2:30", "02:60", "0230", "", "aa:bb", "02:30:00", "+1:+5", "+2:30"] {
            assert_eq!(parse_daily_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_pattern_is_the_parser() {
        let schema = serde_json::json!({ "type": "string", "pattern": DailyTime::PATTERN });
        let validator = jsonschema::validator_for(&schema).unwrap();
        for text in [
            "00:00",
            "02:30",
            "19:05",
            "23:59",
            "24:00",
            "2:30",
            "02:60",
            "0230",
            "",
            "aa:bb",
            "02:30:00",
            "+1:+5",
            "+2:30",
            " 02:30",
            "02:30\n",
            "２３:00",
        ] {
            let parsed = text.parse::<DailyTime>().is_ok();
            assert_eq!(validator.is_valid(&serde_json::json!(text)), parsed, "{text:?}: the parser says {parsed}");
        }
    }

    #[test]
    fn writes_back_what_it_read() {
        for text in ["00:00", "02:05", "23:59"] {
            let daily: DailyTime = text.parse().unwrap();
            assert_eq!(daily.to_string(), text);
            assert_eq!(serde_json::to_string(&daily).unwrap(), format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<DailyTime>(&format!("\"{text}\"")).unwrap(), daily);
        }
    }
}
