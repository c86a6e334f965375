//! Messages of the admin API (`/api/v1/...`), which a tenant's admins and
//! the console call with a bearer admin token.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::id::{AccessId, AdminTokenId, AgentId, AuditEntryId, JobId, SessionId, SnapshotId, TenantId, UserId};
use crate::schema::common::{self, Nullable};
use crate::{DailyTime, ObjectGuid, Sha256Hex};

/// Most changes `POST /api/v1/jobs/{job}/plan` lists (its `limit`'s maximum).
pub const MAX_PLAN_CHANGES: usize = 10_000;

/// Most usernames an [`AccessDelta`] names.
pub const MAX_DELTA_USERNAMES: usize = 100;

/// `POST /api/v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// Unique in the tenant (409 if taken); blank answers 422.
    #[schemars(with = "common::NonBlank")]
    pub name: String,
    /// OUs whose users are in scope, relative to the directory's base DN
    /// (`OU=Copenhagen,OU=Staff`), or `*` for the whole domain. At least one
    /// non-blank path; each must parse as a DN; at most
    /// `scope::MAX_PATHS` (1,000) paths (else 422).
    #[schemars(
        with = "Vec<common::RelativePath>",
        extend("contains" = { "type": "string", "pattern": "\\S" }, "maxItems" = crate::scope::MAX_PATHS)
    )]
    pub relative_paths: Vec<String>,
    /// Where groups are read from, same form; empty (the default) means the
    /// whole domain; at most `scope::MAX_PATHS` (1,000) paths (else 422).
    #[serde(default)]
    #[schemars(with = "Vec<common::RelativePath>", extend("maxItems" = crate::scope::MAX_PATHS))]
    pub group_paths: Vec<String>,
    /// When the job imports by itself; `Schedule::default()` (daily at
    /// 02:00 UTC) when left out.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub schedule: Option<Schedule>,
    /// Days between full reconciliations (1..=365, else 422); 7 when left
    /// out. Between them the agent sends deltas.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(range(min = 1, max = 365))]
    pub full_sync_interval_days: Option<u32>,
    /// An RFC 4515 LDAP filter users must also match, ANDed to the agent's
    /// user search, e.g. `(employeeType=staff)`. The server checks its shape
    /// (one parenthesised filter, balanced parentheses, a condition; else
    /// 422); the DC judges the rest. Blank means none. Changing it makes the
    /// next snapshot full.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(length(min = 3, max = 4096), regex(pattern = r"^\s*\(.*\)\s*$"))]
    #[schemars(example = &"(department=Sales)", example = &"(&(employeeType=staff)(!(title=Intern)))")]
    pub user_filter: Option<String>,
    /// The import safeguard; the defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub policy: Option<SafeguardPolicy>,
    /// How the job's agent brings AD's changes; `scheduled` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub sync_mode: Option<SyncMode>,
}

/// How a job's agent brings AD's changes to the service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// The agent pushes when asked: the job's first push, its schedule, an
    /// admin's "Perform import" with fresh data.
    #[default]
    Scheduled,
    /// Besides that, the agent in `roster-agent run` watches the DC (change
    /// notifications, else polling its `highestCommittedUSN`) and pushes a
    /// delta within seconds of a change in scope; each is imported at once,
    /// the safeguard applying as always.
    Continuous,
}

impl SyncMode {
    /// Every mode.
    pub const ALL: [SyncMode; 2] = [SyncMode::Scheduled, SyncMode::Continuous];

    /// As the API spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            SyncMode::Scheduled => "scheduled",
            SyncMode::Continuous => "continuous",
        }
    }
}

/// When a job imports by itself: daily at `daily_at` on the clock of
/// `time_zone`, or every `interval_minutes` through the day, aligned to
/// `daily_at`. Each run asks the job's agent for fresh data first.
///
/// On a daylight-saving day a time the clock skips runs at the first
/// instant after the gap, and a time the clock shows twice runs once, at
/// the first; each local slot runs at most once. A run the server missed
/// (it was down) runs once when it is back, marked `caught_up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(example = Schedule::default())]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Whether scheduled imports run at all; `true` when left out.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Time of day on the zone's clock, `HH:MM` (24-hour, two digits each).
    #[schemars(example = &"02:00")]
    pub daily_at: DailyTime,
    /// An IANA time zone name (`Europe/Copenhagen`, `America/New_York`,
    /// `UTC`); one the server's time zone database does not know answers 422.
    #[schemars(length(min = 1, max = 64), example = &"Europe/Copenhagen")]
    pub time_zone: String,
    /// Minutes between runs, 5..=1440 (else 422): the runs of a day are at
    /// `daily_at` plus or minus whole intervals. `null` (the default): once a day.
    #[serde(default)]
    #[schemars(with = "Nullable<u32>", range(min = MIN_INTERVAL_MINUTES, max = MAX_INTERVAL_MINUTES))]
    pub interval_minutes: Option<u32>,
}

/// The shortest interval between a job's scheduled runs.
pub const MIN_INTERVAL_MINUTES: u32 = 5;
/// The longest: a day.
pub const MAX_INTERVAL_MINUTES: u32 = 1440;

