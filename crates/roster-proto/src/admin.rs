//! Messages of the admin API (`/api/v1/...`), which a tenant's admins and
//! the console call with a bearer admin token.

use serde::{Deserialize, Serialize};

use crate::DailyTime;
use crate::ObjectGuid;
use crate::Sha256Hex;
use crate::id::{AccessId, AgentId, JobId, SessionId, SnapshotId, TenantId, UserId};

/// `POST /api/v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    pub name: String,
    pub relative_paths: Vec<String>,
    #[serde(default)]
    pub group_paths: Vec<String>,
    /// Daily import time, `HH:MM` in UTC; default 02:00.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub schedule_time: Option<String>,
    /// Days between full reconciliations (1..=365); default 7. Between
    /// them the agent sends deltas.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub full_sync_interval_days: Option<u32>,
    /// An LDAP filter users must also match, e.g. `(employeeType=staff)`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub user_filter: Option<String>,
    /// The import safeguard; the defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub policy: Option<SafeguardPolicy>,
}

/// How much one import may take away before it waits for an admin: a
/// plan beyond either budget is `held`, not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeguardPolicy {
    /// Users an import may deactivate.
    pub max_deactivations: Budget,
    /// Users an import may take a basic access from (deactivated ones
    /// included).
    pub max_lost_basic: Budget,
    /// Below this many active users, the budgets do not apply.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub count: u64,
    /// 0..=100.
    pub percent: u32,
}

impl Budget {
    /// The most this budget allows out of `active` users.
    pub fn allowance(self, active: u64) -> u64 {
        self.count.min(active.saturating_mul(u64::from(self.percent)) / 100)
    }
}

/// A tenant's settings (`GET`/`PUT /api/v1/settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Days a deactivated user is kept (and re-activated with the same
    /// identity if it comes back) before it is purged; default 30.
    pub purge_after_days: u32,
    /// Days finished import sessions are kept; absent = forever (the default).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub session_retention_days: Option<u32>,
}

impl Default for TenantSettings {
    fn default() -> TenantSettings {
        TenantSettings { purge_after_days: 30, session_retention_days: None }
    }
}

/// An import job: one domain or OU set of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub name: String,
    pub relative_paths: Vec<String>,
    pub group_paths: Vec<String>,
    pub schedule_time: DailyTime,
    pub full_sync_interval_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
    pub policy: SafeguardPolicy,
    #[serde(with = "time::serde::rfc3339")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationToken {
    pub job_id: JobId,
    /// Shown once; only its hash is stored.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

/// A registered agent, for the console's health view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub job_id: JobId,
    /// The machine it said it runs on.
    pub hostname: Option<String>,
    pub agent_version: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: time::OffsetDateTime,
    /// Its last authenticated request; `null` if none yet.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<time::OffsetDateTime>,
    /// Once set, every request of this agent is refused (401).
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<time::OffsetDateTime>,
}

/// The kinds of rights the booking service knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// User at a location: the basic access, without which nobody enters.
    User,
    /// Administrator at a location.
    Administrator,
    Department,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccess {
    pub kind: AccessKind,
    /// What the right is about: a location for `user`/`administrator`, a
    /// department's name, etc.
    pub name: String,
}

/// A right in the tenant's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Access {
    pub id: AccessId,
    pub kind: AccessKind,
    pub name: String,
}

/// One entry of `PUT /api/v1/jobs/{job}/links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    /// The AD group: its objectGUID, its DN, or its name (`cn`, which must
    /// match exactly one group of the job's directory state).
    pub group: String,
    pub access_id: AccessId,
}

/// A link as stored: the group as given, and what it resolved to in the
/// newest snapshot (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub group: String,
    pub access_id: AccessId,
    /// The group's objectGUID once a snapshot containing it was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_guid: Option<ObjectGuid>,
}

/// A page of a list endpoint. `next_cursor` is opaque; pass it back as
/// `cursor` for the next page; `null` means this was the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// An access as a user carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessRef {
    pub id: AccessId,
    pub kind: AccessKind,
    pub name: String,
}

