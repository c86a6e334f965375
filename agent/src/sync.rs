//! Full or delta: what the next snapshot is, decided from the server's
//! [`SyncAdvice`] and the DC's current [`Watermark`] by one pure function,
//! so every reason for a full snapshot is tested in a table.

use std::fmt;

use roster_proto::agent::SyncAdvice;
use roster_proto::manifest::{SnapshotKind, Watermark};

/// What the next snapshot is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotPlan {
    /// Everything in the job's scope.
    Full {
        /// Why not a delta, for the log (and the `check` output).
        reason: String,
    },
    /// Only what changed since `base`.
    Delta {
        /// The server's watermark the delta builds on; its USN + 1 is
        /// where the searches start.
        base: Watermark,
    },
}

impl SnapshotPlan {
    /// The manifest's kind.
    pub fn kind(&self) -> SnapshotKind {
        match self {
            SnapshotPlan::Full { .. } => SnapshotKind::Full,
            SnapshotPlan::Delta { .. } => SnapshotKind::Delta,
        }
    }

    /// The delta's base (`None` for a full snapshot).
    pub fn base(&self) -> Option<&Watermark> {
        match self {
            SnapshotPlan::Full { .. } => None,
            SnapshotPlan::Delta { base } => Some(base),
        }
    }
}

impl fmt::Display for SnapshotPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotPlan::Full { reason } => write!(f, "full ({reason})"),
            SnapshotPlan::Delta { base } => write!(f, "delta (changes since USN {} on {})", base.usn, base.dns_host_name),
        }
    }
}

/// Decides the next snapshot. A delta needs all of: no `forced` reason,
/// no `full_required` from the server, a base, the same DC database
/// (`dnsHostName` and `invocationId`) and a USN that has not gone back.
pub fn plan_snapshot(advice: &SyncAdvice, current: &Watermark, forced: Option<&str>) -> SnapshotPlan {
    let full = |reason: String| SnapshotPlan::Full { reason };
    if let Some(reason) = forced {
        return full(reason.to_owned());
    }
    if let Some(reason) = &advice.full_required {
        return full(format!("the server asks for a full snapshot: {reason}"));
    }
    let Some(base) = &advice.base else {
        return full("the server holds no directory state for the job yet".to_owned());
    };
    if !base.dns_host_name.eq_ignore_ascii_case(&current.dns_host_name) {
        return full(format!(
            "the DC changed from {} to {}: USNs of different DCs do not compare",
            base.dns_host_name, current.dns_host_name
        ));
    }
    if !base.same_database(current) {
        return full(format!(
            "the DC's invocationId changed from {} to {} (restored from a backup?): its USNs no longer compare",
            base.invocation_id, current.invocation_id
        ));
    }
    if current.usn < base.usn {
        return full(format!("the DC's USN went backwards from {} to {}", base.usn, current.usn));
    }
    SnapshotPlan::Delta { base: base.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(host: &str, invocation: &str, usn: u64) -> Watermark {
        Watermark { dns_host_name: host.to_owned(), invocation_id: invocation.parse().unwrap(), usn }
    }

    const ID: &str = "00112233-4455-6677-8899-aabbccddeeff";
    const OTHER_ID: &str = "ffeeddcc-bbaa-9988-7766-554433221100";

    #[test]
    fn deltas_only_on_the_same_database_going_forward() {
        let current = mark("dc1.corp.example.test", ID, 5000);
        let advice =
            |base: Option<Watermark>, full_required: Option<&str>| SyncAdvice { base, full_required: full_required.map(str::to_owned) };
        let same = mark("dc1.corp.example.test", ID, 4000);
        // (case, advice, forced, expected: None = delta on `same`, Some(reason fragment) = full)
        let cases: Vec<(&str, SyncAdvice, Option<&str>, Option<&str>)> = vec![
            ("same DC, USN forward", advice(Some(same.clone()), None), None, None),
            ("same DC, host name in another case", advice(Some(mark("DC1.Corp.Example.Test", ID, 4000)), None), None, None),
            ("same DC, nothing changed", advice(Some(mark("dc1.corp.example.test", ID, 5000)), None), None, None),
            ("forced", advice(Some(same.clone()), None), Some("a full snapshot was asked for (--full)"), Some("--full")),
            (
                "server wants a full",
                advice(Some(same.clone()), Some("the scope changed")),
                None,
                Some("the server asks for a full snapshot: the scope changed"),
            ),
            (
                "server wants a full, no base",
                advice(None, Some("no state yet")),
                None,
                Some("the server asks for a full snapshot: no state yet"),
            ),
            ("no base", advice(None, None), None, Some("no directory state for the job yet")),
            (
                "other DC",
                advice(Some(mark("dc2.corp.example.test", ID, 4000)), None),
                None,
                Some("the DC changed from dc2.corp.example.test to dc1.corp.example.test"),
            ),
            (
                "other invocationId",
                advice(Some(mark("dc1.corp.example.test", OTHER_ID, 4000)), None),
                None,
                Some(
                    "invocationId changed from ffeeddcc-bbaa-9988-7766-554433221100 to 00112233-4455-6677-8899-aabbccddeeff (restored from a backup?)",
                ),
            ),
            (
                "USN backwards",
                advice(Some(mark("dc1.corp.example.test", ID, 6000)), None),
                None,
                Some("USN went backwards from 6000 to 5000"),
            ),
        ];
        for (case, advice, forced, expected) in cases {
            let plan = plan_snapshot(&advice, &current, forced);
            match expected {
                None => {
                    assert_eq!(plan.kind(), SnapshotKind::Delta, "{case}: {plan}");
                    assert_eq!(plan.base(), advice.base.as_ref(), "{case}: the delta builds on the server's base exactly");
                }
                Some(fragment) => {
                    let SnapshotPlan::Full { reason } = &plan else { panic!("{case}: {plan}") };
                    assert!(reason.contains(fragment), "{case}: `{reason}` lacks `{fragment}`");
                    assert_eq!(plan.base(), None);
                }
            }
        }
    }
}