fn enabled() -> bool {
    true
}

impl Default for Schedule {
    /// Daily at 02:00 UTC.
    fn default() -> Schedule {
        Schedule { enabled: true, daily_at: DailyTime::from_hm(2, 0), time_zone: "UTC".to_owned(), interval_minutes: None }
    }
}

/// `GET /api/v1/jobs/{job}/schedule`: the job's schedule and its next runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledRuns {
    pub schedule: Schedule,
    /// The next five runs in order; empty while the schedule is disabled.
    #[schemars(length(max = 5))]
    pub runs: Vec<ScheduledRun>,
}

/// One coming scheduled run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledRun {
    /// When it starts (its slot plus the job's fixed jitter), in UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub at: time::OffsetDateTime,
    /// The same instant on the zone's clock, RFC 3339 with the zone's
    /// offset then (`2027-03-28T03:00:30+02:00`).
    #[schemars(with = "common::DateTime")]
    pub local: String,
    /// The local slot it runs for, `YYYY-MM-DDTHH:MM` as scheduled (before
    /// any daylight-saving move); each slot runs at most once.
    #[schemars(example = &"2027-03-28T02:30")]
    pub slot: String,
    /// True when the zone changes its offset on that local date.
    pub dst_day: bool,
    /// What daylight saving did to this run, when it did something: the
    /// slot's time does not exist that day (moved to the end of the gap),
    /// or exists twice (runs at the first). Left out otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"02:30 does not exist on 2027-03-28 in Europe/Copenhagen: runs at 03:00, the end of the gap")]
    pub dst_note: Option<String>,
}

/// How much one import may take away before it waits for an admin
/// (`GET`/`PUT /api/v1/jobs/{job}/policy`, `Job.policy`): a plan beyond
/// either budget is not applied; its session is `held` with `held_reasons`
/// until an admin approves or rejects it. Whatever the policy, a plan for a
/// directory that holds nobody in the job's scope while the job has active
/// users is always held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(example = SafeguardPolicy::default())]
#[serde(deny_unknown_fields)]
pub struct SafeguardPolicy {
    /// Users an import may deactivate.
    pub max_deactivations: Budget,
    /// Users an import may take a basic access from (deactivated ones
    /// included).
    pub max_lost_basic: Budget,
    /// Below this many active users (before the import), the budgets do not apply.
    #[schemars(example = SafeguardPolicy::default().min_active_users)]
    pub min_active_users: u64,
}

impl Default for SafeguardPolicy {
    /// 10 % of active users or 500, whichever is smaller; never below 20 users.
    fn default() -> SafeguardPolicy {
        let budget = Budget { count: 500, percent: 10 };
        SafeguardPolicy { max_deactivations: budget, max_lost_basic: budget, min_active_users: 20 }
    }
}

/// A count and a percentage of the job's active users; the smaller wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// At most this many users.
    pub count: u64,
    /// At most this percentage of the active users, 0..=100 (more answers 422).
    #[schemars(range(max = 100))]
    pub percent: u32,
}

impl Budget {
    /// The most this budget allows out of `active` users.
    pub fn allowance(self, active: u64) -> u64 {
        self.count.min(active.saturating_mul(u64::from(self.percent)) / 100)
    }
}

/// A tenant's settings (`GET`/`PUT /api/v1/settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Days a deactivated user is kept (and re-activated with the same
    /// identity if it comes back) before it is purged; 1..=3650 (else 422),
    /// default 30.
    #[schemars(range(min = 1, max = 3650), example = TenantSettings::default().purge_after_days)]
    pub purge_after_days: u32,
    /// Days finished import sessions are kept; absent = forever (the
    /// default); 0 answers 422.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(range(min = 1))]
    pub session_retention_days: Option<u32>,
}

impl Default for TenantSettings {
    fn default() -> TenantSettings {
        TenantSettings { purge_after_days: 30, session_retention_days: None }
    }
}

/// `PATCH /api/v1/jobs/{job}`: the members given replace the job's, the
/// others stay; the result is checked as `CreateJob` is (422 with the
/// reason; 409 for a name another job has). Changing the paths or the
/// filter makes the next snapshot full. An empty object changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateJob {
    /// As in `createJob.name`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(with = "common::NonBlank")]
    pub name: Option<String>,
    /// As in `createJob.relative_paths`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(
        with = "Vec<common::RelativePath>",
        extend("contains" = { "type": "string", "pattern": "\\S" }, "maxItems" = crate::scope::MAX_PATHS)
    )]
    pub relative_paths: Option<Vec<String>>,
    /// As in `createJob.group_paths`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(with = "Vec<common::RelativePath>", extend("maxItems" = crate::scope::MAX_PATHS))]
    pub group_paths: Option<Vec<String>>,
    /// As in `createJob.user_filter`; blank removes the filter.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(length(max = 4096))]
    pub user_filter: Option<String>,
    /// The whole schedule, as in `createJob.schedule` (members left out
    /// take their defaults: `enabled` true, `interval_minutes` null); the
    /// next scheduled import moves to it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub schedule: Option<Schedule>,
    /// As in `createJob.full_sync_interval_days`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(range(min = 1, max = 365))]
    pub full_sync_interval_days: Option<u32>,
    /// The whole safeguard policy, as `PUT /api/v1/jobs/{job}/policy` takes it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub policy: Option<SafeguardPolicy>,
    /// As in `createJob.sync_mode`; the job's agent follows within a minute.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub sync_mode: Option<SyncMode>,
}