/// A user of the booking service, as imported from one job. The same
/// person in two jobs (two domains) is two users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub job_id: JobId,
    pub object_guid: ObjectGuid,
    /// `sAMAccountName`.
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// False when disabled in AD, out of scope, gone from AD, or without a
    /// basic access. Users are deactivated, never deleted by an import.
    pub active: bool,
    pub accesses: Vec<AccessRef>,
}

/// What started an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionTrigger {
    /// The job's first snapshot arrived.
    FirstPush,
    /// An admin asked.
    Manual,
    /// The job's daily schedule.
    Schedule,
}

/// Where an import session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Queued,
    Running,
    Succeeded,
    /// Planned beyond the job's safeguard: nothing applied; waits for an
    /// admin to approve or reject it.
    Held,
    /// A held session an admin rejected: nothing applied.
    Rejected,
    Failed,
}

impl SessionStatus {
    /// True once the import will do nothing more by itself: finished, or
    /// held for an admin.
    pub fn is_settled(self) -> bool {
        !matches!(self, SessionStatus::Queued | SessionStatus::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Queued => "queued",
            SessionStatus::Running => "running",
            SessionStatus::Succeeded => "succeeded",
            SessionStatus::Held => "held",
            SessionStatus::Rejected => "rejected",
            SessionStatus::Failed => "failed",
        }
    }

    pub const ALL: [SessionStatus; 6] = [
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

/// How many users an import touched, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// One import run, kept forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub job_id: JobId,
    pub trigger: SessionTrigger,
    pub status: SessionStatus,
    pub snapshot_id: SnapshotId,
    /// sha256 of the signed manifest the snapshot was committed with.
    pub manifest_sha256: Sha256Hex,
    pub counts: SessionCounts,
    /// Things the admin should know (e.g. "no links: nobody imported").
    pub notes: Vec<String>,
    /// Why a failed session failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why a held session was held: the budgets its plan exceeds. Kept
    /// after an admin's decision, as the record of what was approved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_reasons: Vec<String>,
    /// Who approved or rejected a held session, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<time::OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// What an import did to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Created,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// One fact of a change, as data (words are the reader's to choose).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChange {
    pub id: AccessId,
    /// The access's kind and name; absent when it is no longer in the catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AccessKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Why a user is inactive after an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeactivationReason {
    DisabledInDirectory,
    AccountExpired,
    LeftScope,
    GoneFromDirectory,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPreview {
    /// The snapshot the plan reads.
    pub snapshot_id: SnapshotId,
    pub counts: SessionCounts,
    /// Non-empty when an import of this plan would be held, and why.
    pub held_reasons: Vec<String>,
    pub notes: Vec<String>,
    /// The first `limit` changes, in the order an import records them.
    pub changes: Vec<SessionChange>,
    /// How many changes the plan has in all.
    pub total_changes: u64,
}

/// `PUT /api/v1/jobs/{job}/links`: the links as saved, and what they do
/// to the job's users when next imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinksSaved {
    pub links: Vec<Link>,
    pub preview: LinksPreview,
}

/// Who gains and who loses which access under the new links, planned on
/// the job's stored directory state (empty before the first snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinksPreview {
    pub gains: Vec<AccessDelta>,
    pub losses: Vec<AccessDelta>,
    pub counts: SessionCounts,
    pub notes: Vec<String>,
}

/// Users gaining or losing one access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDelta {
    pub access: AccessRef,
    /// How many users.
    pub users: u64,
    /// Their usernames, sorted; at most 100.
    pub usernames: Vec<String>,
}

/// `POST /api/v1/sessions/{id}/approve` and `.../reject`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Who decides, as the console knows them (recorded on the session).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::optional::present")]
    pub by: Option<String>,
}

/// One entry of `GET /api/v1/users/{id}/history`: what one session did to
/// the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub session_id: SessionId,
    pub trigger: SessionTrigger,
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub action: ChangeAction,
    /// What the session changed, as [`SessionChange::details`].
    pub details: Vec<ChangeDetail>,
}

/// `roster-server tenant create` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTenant {
    pub tenant_id: TenantId,
    pub name: String,
    /// Shown once; only its hash is stored.
    pub admin_token: String,
}
