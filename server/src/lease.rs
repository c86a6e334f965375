//! A job's lease, decided: which of a job's agents is the one that is
//! handed commands and pushes snapshots, and whether an upload may change
//! the job's state. Pure: the store reads and writes the lease row
//! (`store::leases`), in the same transaction as the decision.
//!
//! Exactly one agent holds a job's lease at a time. A holder keeps it by
//! asking again (its requests for the lease, polls and heartbeats) before
//! it expires; when it has been silent past `expires_at`, the next agent of
//! the job to ask takes it over. Every grant to a new holder increases the
//! job's fencing token, which never goes back.
//!
//! Why a stale agent can never win: an upload changes the job's state only
//! at its commit, and the commit's transaction checks, under the job's lock,
//! that the fencing token the upload carries is the lease's newest and that
//! its agent holds it. A holder that was paused past its lease (a VM
//! suspended, a process stopped) and wakes up still carries its old token:
//! its successor's grant has raised the token, so its commit is refused,
//! whatever the clocks say. Time decides only who may take over, never
//! whether a commit is fenced.

use roster_proto::AgentId;

use crate::store::UnixMillis;

/// A job's lease as stored: who holds it, with which fencing token, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRow {
    pub agent: AgentId,
    pub fencing_token: u64,
    pub granted_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// What an agent's request for the lease comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The agent is the lease's new holder (the job's first, or taking
    /// over from a silent one) with the next fencing token: the row to write.
    Granted(LeaseRow),
    /// The agent held the lease already: the row with its new expiry.
    Renewed(LeaseRow),
    /// Another agent holds it: the row as it is, unchanged.
    Standby(LeaseRow),
}

impl Claim {
    /// The lease the agent now holds, if it holds it.
    pub fn held(&self) -> Option<&LeaseRow> {
        match self {
            Claim::Granted(lease) | Claim::Renewed(lease) => Some(lease),
            Claim::Standby(_) => None,
        }
    }
}

/// Decides `agent`'s request for the lease `current` at `now`: renewed
/// for its holder, granted when there is none, taken over when its holder
/// has been silent past its expiry or was revoked (`holder_revoked`: it
/// can make no request any more); else the agent stands by.
///
/// A request that carries a fencing token (`sent`) asks to renew that
/// grant: it is fenced exactly as an upload with that token would be
/// (see [`fence`]), so an agent that was paused or restarted past its
/// lease learns that it lost it, and must ask again without the token.
pub fn claim(
    current: Option<LeaseRow>,
    holder_revoked: bool,
    agent: AgentId,
    sent: Option<u64>,
    now: UnixMillis,
    ttl_ms: i64,
) -> Result<Claim, Fenced> {
    if sent.is_some() {
        fence(current.as_ref(), agent, sent)?;
    }
    let expires_at = UnixMillis(now.0.saturating_add(ttl_ms));
    Ok(match current {
        None => Claim::Granted(LeaseRow { agent, fencing_token: 1, granted_at: now, expires_at }),
        // Renewed: never shortened (a clock that stepped back does not cut it).
        Some(lease) if lease.agent == agent => {
            Claim::Renewed(LeaseRow { expires_at: UnixMillis(lease.expires_at.0.max(expires_at.0)), ..lease })
        }
        Some(lease) if lease.expires_at.0 <= now.0 || holder_revoked => {
            Claim::Granted(LeaseRow { agent, fencing_token: lease.fencing_token.saturating_add(1), granted_at: now, expires_at })
        }
        Some(lease) => Claim::Standby(lease),
    })
}

/// Why an upload may not change the job's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fenced {
    #[error(
        "fencing token {sent} is older than the job's lease (token {current}, held by agent {holder}): \
         another agent took over; ask for the lease again and stand by"
    )]
    Stale { sent: u64, current: u64, holder: AgentId },
    #[error("fencing token {sent} was never granted for this job (its newest is {current})")]
    Unknown { sent: u64, current: u64 },
    #[error("agent {holder} holds the job's lease: ask for the lease (POST /agent/v1/lease) and send its fencing token")]
    NotHolder { holder: AgentId },
}