/// An import job: one domain or OU set of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Job {
    pub id: JobId,
    pub name: String,
    pub relative_paths: Vec<String>,
    pub group_paths: Vec<String>,
    /// When the job imports by itself (`GET /api/v1/jobs/{job}/schedule`
    /// lists the next runs).
    pub schedule: Schedule,
    /// Days between full reconciliations (1..=365 as created; 7 unless the
    /// job said otherwise). `POST /api/v1/jobs/{job}/full-sync` asks for one sooner.
    #[schemars(example = 7)]
    pub full_sync_interval_days: u32,
    /// The job's user filter, when it has one (see `createJob.user_filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
    /// The job's import safeguard (`GET`/`PUT /api/v1/jobs/{job}/policy`).
    pub policy: SafeguardPolicy,
    /// How the job's agent brings AD's changes.
    pub sync_mode: SyncMode,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub created_at: time::OffsetDateTime,
}

impl Job {
    /// What the job reads.
    pub fn scope(&self) -> crate::scope::JobScope {
        crate::scope::JobScope {
            relative_paths: self.relative_paths.clone(),
            group_paths: self.group_paths.clone(),
            user_filter: self.user_filter.clone(),
        }
    }
}

/// `POST /api/v1/jobs/{job}/registration-tokens`: a one-time token an agent
/// trades for its identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistrationToken {
    pub job_id: JobId,
    /// Opaque; shown once, only its hash is stored.
    #[schemars(example = &"rst_reg_3q2-7wEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    pub token: String,
    /// 24 hours after creation.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub expires_at: time::OffsetDateTime,
}

/// A registered agent, for the console's health view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Agent {
    pub id: AgentId,
    pub job_id: JobId,
    /// Whether it is heard from (see `AgentState`). It says nothing about
    /// the job's imports: a healthy agent's imports may still fail.
    pub state: AgentState,
    /// Whether it holds its job's lease now (the one agent of the job that
    /// is handed commands and pushes); its job's other agents stand by.
    pub active: bool,
    /// The machine it runs on, as its last heartbeat (or its registration) said.
    #[schemars(with = "Nullable<String>")]
    pub hostname: Option<String>,
    /// Its operating system, as its last heartbeat said.
    #[schemars(with = "Nullable<String>")]
    pub os: Option<String>,
    /// Whether its domain controller answered, as its last heartbeat said.
    #[schemars(with = "Nullable<bool>")]
    pub dc_reachable: Option<bool>,
    /// The last error it reported (a failed command, an unreachable DC);
    /// `null` once it reports none.
    #[schemars(with = "Nullable<String>")]
    pub last_error: Option<String>,
    /// When it last committed a snapshot; `null` if never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Nullable<common::DateTime>")]
    pub last_push_at: Option<time::OffsetDateTime>,
    #[schemars(with = "Nullable<String>")]
    pub agent_version: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub registered_at: time::OffsetDateTime,
    /// Its last authenticated request (a poll for commands counts), to
    /// within 15 s; `null` if none yet.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Nullable<common::DateTime>")]
    pub last_seen_at: Option<time::OffsetDateTime>,
    /// Once set, every request of this agent is refused (401).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Nullable<common::DateTime>")]
    pub revoked_at: Option<time::OffsetDateTime>,
}

/// Whether an agent is heard from, judged from its last request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Heard from within the last 90 s (`AgentState::HEALTHY_WITHIN_SECS`):
    /// an agent in `roster-agent run` polls every 30 s at most.
    Healthy,
    /// Silent for longer, up to 10 minutes (`AgentState::STALE_WITHIN_SECS`).
    Stale,
    /// Silent for longer than that, or never heard from since registering.
    Offline,
    /// Revoked by an admin: every request it makes is refused.
    Revoked,
}

impl AgentState {
    /// Heard from within this long: healthy.
    pub const HEALTHY_WITHIN_SECS: i64 = 90;
    /// Heard from within this long (and not within the above): stale.
    pub const STALE_WITHIN_SECS: i64 = 600;

    /// The state of an agent last heard from at `last_seen`, at `now`.
    pub fn judge(revoked: bool, last_seen: Option<time::OffsetDateTime>, now: time::OffsetDateTime) -> AgentState {
        let Some(seen) = last_seen else {
            return if revoked { AgentState::Revoked } else { AgentState::Offline };
        };
        let silent = (now - seen).whole_seconds();
        match () {
            _ if revoked => AgentState::Revoked,
            _ if silent <= AgentState::HEALTHY_WITHIN_SECS => AgentState::Healthy,
            _ if silent <= AgentState::STALE_WITHIN_SECS => AgentState::Stale,
            _ => AgentState::Offline,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Healthy => "healthy",
            AgentState::Stale => "stale",
            AgentState::Offline => "offline",
            AgentState::Revoked => "revoked",
        }
    }
}

