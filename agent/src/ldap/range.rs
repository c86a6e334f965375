//! AD's range retrieval of large multi-valued attributes: a Windows DC
//! answers a group of more than 1,500 members with `member` empty and
//! `member;range=0-1499`, and the client asks for `member;range=1500-*`,
//! and so on, until a range ends in `*`. Pure parsing and bookkeeping here;
//! the searches are in `read.rs`.

use std::collections::HashMap;

/// One slice of a ranged attribute, e.g. `member;range=1500-2999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueRange {
    /// First value index in this slice.
    pub start: u32,
    /// Last value index, or `None` for `*`: this slice is the last.
    pub end: Option<u32>,
}

/// Why a range answer cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`{0}` is not a valid range attribute (expected `name;range=LOW-HIGH` or `name;range=LOW-*`)")]
    Syntax(String),
    #[error("the directory answered range {got} where {expected} was asked for")]
    OutOfOrder { expected: u32, got: u32 },
    #[error("the directory's answer holds no `{0};range=...` values (does this DC support range retrieval?)")]
    Missing(String),
}

/// Parses an attribute name as returned by the DC. `Ok(None)` when `name`
/// is not a ranged form of `attribute` (e.g. plain `member`, or `cn`).
pub fn parse_range_attribute(attribute: &str, name: &str) -> Result<Option<ValueRange>, RangeError> {
    let mut parts = name.split(';');
    if !parts.next().is_some_and(|base| base.eq_ignore_ascii_case(attribute)) {
        return Ok(None);
    }
    let Some(range) = parts.find_map(|option| {
        let (key, value) = option.split_once('=')?;
        key.eq_ignore_ascii_case("range").then_some(value)
    }) else {
        return Ok(None);
    };
    let syntax = || RangeError::Syntax(name.to_owned());
    let (low, high) = range.split_once('-').ok_or_else(syntax)?;
    let start: u32 = low.parse().map_err(|_| syntax())?;
    let end = match high {
        "*" => None,
        high => {
            let end: u32 = high.parse().map_err(|_| syntax())?;
            if end < start {
                return Err(syntax());
            }
            Some(end)
        }
    };
    Ok(Some(ValueRange { start, end }))
}

/// The attribute to ask for after `range`, or `None` when it was the last.
pub fn next_range_request(attribute: &str, range: ValueRange) -> Option<String> {
    range.end.map(|end| format!("{attribute};range={}-*", u64::from(end) + 1))
}

/// Finds the ranged slice of `attribute` in an entry's attributes.
pub fn find_ranged<'a>(attribute: &str, attrs: &'a HashMap<String, Vec<String>>) -> Result<Option<(ValueRange, &'a [String])>, RangeError> {
    for (name, values) in attrs {
        if let Some(range) = parse_range_attribute(attribute, name)? {
            return Ok(Some((range, values.as_slice())));
        }
    }
    Ok(None)
}

/// Follows one ranged attribute across answers, checking each slice
/// continues the last so a misbehaving DC cannot make the loop spin or
/// skip values.
#[derive(Debug, Clone)]
pub struct RangeWalk {
    /// The attribute being fetched (`member`).
    attribute: String,
    /// Index the next slice must start at.
    next_start: u32,
}

impl RangeWalk {
    pub fn new(attribute: &str) -> RangeWalk {
        RangeWalk { attribute: attribute.to_owned(), next_start: 0 }
    }

    /// Takes one answer; returns this slice's values and the attribute to
    /// request next (`None`: done).
    pub fn step<'a>(&mut self, attrs: &'a HashMap<String, Vec<String>>) -> Result<(&'a [String], Option<String>), RangeError> {
        let (range, values) = find_ranged(&self.attribute, attrs)?.ok_or_else(|| RangeError::Missing(self.attribute.clone()))?;
        if range.start != self.next_start {
            return Err(RangeError::OutOfOrder { expected: self.next_start, got: range.start });
        }
        let next = next_range_request(&self.attribute, range);
        if let Some(end) = range.end {
            self.next_start =
                end.checked_add(1).ok_or_else(|| RangeError::Syntax(format!("{};range={}-{end}", self.attribute, range.start)))?;
        }
        Ok((values, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_range_attribute_names() {
        let cases: Vec<(&str, Result<Option<ValueRange>, ()>)> = vec![
            ("member;range=0-1499", Ok(Some(ValueRange { start: 0, end: Some(1499) }))),
            ("member;range=1500-2999", Ok(Some(ValueRange { start: 1500, end: Some(2999) }))),
            ("member;range=3000-*", Ok(Some(ValueRange { start: 3000, end: None }))),
            ("Member;Range=0-*", Ok(Some(ValueRange { start: 0, end: None }))),
            ("member", Ok(None)),
            ("memberOf;range=0-10", Ok(None)),
            ("cn", Ok(None)),
            ("member;range=abc-*", Err(())),
            ("member;range=10", Err(())),
            ("member;range=10-5", Err(())),
            ("member;range=-1-5", Err(())),
        ];
        for (name, expected) in cases {
            assert_eq!(parse_range_attribute("member", name).map_err(|_| ()), expected, "{name}");
        }
        assert_eq!(next_range_request("member", ValueRange { start: 0, end: Some(1499) }).as_deref(), Some("member;range=1500-*"));
        assert_eq!(next_range_request("member", ValueRange { start: 1500, end: None }), None);
    }

    fn answer(name: &str, from: u32, to: u32) -> HashMap<String, Vec<String>> {
        let values = (from..=to).map(|i| format!("<GUID=00000000-0000-0000-0000-{i:012}>;CN=u{i},DC=corp")).collect();
        HashMap::from([(name.to_owned(), values), ("objectGUID".to_owned(), vec![])])
    }

    /// A 3,200-member group as Windows Server 2019 answers it (MaxValRange 1500).
    #[test]
    fn walks_a_recorded_windows_answer_sequence() {
        let answers = [
            answer("member;range=0-1499", 0, 1499),
            answer("member;range=1500-2999", 1500, 2999),
            answer("member;range=3000-*", 3000, 3199),
        ];
        let mut walk = RangeWalk::new("member");
        let mut all = Vec::new();
        let mut requests = Vec::new();
        for attrs in &answers {
            let (values, next) = walk.step(attrs).unwrap();
            all.extend(values.iter().cloned());
            match next {
                Some(next) => requests.push(next),
                None => break,
            }
        }
        assert_eq!(requests, ["member;range=1500-*", "member;range=3000-*"]);
        assert_eq!(all.len(), 3200);
        assert!(all[3199].contains("CN=u3199,"));
    }

    #[test]
    fn refuses_answers_that_do_not_continue() {
        let mut walk = RangeWalk::new("member");
        walk.step(&answer("member;range=0-1499", 0, 1499)).unwrap();
        assert_eq!(
            walk.clone().step(&answer("member;range=0-1499", 0, 1499)).unwrap_err(),
            RangeError::OutOfOrder { expected: 1500, got: 0 }
        );
        // What Samba does when asked for an explicit range: no values at all.
        assert_eq!(walk.step(&HashMap::new()).unwrap_err(), RangeError::Missing("member".into()));
        assert!(find_ranged("member", &HashMap::from([("member".to_owned(), vec!["x".to_owned()])])).unwrap().is_none());
    }
}
