//! The console's addresses: each route's pattern (for the router) and the
//! function that writes it for one object (for links and redirects), side
//! by side so they cannot drift apart.

use roster_proto::{AccessId, AgentId, ConsoleAdminId, JobId, SessionId, UserId};

pub const SIGN_IN: &str = "/login";
pub const SETUP: &str = "/setup";
pub const SIGN_OUT: &str = "/logout";
pub const SIGN_OUT_EVERYWHERE: &str = "/logout/everywhere";
pub const STATIC: &str = "/static/{file}";

pub const DASHBOARD: &str = "/console";
pub const JOBS: &str = "/console/jobs";
pub const NEW_JOB: &str = "/console/jobs/new";
pub const JOB: &str = "/console/jobs/{job}";
pub const JOB_SESSIONS: &str = "/console/jobs/{job}/sessions";
pub const JOB_IMPORTS: &str = "/console/jobs/{job}/imports";
pub const JOB_LINKING: &str = "/console/jobs/{job}/linking";
pub const JOB_STRUCTURE_REFRESH: &str = "/console/jobs/{job}/structure/refresh";
pub const JOB_LINKS: &str = "/console/jobs/{job}/links";
pub const JOB_GROUP_SUGGESTIONS: &str = "/console/jobs/{job}/group-suggestions";
pub const JOB_AGENTS: &str = "/console/jobs/{job}/agents";
pub const JOB_REGISTRATION_TOKEN: &str = "/console/jobs/{job}/registration-token";
pub const SESSION: &str = "/console/sessions/{session}";
pub const SESSION_PROGRESS: &str = "/console/sessions/{session}/progress";
pub const SESSION_CHANGES_CSV: &str = "/console/sessions/{session}/changes.csv";
pub const SESSION_DECISION: &str = "/console/sessions/{session}/decision";
pub const AGENT_REVOKE: &str = "/console/agents/{agent}/revoke";
pub const USERS: &str = "/console/users";
pub const USER: &str = "/console/users/{user}";
pub const ACCESSES: &str = "/console/accesses";
pub const ACCESS: &str = "/console/accesses/{access}";
pub const SETTINGS: &str = "/console/settings";
pub const ADMINS: &str = "/console/settings/admins";
pub const ADMIN_REMOVE: &str = "/console/settings/admins/{admin}/remove";
pub const AUDIT: &str = "/console/settings/audit";
/// Every other address under the console's.
pub const CONSOLE_ANYTHING: &str = "/console/{*rest}";

/// `pattern` with its one `{...}` segment replaced by `id`.
fn fill(pattern: &str, id: impl std::fmt::Display) -> String {
    match (pattern.find('{'), pattern.find('}')) {
        (Some(open), Some(close)) => format!("{}{id}{}", &pattern[..open], &pattern[close + 1..]),
        _ => pattern.to_owned(),
    }
}

pub fn job(id: JobId) -> String {
    fill(JOB, id)
}
pub fn job_sessions(id: JobId) -> String {
    fill(JOB_SESSIONS, id)
}
pub fn job_imports(id: JobId) -> String {
    fill(JOB_IMPORTS, id)
}
pub fn job_linking(id: JobId) -> String {
    fill(JOB_LINKING, id)
}
pub fn job_structure_refresh(id: JobId) -> String {
    fill(JOB_STRUCTURE_REFRESH, id)
}
pub fn job_links(id: JobId) -> String {
    fill(JOB_LINKS, id)
}
pub fn job_group_suggestions(id: JobId) -> String {
    fill(JOB_GROUP_SUGGESTIONS, id)
}
pub fn job_agents(id: JobId) -> String {
    fill(JOB_AGENTS, id)
}
pub fn job_registration_token(id: JobId) -> String {
    fill(JOB_REGISTRATION_TOKEN, id)
}
pub fn session(id: SessionId) -> String {
    fill(SESSION, id)
}
pub fn session_progress(id: SessionId) -> String {
    fill(SESSION_PROGRESS, id)
}
pub fn session_changes_csv(id: SessionId) -> String {
    fill(SESSION_CHANGES_CSV, id)
}
pub fn session_decision(id: SessionId) -> String {
    fill(SESSION_DECISION, id)
}
pub fn agent_revoke(id: AgentId) -> String {
    fill(AGENT_REVOKE, id)
}
pub fn user(id: UserId) -> String {
    fill(USER, id)
}
pub fn access(id: AccessId) -> String {
    fill(ACCESS, id)
}
pub fn admin_remove(id: ConsoleAdminId) -> String {
    fill(ADMIN_REMOVE, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_fill_their_pattern() {
        let job_id: JobId = uuid::Uuid::nil().into();
        assert_eq!(job(job_id), "/console/jobs/00000000-0000-0000-0000-000000000000");
        assert_eq!(job_linking(job_id), "/console/jobs/00000000-0000-0000-0000-000000000000/linking");
        assert_eq!(fill(USERS, "x"), USERS);
    }
}