/// The kinds of rights the booking service knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// User at a location: the basic access, without which nobody enters.
    User,
    /// Administrator at a location.
    Administrator,
    /// Member of a department.
    Department,
    /// A VIP right, e.g. a lounge.
    Vip,
}

impl AccessKind {
    pub const ALL: [AccessKind; 4] = [AccessKind::User, AccessKind::Administrator, AccessKind::Department, AccessKind::Vip];

    /// True for the access that lets a user into the service.
    pub fn is_basic(self) -> bool {
        self == AccessKind::User
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::User => "user",
            AccessKind::Administrator => "administrator",
            AccessKind::Department => "department",
            AccessKind::Vip => "vip",
        }
    }

    pub fn parse(s: &str) -> Option<AccessKind> {
        AccessKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// `POST /api/v1/accesses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccess {
    pub kind: AccessKind,
    /// What the right is about: a location for `user`/`administrator`, a
    /// department's name, etc. Trimmed; blank answers 422.
    #[schemars(with = "common::NonBlank")]
    pub name: String,
}

/// `PATCH /api/v1/accesses/{access}`: renames an access (its kind stays).
/// Trimmed; blank answers 422; a name another access of the kind has, 409.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccess {
    #[schemars(with = "common::NonBlank")]
    pub name: String,
}

/// A right in the tenant's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Access {
    pub id: AccessId,
    pub kind: AccessKind,
    pub name: String,
}

/// One entry of `PUT /api/v1/jobs/{job}/links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    /// The AD group: its objectGUID in any form `objectGuidInput` allows,
    /// its DN (`CN=Sales,OU=Groups,DC=corp,DC=example,DC=test`; text with
    /// `=` must be a DN), or its name (`cn`, at most 256 characters, no
    /// control characters), which must match exactly one group of the job's
    /// directory state to take effect. Once resolved, the link follows the
    /// group's objectGUID. Anything else answers 422.
    #[schemars(schema_with = "link_group_schema")]
    pub group: String,
    /// An access of the caller's tenant (else 422).
    pub access_id: AccessId,
}

/// What the server takes as a link's group, which its type (`String`) cannot say.
fn link_group_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let guid = generator.subschema_for::<common::ObjectGuidInput>();
    schemars::json_schema!({
        "type": "string",
        "anyOf": [
            guid,
            { "type": "string", "pattern": "=" },
            { "type": "string", "pattern": "^[^=\\u0000-\\u001f\\u007f]*[^\\s=\\u0000-\\u001f\\u007f][^=\\u0000-\\u001f\\u007f]*$", "maxLength": 300 }
        ]
    })
}

/// A link as stored: the group as given, and what it resolved to in the
/// newest snapshot (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Link {
    /// The group exactly as the admin gave it.
    pub group: String,
    pub access_id: AccessId,
    /// The group's objectGUID once a snapshot containing it was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_guid: Option<ObjectGuid>,
}

/// A page of a list endpoint. `next_cursor` is opaque; pass it back as
/// `cursor` for the next page; `null` means this was the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[schemars(with = "NextCursor")]
    pub next_cursor: Option<String>,
}

/// The schema of [`Page::next_cursor`]: opaque, always present, `null` on the last page.
#[derive(Debug)]
pub struct NextCursor;

impl JsonSchema for NextCursor {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "nextCursor".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Opaque; pass it back as `cursor` for the next page. `null` means this was the last page. Always present.",
            "type": ["string", "null"]
        })
    }
}

/// An access as a user carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct AccessRef {
    pub id: AccessId,
    pub kind: AccessKind,
    pub name: String,
}

/// A user of the booking service, as imported from one job. The same
/// person in two jobs (two domains) is two users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub id: UserId,
    pub job_id: JobId,
    /// The AD account's current `objectGUID` (the user is matched by its
    /// anchor, so a re-created account with the same consistency GUID is
    /// the same user and this follows the new account).
    pub object_guid: ObjectGuid,
    /// `sAMAccountName`.
    pub username: String,
    /// Always present; `null` when AD has no `mail`.
    #[schemars(with = "Nullable<String>")]
    pub email: Option<String>,
    /// Always present; `null` when AD has no `displayName`.
    #[schemars(with = "Nullable<String>")]
    pub display_name: Option<String>,
    /// False when disabled in AD, out of scope, gone from AD, or without a
    /// basic access. Users are deactivated, never deleted by an import.
    pub active: bool,
    pub accesses: Vec<AccessRef>,
}

/// What started an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionTrigger {
    /// The job's first snapshot arrived.
    FirstPush,
    /// An admin asked.
    Manual,
    /// The job's daily schedule.
    Schedule,
    /// The job syncs continuously (`sync_mode: continuous`) and its agent
    /// pushed a change: imported at once.
    Change,
}

