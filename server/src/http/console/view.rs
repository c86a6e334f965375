//! What the console's pages share: the frame around each page (who is
//! signed in, the navigation), how times and statuses are written, and the
//! one status a job shows on the dashboard, judged from its records.

use roster_proto::admin::{AgentState, SessionStatus};
use time::OffsetDateTime;

use super::SignedIn;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Jobs,
    Users,
    Accesses,
    Settings,
}

/// The frame around every signed-in page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub email: String,
    pub role: &'static str,
    pub section: Section,
    /// May change jobs, links, accesses (admin or owner).
    pub can_change: bool,
    /// May manage admins (owner).
    pub is_owner: bool,
}

impl Chrome {
    pub fn new(signed: &SignedIn, section: Section) -> Chrome {
        Chrome {
            email: signed.admin.email.clone(),
            role: signed.admin.role.as_str(),
            section,
            can_change: signed.can_change(),
            is_owner: signed.is_owner(),
        }
    }

    /// `aria-current="page"` on the current section's link.
    pub fn current(&self, section: Section) -> &'static str {
        if self.section == section { "page" } else { "false" }
    }
}

/// A time as the console writes it: `2026-12-02 04:10 UTC`.
pub fn when(at: &OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute())
}

/// [`when`] of an optional time, or `never`.
pub fn when_or(at: &Option<OffsetDateTime>, none: &str) -> String {
    at.as_ref().map_or_else(|| none.to_owned(), when)
}

/// A session status as a word, and the badge class that colours it.
pub fn session_status(status: SessionStatus) -> (&'static str, &'static str) {
    match status {
        SessionStatus::Waiting => ("waiting for the agent", "badge-info"),
        SessionStatus::Queued => ("queued", "badge-info"),
        SessionStatus::Running => ("running", "badge-info"),
        SessionStatus::Succeeded => ("succeeded", "badge-ok"),
        SessionStatus::Held => ("held for approval", "badge-warn"),
        SessionStatus::Rejected => ("rejected", "badge-muted"),
        SessionStatus::Failed => ("failed", "badge-bad"),
    }
}

/// An agent state as a word, and its badge class.
pub fn agent_state(state: AgentState) -> (&'static str, &'static str) {
    match state {
        AgentState::Healthy => ("healthy", "badge-ok"),
        AgentState::Stale => ("stale", "badge-warn"),
        AgentState::Offline => ("offline", "badge-bad"),
        AgentState::Revoked => ("revoked", "badge-muted"),
    }
}

/// The one status a job shows, from a small fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// No snapshot has been committed: nothing to import yet.
    NoSnapshot,
    /// The newest import that finished succeeded and an agent is heard from.
    Healthy,
    /// An import waits for an admin's approval.
    Held,
    /// The newest import that finished failed.
    Failing,
    /// No agent of the job is heard from (none registered, or all silent or revoked).
    AgentOffline,
}

impl JobStatus {
    /// Judges a job from whether an import is held, the session that ended
    /// last, whether it has a committed snapshot, and its agents' states. A
    /// held import comes first, whenever it was made (it needs someone),
    /// then a failure, then the lack of a snapshot, then the lack of a live
    /// agent.
    pub fn judge(held: bool, newest_finished: Option<SessionStatus>, has_snapshot: bool, agents: &[AgentState]) -> JobStatus {
        let live = agents.iter().any(|state| matches!(state, AgentState::Healthy | AgentState::Stale));
        match newest_finished {
            _ if held => JobStatus::Held,
            Some(SessionStatus::Held) => JobStatus::Held,
            Some(SessionStatus::Failed) => JobStatus::Failing,
            _ if !has_snapshot => JobStatus::NoSnapshot,
            _ if !live => JobStatus::AgentOffline,
            _ => JobStatus::Healthy,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            JobStatus::NoSnapshot => "no snapshot yet",
            JobStatus::Healthy => "healthy",
            JobStatus::Held => "held for approval",
            JobStatus::Failing => "failing",
            JobStatus::AgentOffline => "agent offline",
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            JobStatus::NoSnapshot => "badge-info",
            JobStatus::Healthy => "badge-ok",
            JobStatus::Held => "badge-warn",
            JobStatus::Failing | JobStatus::AgentOffline => "badge-bad",
        }
    }

    /// What to do about it, in a sentence.
    pub fn advice(self) -> &'static str {
        match self {
            JobStatus::NoSnapshot => "Register an agent (Agents tab) and start it: its first snapshot is imported by itself.",
            JobStatus::Healthy => "Nothing to do.",
            JobStatus::Held => "An import would change more users than the safeguard allows: review its plan and approve or reject it.",
            JobStatus::Failing => "The last import failed: open it in the Sessions tab to see why.",
            JobStatus::AgentOffline => "No agent of this job has been heard from for 10 minutes: check the service on its server.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_shows_one_status_from_its_records() {
        use AgentState::*;
        use SessionStatus::*;
        // (a held import waits, the status of the session that ended last, a snapshot was committed, the agents' states) → status
        type Case<'a> = (bool, Option<SessionStatus>, bool, &'a [AgentState], JobStatus);
        let cases: &[Case] = &[
            (false, None, false, &[], JobStatus::NoSnapshot),
            (false, None, false, &[Healthy], JobStatus::NoSnapshot),
            (false, Some(Succeeded), true, &[Healthy], JobStatus::Healthy),
            (false, Some(Succeeded), true, &[Offline, Stale], JobStatus::Healthy),
            (false, Some(Succeeded), true, &[Offline, Revoked], JobStatus::AgentOffline),
            (false, Some(Succeeded), true, &[], JobStatus::AgentOffline),
            (false, Some(Rejected), true, &[Healthy], JobStatus::Healthy),
            (true, Some(Held), true, &[Offline], JobStatus::Held),
            (false, Some(Failed), true, &[Healthy], JobStatus::Failing),
            // A failed wait for a first snapshot is a failure, not "no snapshot".
            (false, Some(Failed), false, &[], JobStatus::Failing),
            // A held import still waits when a later one succeeded or failed.
            (true, Some(Succeeded), true, &[Healthy], JobStatus::Held),
            (true, Some(Failed), true, &[Healthy], JobStatus::Held),
        ];
        for (held, newest, has_snapshot, agents, expected) in cases {
            assert_eq!(JobStatus::judge(*held, *newest, *has_snapshot, agents), *expected, "{held} {newest:?} {has_snapshot} {agents:?}");
        }
    }

    #[test]
    fn times_are_written_in_utc() {
        let at = time::macros::datetime!(2026-03-29 03:05:59 +02:00);
        assert_eq!(when(&at), "2026-03-29 01:05 UTC");
        assert_eq!(when_or(&None, "never"), "never");
    }
}
