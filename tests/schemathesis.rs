//! The admin API against its own contract, property-based: `schemathesis`
//! (PyPI) reads `proto-schemas/openapi.json` and sends generated requests,
//! valid and invalid, to a real server whose tenant holds a directory the
//! real agent pushed from the real DC, so every id it is given exists.
//! Every check is on; any failure fails the test: a 5xx, a status or body
//! off the contract, a valid request refused, an invalid one accepted.
//!
//! The agent API is left out: every request there needs a fresh EdDSA
//! token bound to its method and path, which a generator cannot make; the
//! real agent's messages are checked against the same contract in
//! `real_messages_match_the_contract`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use roster_e2e::{Agent, Engine, LdapTransport, Server, TempDir, env};
use roster_proto::admin::{Page, SessionStatus, User};

use super::tenant_with_job;

/// How long schemathesis may generate and send requests (its `--max-time`).
const BUDGET: Duration = Duration::from_secs(60);

/// The schemathesis configuration: the ids that exist, operation by
/// operation, so generated requests reach real objects as well as absent
/// ones; and the few refusals of schema-valid requests that the contract
/// documents but JSON Schema cannot express, each named with its reason.
/// Everything else is checked as the contract says.
fn config(job: &str, session: &str, user: &str, username: &str, agent: &str, access: &str) -> String {
    format!(
        r#"# Written by tests/schemathesis.rs for one run.
[parameters]
job = "{job}"

[[operations]]
include-path-regex = "^/api/v1/sessions/"
parameters = {{ id = "{session}" }}

[[operations]]
include-path-regex = "^/api/v1/users/"
parameters = {{ id = "{user}" }}

[[operations]]
include-path-regex = "^/api/v1/agents/"
parameters = {{ id = "{agent}" }}

[[operations]]
include-path-regex = "^/api/v1/accesses/"
parameters = {{ id = "{access}" }}

[[operations]]
include-name = "GET /api/v1/jobs/{{job}}/explain"
parameters = {{ user = "{username}" }}

# A page cursor is valid only if this API returned it: no pattern can say
# which strings those are, so a schema-valid cursor may answer 400.
[[operations]]
include-name-regex = '^GET /api/v1/(jobs|accesses|agents|users|admin-tokens|audit|jobs/\{{job\}}/sessions|sessions/\{{id\}}/changes|users/\{{id\}}/history)$'
checks.positive_data_acceptance.expected-statuses = ["2XX", 400, 401, 404, 409, 429]

# Links name groups of the job's directory and accesses of the tenant: a
# schema-valid name or id that is not there answers 422.
[[operations]]
include-name = "PUT /api/v1/jobs/{{job}}/links"
checks.positive_data_acceptance.expected-statuses = ["2XX", 401, 404, 409, 422, 429]

# A job's user filter must be an RFC 4515 LDAP filter, a grammar of nested
# parentheses no JSON Schema pattern can check: a bad one answers 422.
[[operations]]
include-name = "POST /api/v1/jobs"
checks.positive_data_acceptance.expected-statuses = ["2XX", 401, 404, 409, 422, 429]

# A job's changed settings are checked as a new job's are (the filter's
# grammar, again), and another job's name answers 409.
[[operations]]
include-name = "PATCH /api/v1/jobs/{{job}}"
checks.positive_data_acceptance.expected-statuses = ["2XX", 401, 404, 409, 422, 429]

# Whether a job has active users, or an access is linked or held, is the
# data's, not the request's: a schema-valid delete of one answers 409. An
# access renamed to a name another of its kind has answers 409 too.
[[operations]]
include-name-regex = '^(DELETE /api/v1/jobs/\{{job\}}|DELETE /api/v1/accesses/\{{id\}}|PATCH /api/v1/accesses/\{{id\}})$'
checks.positive_data_acceptance.expected-statuses = ["2XX", 401, 404, 409, 429]

# A registration token is valid only if an admin issued it (and only once),
# and a public key only if its 32 bytes are a point of Ed25519's curve, which
# about half of all 32-byte strings are not: those answer 401 and 422.
[[operations]]
include-name = "POST /agent/v1/register"
checks.positive_data_acceptance.expected-statuses = ["2XX", 401, 404, 409, 422, 429]
"#
    )
}

#[tokio::test]
async fn sqlite_admin_api_holds_its_contract_under_schemathesis() {
    let schemathesis = env("ROSTER_TEST_SCHEMATHESIS");
    // Schemathesis sends far more than a tenant's default request rate.
    let server = Server::start_with_env(
        Engine::Sqlite,
        &[
            ("ROSTER_TENANT_REQUESTS_PER_SECOND", "100000"),
            ("ROSTER_TENANT_REQUEST_BURST", "100000"),
            ("ROSTER_REGISTER_REQUESTS_PER_MINUTE", "1000000"),
            ("ROSTER_REGISTER_REQUEST_BURST", "100000"),
        ],
    )
    .await;
    let agent = Agent::new(LdapTransport::Ldaps, 500);
    let (admin, job, _) = tenant_with_job(&server, &agent).await;
    let pushed: serde_json::Value = serde_json::from_slice(&agent.run_ok(&["push"]).stdout).unwrap();
    let session_id = pushed["session"]["id"].as_str().unwrap().to_owned();
    let session = admin.wait_for_session(session_id.parse().unwrap()).await;
    assert_eq!(session.status, SessionStatus::Succeeded, "{session:?}");
    let users: Page<User> = admin.get(&format!("/api/v1/users?job={}&limit=1", job.id)).await;
    let user = users.items.first().expect("the push imported users");
    let agents: serde_json::Value = admin.get("/api/v1/agents").await;
    let agent_id = agents["items"][0]["id"].as_str().expect("the registered agent is listed").to_owned();
    let accesses: serde_json::Value = admin.get("/api/v1/accesses").await;
    let access_id = accesses["items"][0]["id"].as_str().expect("the job's links name accesses").to_owned();

    let dir = TempDir::new("roster-schemathesis");
    let config_path = dir.0.join("schemathesis.toml");
    std::fs::write(&config_path, config(&job.id.to_string(), &session_id, &user.id.to_string(), &user.username, &agent_id, &access_id))
        .unwrap();
    let openapi = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto-schemas/openapi.json");
    let output = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config_path)
        .arg("run")
        .arg(&openapi)
        .args(["--url", &server.url])
        .args(["--header", &format!("Authorization: Bearer {}", admin.token)])
        .args(["--include-path-regex", "^/(api/v1/|agent/v1/register$|health$)"])
        .args(["--checks", "all", "--max-time", &BUDGET.as_secs().to_string(), "--workers", "1"])
        .arg("--report-dir")
        .arg(dir.0.join("report"))
        .current_dir(&dir.0)
        .output()
        .unwrap_or_else(|e| panic!("run {schemathesis}: {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schemathesis found failures (exit {:?}):\n{text}", output.status.code());
    // Its summary, for `--nocapture` runs: what was tested, and the seed.
    let summary = text.rfind("SUMMARY").map_or(text.as_str(), |at| &text[at..]);
    eprintln!("schemathesis: {summary}");
    // A run that tested nothing would also exit 0.
    assert!(text.contains("passed"), "schemathesis ran no test case:\n{text}");
}