/// Where an import session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for fresh data: the job's agent was asked for a snapshot
    /// (a scheduled run, or an import started with `fresh`). Moves on by
    /// itself to `queued` when a snapshot offered after the session began
    /// is committed, or to `failed` at `waiting_until` if none is.
    Waiting,
    /// Waiting for the import worker; moves on by itself.
    Queued,
    /// Being planned and applied; moves on by itself.
    Running,
    /// Applied (final).
    Succeeded,
    /// Planned beyond the job's safeguard: nothing applied; waits for an
    /// admin to approve or reject it.
    Held,
    /// A held session an admin rejected: nothing applied (final).
    Rejected,
    /// The import failed; see `error` (final).
    Failed,
}

impl SessionStatus {
    /// True once the import will do nothing more by itself: finished, or
    /// held for an admin.
    pub fn is_settled(self) -> bool {
        !matches!(self, SessionStatus::Waiting | SessionStatus::Queued | SessionStatus::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Waiting => "waiting",
            SessionStatus::Queued => "queued",
            SessionStatus::Running => "running",
            SessionStatus::Succeeded => "succeeded",
            SessionStatus::Held => "held",
            SessionStatus::Rejected => "rejected",
            SessionStatus::Failed => "failed",
        }
    }

    pub const ALL: [SessionStatus; 7] = [
        SessionStatus::Waiting,
        SessionStatus::Queued,
        SessionStatus::Running,
        SessionStatus::Succeeded,
        SessionStatus::Held,
        SessionStatus::Rejected,
        SessionStatus::Failed,
    ];

    pub fn parse(s: &str) -> Option<SessionStatus> {
        SessionStatus::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// How many users an import touched (or would touch), and how.
/// `reactivated` and `lost_basic` may be left out on input (0); Roster
/// always writes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionCounts {
    /// New users.
    pub created: u64,
    /// Existing users whose fields or accesses changed.
    pub updated: u64,
    /// Users who were active and no longer are.
    pub deactivated: u64,
    /// Users who were inactive and are active again, with the same identity.
    #[serde(default)]
    pub reactivated: u64,
    /// Existing users who lose at least one basic access (deactivations
    /// included): what the safeguard weighs with `deactivated`.
    #[serde(default)]
    pub lost_basic: u64,
    /// Users the import looked at and left as they were.
    pub unchanged: u64,
    /// Users in scope whom no linked group grants a basic access.
    pub not_linked: u64,
}

/// One import run. Kept forever, unless the tenant sets
/// `TenantSettings.session_retention_days`: then finished sessions are
/// removed that many days after their creation. A session whose plan is
/// beyond the job's safeguard is `held` with `held_reasons`; an admin's
/// approval or rejection is recorded in `decided_by` and `decided_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = session_rules)]
pub struct Session {
    pub id: SessionId,
    pub job_id: JobId,
    pub trigger: SessionTrigger,
    pub status: SessionStatus,
    /// The snapshot it imports; left out while it is `waiting` for one
    /// (and for a session that failed waiting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<SnapshotId>,
    /// sha256 of the signed manifest token's payload the snapshot was
    /// committed with; present exactly when `snapshot_id` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<Sha256Hex>,
    /// A scheduled run the server missed (it was not running at the time)
    /// and ran once when it was back. Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub caught_up: bool,
    /// While `waiting`: when the session fails if no fresh snapshot has
    /// been committed by then.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<common::DateTime>")]
    pub waiting_until: Option<time::OffsetDateTime>,
    /// While `running`: how far the import's plan has got. Left out before
    /// the first batch is planned and once the session is no longer running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ImportProgress>,
    /// What the import did; for a held or rejected session, what its plan
    /// would have done.
    pub counts: SessionCounts,
    /// Things the admin should know (e.g. "no links: nobody imported").
    pub notes: Vec<String>,
    /// Why a failed session failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why a held session was held: the budgets its plan exceeds. Kept
    /// after an admin's decision, as the record of what was approved.
    /// Left out when empty, never `[]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = held_reasons_example())]
    #[schemars(length(min = 1))]
    pub held_reasons: Vec<String>,
    /// Who approved or rejected a held session (`Decision.by`, `admin` when
    /// not given, or `superseded by session <id>` when a newer run of the
    /// job rejected it), and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When; present exactly when `decided_by` is.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<common::DateTime>")]
    pub decided_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub created_at: time::OffsetDateTime,
    /// Left out until the session is finished or held (an approval, which
    /// queues it again, clears it).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<common::DateTime>")]
    pub finished_at: Option<time::OffsetDateTime>,
    /// Left out until the session is finished or held (an approval clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// A running import's progress: directory users planned so far, of all the
/// users of the job's directory state (in scope or not: each is looked at).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportProgress {
    pub done: u64,
    pub total: u64,
}

/// What a held session's `held_reasons` look like.
fn held_reasons_example() -> [&'static str; 1] {
    ["the plan deactivates 10 of 30 active users; the policy allows 3 (500 or 10 %, whichever is smaller)"]
}

/// What a session's `status` implies, which the field types cannot say: a
/// held session says why; a rejected one also who decided, and when; a
/// decision has both its parts.
fn session_rules(schema: &mut schemars::Schema) {
    let when = |status: &str| serde_json::json!({ "properties": { "status": { "const": status } }, "required": ["status"] });
    schema.insert(
        "dependentRequired".into(),
        serde_json::json!({
            "decided_by": ["decided_at"], "decided_at": ["decided_by"],
            "snapshot_id": ["manifest_sha256"], "manifest_sha256": ["snapshot_id"]
        }),
    );
    schema.insert(
        "allOf".into(),
        serde_json::json!([
            { "if": when("waiting"), "then": { "required": ["waiting_until"] }, "else": { "not": { "required": ["waiting_until"] } } },
            { "if": when("queued"), "then": { "required": ["snapshot_id"] } },
            { "if": when("running"), "then": { "required": ["snapshot_id"] } },
            { "if": when("succeeded"), "then": { "required": ["snapshot_id"] } },
            { "if": when("held"), "then": { "required": ["held_reasons", "snapshot_id"] } },
            { "if": when("rejected"), "then": { "required": ["held_reasons", "decided_by", "decided_at", "snapshot_id"] } }
        ]),
    );
}

/// What an import did to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// A new user.
    Created,
    /// Fields or accesses changed.
    Updated,
    /// Was active, is not any more (never deleted by an import).
    Deactivated,
    /// Was inactive, is active again: the same user, the same id.
    Reactivated,
}