/// Whether an upload by `agent` carrying fencing token `sent` (none: an
/// agent that never asked for the lease) may go on, given the job's lease
/// `current`. With a token, it must be the lease's newest and `agent` its
/// holder, expired or not (nobody took over). Without one, only while no
/// agent of the job ever held the lease or `agent` holds it.
pub fn fence(current: Option<&LeaseRow>, agent: AgentId, sent: Option<u64>) -> Result<(), Fenced> {
    match (current, sent) {
        (None, None) => Ok(()),
        (None, Some(sent)) => Err(Fenced::Unknown { sent, current: 0 }),
        (Some(lease), None) if lease.agent == agent => Ok(()),
        (Some(lease), None) => Err(Fenced::NotHolder { holder: lease.agent }),
        (Some(lease), Some(sent)) if sent == lease.fencing_token && lease.agent == agent => Ok(()),
        (Some(lease), Some(sent)) if sent > lease.fencing_token => Err(Fenced::Unknown { sent, current: lease.fencing_token }),
        (Some(lease), Some(sent)) => Err(Fenced::Stale { sent, current: lease.fencing_token, holder: lease.agent }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(n: u128) -> AgentId {
        uuid::Uuid::from_u128(n).into()
    }

    fn row(holder: u128, token: u64, expires_at: i64) -> LeaseRow {
        LeaseRow { agent: agent(holder), fencing_token: token, granted_at: UnixMillis(0), expires_at: UnixMillis(expires_at) }
    }

    #[test]
    fn the_lease_is_granted_renewed_taken_over_or_refused() {
        const TTL: i64 = 60_000;
        let now = UnixMillis(100_000);
        let cases: &[(&str, Option<LeaseRow>, bool, u128, Claim)] = &[
            (
                "no holder yet: granted with the first token",
                None,
                false,
                1,
                Claim::Granted(LeaseRow { agent: agent(1), fencing_token: 1, granted_at: now, expires_at: UnixMillis(160_000) }),
            ),
            ("its holder renews it: same token, later expiry", Some(row(1, 4, 120_000)), false, 1, Claim::Renewed(row(1, 4, 160_000))),
            (
                "an expired lease renewed by its holder keeps its token",
                Some(row(1, 4, 90_000)),
                false,
                1,
                Claim::Renewed(row(1, 4, 160_000)),
            ),
            ("renewing never shortens it", Some(row(1, 4, 500_000)), false, 1, Claim::Renewed(row(1, 4, 500_000))),
            ("another holds it, live: stand by", Some(row(1, 4, 100_001)), false, 2, Claim::Standby(row(1, 4, 100_001))),
            (
                "another holds it, live, but was revoked: taken over",
                Some(row(1, 4, 100_001)),
                true,
                2,
                Claim::Granted(LeaseRow { agent: agent(2), fencing_token: 5, granted_at: now, expires_at: UnixMillis(160_000) }),
            ),
            (
                "another's lease expired (at now exactly): taken over with the next token",
                Some(row(1, 4, 100_000)),
                false,
                2,
                Claim::Granted(LeaseRow { agent: agent(2), fencing_token: 5, granted_at: now, expires_at: UnixMillis(160_000) }),
            ),
        ];
        for (what, current, revoked, asking, expected) in cases {
            assert_eq!(claim(*current, *revoked, agent(*asking), None, now, TTL), Ok(*expected), "{what}");
        }
    }

    #[test]
    fn a_request_with_a_token_renews_that_grant_or_is_fenced() {
        const TTL: i64 = 60_000;
        let now = UnixMillis(100_000);
        let cases: &[ClaimCase] = &[
            ("the holder's newest token: renewed", Some(row(1, 4, 120_000)), false, 1, Some(4), Ok(Claim::Renewed(row(1, 4, 160_000)))),
            (
                "the holder's newest token past expiry, nobody took over: renewed",
                Some(row(1, 4, 90_000)),
                false,
                1,
                Some(4),
                Ok(Claim::Renewed(row(1, 4, 160_000))),
            ),
            (
                "a restarted agent's old token after a takeover: fenced, not a standby",
                Some(row(2, 5, 120_000)),
                false,
                1,
                Some(4),
                Err(Fenced::Stale { sent: 4, current: 5, holder: agent(2) }),
            ),
            (
                "an old token even once the new holder is silent too: fenced (asking without it takes over)",
                Some(row(2, 5, 90_000)),
                false,
                1,
                Some(4),
                Err(Fenced::Stale { sent: 4, current: 5, holder: agent(2) }),
            ),
            ("a token never granted", Some(row(1, 4, 120_000)), false, 1, Some(9), Err(Fenced::Unknown { sent: 9, current: 4 })),
            ("a token for a job nobody ever held", None, false, 1, Some(1), Err(Fenced::Unknown { sent: 1, current: 0 })),
        ];
        for (what, current, revoked, asking, sent, expected) in cases {
            assert_eq!(claim(*current, *revoked, agent(*asking), *sent, now, TTL), *expected, "{what}");
        }
    }

    /// What it is, the job's lease, whether its holder was revoked, the agent asking, the token it sends, the decision.
    type ClaimCase = (&'static str, Option<LeaseRow>, bool, u128, Option<u64>, Result<Claim, Fenced>);

    /// What it is, the job's lease, the agent uploading, the token it sends, the verdict.
    type FenceCase = (&'static str, Option<LeaseRow>, u128, Option<u64>, Result<(), Fenced>);

    #[test]
    fn only_the_newest_token_of_the_holder_passes() {
        let lease = row(1, 5, 0);
        let cases: &[FenceCase] = &[
            ("no lease, no token: a lone agent that never asked", None, 1, None, Ok(())),
            ("no lease but a token: never granted", None, 1, Some(1), Err(Fenced::Unknown { sent: 1, current: 0 })),
            ("the holder's newest token, even past expiry", Some(lease), 1, Some(5), Ok(())),
            (
                "the holder's older token: it was taken over and got it back",
                Some(lease),
                1,
                Some(4),
                Err(Fenced::Stale { sent: 4, current: 5, holder: agent(1) }),
            ),
            ("an older token of another agent", Some(lease), 2, Some(4), Err(Fenced::Stale { sent: 4, current: 5, holder: agent(1) })),
            (
                "the newest token sent by another agent",
                Some(lease),
                2,
                Some(5),
                Err(Fenced::Stale { sent: 5, current: 5, holder: agent(1) }),
            ),
            ("a token never granted", Some(lease), 1, Some(6), Err(Fenced::Unknown { sent: 6, current: 5 })),
            ("no token from the holder", Some(lease), 1, None, Ok(())),
            ("no token from another agent", Some(lease), 2, None, Err(Fenced::NotHolder { holder: agent(1) })),
        ];
        for (what, current, asking, sent, expected) in cases {
            assert_eq!(fence(current.as_ref(), agent(*asking), *sent), *expected, "{what}");
        }
    }
}