impl ChangeAction {
    pub const ALL: [ChangeAction; 4] = [ChangeAction::Created, ChangeAction::Updated, ChangeAction::Deactivated, ChangeAction::Reactivated];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Created => "created",
            ChangeAction::Updated => "updated",
            ChangeAction::Deactivated => "deactivated",
            ChangeAction::Reactivated => "reactivated",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeAction> {
        ChangeAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One itemised change of a session (or of a plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = session_change_rules)]
pub struct SessionChange {
    /// The user changed; absent for a creation that was only planned (a
    /// dry run, or a held session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    pub object_guid: ObjectGuid,
    pub username: String,
    pub action: ChangeAction,
    /// What changed, as data: fields (old and new), accesses gained and
    /// lost, and why a user became inactive.
    pub details: Vec<ChangeDetail>,
}

/// Only a planned creation has no user yet.
fn session_change_rules(schema: &mut schemars::Schema) {
    schema.insert(
        "allOf".into(),
        serde_json::json!([{ "if": { "not": { "required": ["user_id"] } }, "then": { "properties": { "action": { "const": "created" } } } }]),
    );
}

/// One fact of a change, as data (words are the reader's to choose).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangeDetail {
    /// A field's value before and after; either is absent for no value,
    /// `old` for a new user.
    Field {
        /// The field's name, e.g. `email`, `dn`.
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new: Option<String>,
    },
    /// An access the user holds after the import and did not before.
    AccessGained(AccessChange),
    /// An access the user held before the import and does not after.
    AccessLost(AccessChange),
    /// The user was active and is not any more.
    Deactivated { reason: DeactivationReason },
    /// A new user that is inactive from the start.
    Inactive { reason: DeactivationReason },
    /// The user was inactive and is active again.
    Reactivated,
    /// Words recorded before details were data (older sessions).
    Note { text: String },
}

/// An access gained or lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Inline: the schema is the `ChangeDetail` variant's, with its `type` tag.
#[schemars(inline)]
pub struct AccessChange {
    pub id: AccessId,
    /// The access's kind and name; absent when it is no longer in the catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AccessKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Why a user is inactive after an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeactivationReason {
    /// The account is disabled in AD.
    DisabledInDirectory,
    /// The account has expired in AD (`accountExpires`).
    AccountExpired,
    /// The user left the job's scope.
    LeftScope,
    /// The user is no longer in AD (or where the agent reads).
    GoneFromDirectory,
    /// No linked group grants the user a basic access any more.
    NoBasicAccess,
}

impl DeactivationReason {
    pub const ALL: [DeactivationReason; 5] = [
        DeactivationReason::DisabledInDirectory,
        DeactivationReason::AccountExpired,
        DeactivationReason::LeftScope,
        DeactivationReason::GoneFromDirectory,
        DeactivationReason::NoBasicAccess,
    ];

    /// The reason's code, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeactivationReason::DisabledInDirectory => "disabled_in_directory",
            DeactivationReason::AccountExpired => "account_expired",
            DeactivationReason::LeftScope => "left_scope",
            DeactivationReason::GoneFromDirectory => "gone_from_directory",
            DeactivationReason::NoBasicAccess => "no_basic_access",
        }
    }

    /// The reason in words.
    pub fn describe(self) -> &'static str {
        match self {
            DeactivationReason::DisabledInDirectory => "the account is disabled in AD",
            DeactivationReason::AccountExpired => "the account has expired in AD",
            DeactivationReason::LeftScope => "the user left the job's scope",
            DeactivationReason::GoneFromDirectory => "the user is no longer in AD",
            DeactivationReason::NoBasicAccess => "no linked group grants the user a basic access any more",
        }
    }
}

/// `POST /api/v1/jobs/{job}/plan`: what an import would do now, applied to
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanPreview {
    /// The snapshot the plan reads.
    pub snapshot_id: SnapshotId,
    pub counts: SessionCounts,
    /// Non-empty when an import of this plan would be held, and why.
    pub held_reasons: Vec<String>,
    /// Things the admin should know, as a session's `notes`.
    pub notes: Vec<String>,
    /// The first `limit` changes, in the order an import records them.
    /// Planned creations have no `user_id`.
    #[schemars(length(max = MAX_PLAN_CHANGES))]
    pub changes: Vec<SessionChange>,
    /// How many changes the plan has in all.
    pub total_changes: u64,
}

/// `PUT /api/v1/jobs/{job}/links`: the links as saved, and what they do
/// to the job's users when next imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinksSaved {
    pub links: Vec<Link>,
    pub preview: LinksPreview,
}

/// Who gains and who loses which access under the new links, planned on
/// the job's stored directory state (empty before the first snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinksPreview {
    /// Accesses users would gain, ordered by access (kind, name, id).
    pub gains: Vec<AccessDelta>,
    /// Accesses users would lose, ordered likewise.
    pub losses: Vec<AccessDelta>,
    /// What the planned import would count.
    pub counts: SessionCounts,
    /// Things the admin should know (a link whose group the state does not
    /// hold, no snapshot yet, ...).
    pub notes: Vec<String>,
}

/// Users gaining or losing one access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessDelta {
    pub access: AccessRef,
    /// How many users.
    #[schemars(range(min = 1))]
    pub users: u64,
    /// Their usernames, sorted; the first 100 when `users` is larger.
    #[schemars(length(min = 1, max = MAX_DELTA_USERNAMES))]
    pub usernames: Vec<String>,
}

/// `POST /api/v1/jobs/{job}/imports` ("Perform import"); the body is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartImport {
    /// Ask the job's agent for a snapshot first and import that (the
    /// session is `waiting` until it is committed); `false` (the default)
    /// imports the newest snapshot the server holds.
    #[serde(default)]
    pub fresh: bool,
}

/// `POST /api/v1/sessions/{id}/approve` and `.../reject`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Who decides, as the console knows them; recorded as
    /// `Session.decided_by`, trimmed and cut to 200 characters. `admin`
    /// when left out or blank.
    #[schemars(example = &"alice@corp.example.test")]
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub by: Option<String>,
}

/// One entry of `GET /api/v1/users/{id}/history`: what one session did to
/// the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryEntry {
    pub session_id: SessionId,
    pub trigger: SessionTrigger,
    /// When the session finished (its creation, should it have no end).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub at: time::OffsetDateTime,
    pub action: ChangeAction,
    /// What the session changed, as [`SessionChange::details`].
    pub details: Vec<ChangeDetail>,
}

/// Longest life `POST /api/v1/admin-tokens` gives a token, in days.
pub const MAX_ADMIN_TOKEN_DAYS: u32 = 3650;

/// One of the tenant's admin tokens, without its value (only its hash is
/// stored). A revoked token is gone from the list; an expired one stays
/// listed until revoked, and is refused like an unknown one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdminToken {
    pub id: AdminTokenId,
    /// What it is for, as given when it was issued; `null` for none (and
    /// for the tenant's first token).
    #[schemars(with = "Nullable<String>")]
    pub label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub created_at: time::OffsetDateTime,
    /// From then on it is refused; `null`: never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Nullable<common::DateTime>")]
    pub expires_at: Option<time::OffsetDateTime>,
    /// Its last accepted request, to the minute; `null` if none yet.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Nullable<common::DateTime>")]
    pub last_used_at: Option<time::OffsetDateTime>,
}

/// `POST /api/v1/admin-tokens`: every member optional (`{}` issues an
/// unlabelled token that never expires).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAdminToken {
    /// What it is for (trimmed; a name's rules: no control characters, at
    /// most 200 characters, not blank).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(with = "Option<common::NonBlank>")]
    pub label: Option<String>,
    /// Days until it expires, 1..=3650; left out, it never does.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    #[schemars(range(min = 1, max = MAX_ADMIN_TOKEN_DAYS))]
    pub expires_in_days: Option<u32>,
}

/// A newly issued admin token: its listing and its value, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedAdminToken {
    #[serde(flatten)]
    pub token: AdminToken,
    /// Opaque; shown once, only its hash is stored.
    #[schemars(example = &"rst_admin_3q2-7wEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    pub admin_token: String,
}

/// What a console admin may do. Each role may do everything the one before
/// it may; an API admin token acts as an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Sees everything, changes nothing.
    Viewer,
    /// Also changes jobs, links, accesses and settings, starts imports,
    /// decides held plans, issues registration tokens, revokes agents.
    Admin,
    /// Also manages the tenant's admins and admin tokens.
    Owner,
}

impl AdminRole {
    /// Every role, weakest first.
    pub const ALL: [AdminRole; 3] = [AdminRole::Viewer, AdminRole::Admin, AdminRole::Owner];

    /// The role's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Admin => "admin",
            AdminRole::Owner => "owner",
        }
    }

    /// The role named `name` (as [`AdminRole::as_str`] writes it).
    pub fn parse(name: &str) -> Option<AdminRole> {
        AdminRole::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

/// Who made a change the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person signed in to the console.
    Admin,
    /// A request with an admin token (automation, curl).
    Token,
    /// The operator, on the server's command line.
    System,
}

/// What an audited change was. The names are stable: filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AuditAction {
    #[serde(rename = "job.created")]
    JobCreated,
    #[serde(rename = "job.updated")]
    JobUpdated,
    #[serde(rename = "job.deleted")]
    JobDeleted,
    #[serde(rename = "job.policy_saved")]
    PolicySaved,
    #[serde(rename = "job.full_sync_requested")]
    FullSyncRequested,
    #[serde(rename = "job.structure_requested")]
    StructureRequested,
    #[serde(rename = "links.saved")]
    LinksSaved,
    #[serde(rename = "import.started")]
    ImportStarted,
    #[serde(rename = "session.approved")]
    SessionApproved,
    #[serde(rename = "session.rejected")]
    SessionRejected,
    #[serde(rename = "access.created")]
    AccessCreated,
    #[serde(rename = "access.renamed")]
    AccessRenamed,
    #[serde(rename = "access.deleted")]
    AccessDeleted,
    #[serde(rename = "settings.saved")]
    SettingsSaved,
    #[serde(rename = "registration_token.issued")]
    RegistrationTokenIssued,
    #[serde(rename = "agent.revoked")]
    AgentRevoked,
    #[serde(rename = "admin_token.issued")]
    AdminTokenIssued,
    #[serde(rename = "admin_token.revoked")]
    AdminTokenRevoked,
    #[serde(rename = "admin.added")]
    AdminAdded,
    #[serde(rename = "admin.removed")]
    AdminRemoved,
    #[serde(rename = "admin.password_set")]
    AdminPasswordSet,
    #[serde(rename = "admin.signed_out_everywhere")]
    AdminSignedOutEverywhere,
}

impl AuditAction {
    /// Every action, for parsing what the database holds.
    pub const ALL: [AuditAction; 22] = [
        AuditAction::JobCreated,
        AuditAction::JobUpdated,
        AuditAction::JobDeleted,
        AuditAction::PolicySaved,
        AuditAction::FullSyncRequested,
        AuditAction::StructureRequested,
        AuditAction::LinksSaved,
        AuditAction::ImportStarted,
        AuditAction::SessionApproved,
        AuditAction::SessionRejected,
        AuditAction::AccessCreated,
        AuditAction::AccessRenamed,
        AuditAction::AccessDeleted,
        AuditAction::SettingsSaved,
        AuditAction::RegistrationTokenIssued,
        AuditAction::AgentRevoked,
        AuditAction::AdminTokenIssued,
        AuditAction::AdminTokenRevoked,
        AuditAction::AdminAdded,
        AuditAction::AdminRemoved,
        AuditAction::AdminPasswordSet,
        AuditAction::AdminSignedOutEverywhere,
    ];

    /// The action's stable name (`job.updated`), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::JobCreated => "job.created",
            AuditAction::JobUpdated => "job.updated",
            AuditAction::JobDeleted => "job.deleted",
            AuditAction::PolicySaved => "job.policy_saved",
            AuditAction::FullSyncRequested => "job.full_sync_requested",
            AuditAction::StructureRequested => "job.structure_requested",
            AuditAction::LinksSaved => "links.saved",
            AuditAction::ImportStarted => "import.started",
            AuditAction::SessionApproved => "session.approved",
            AuditAction::SessionRejected => "session.rejected",
            AuditAction::AccessCreated => "access.created",
            AuditAction::AccessRenamed => "access.renamed",
            AuditAction::AccessDeleted => "access.deleted",
            AuditAction::SettingsSaved => "settings.saved",
            AuditAction::RegistrationTokenIssued => "registration_token.issued",
            AuditAction::AgentRevoked => "agent.revoked",
            AuditAction::AdminTokenIssued => "admin_token.issued",
            AuditAction::AdminTokenRevoked => "admin_token.revoked",
            AuditAction::AdminAdded => "admin.added",
            AuditAction::AdminRemoved => "admin.removed",
            AuditAction::AdminPasswordSet => "admin.password_set",
            AuditAction::AdminSignedOutEverywhere => "admin.signed_out_everywhere",
        }
    }

    /// The action named `name`.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|action| action.as_str() == name)
    }
}

/// One entry of a tenant's audit log (`GET /api/v1/audit`), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "common::DateTime")]
    pub at: time::OffsetDateTime,
    pub actor_kind: ActorKind,
    /// The console admin's or admin token's id; `null` for the operator.
    #[schemars(with = "Nullable<String>")]
    pub actor_id: Option<String>,
    /// The admin's email address, the token's label (or `admin token`), or `operator`.
    pub actor: String,
    pub action: AuditAction,
    /// The id of what changed (a job, session, access, agent, token or
    /// admin); `null` for the tenant's own settings.
    #[schemars(with = "Nullable<String>")]
    pub target_id: Option<String>,
    /// What changed, in words.
    pub summary: String,
}

/// `roster-server tenant create` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedTenant {
    pub tenant_id: TenantId,
    pub name: String,
    /// Shown once; only its hash is stored.
    pub admin_token: String,
    /// When that token stops working (`--expires-in-days`); `null`: never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Nullable<common::DateTime>")]
    pub admin_token_expires_at: Option<time::OffsetDateTime>,
}
