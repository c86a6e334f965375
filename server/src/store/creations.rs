//! A plan that only creates users, written as it is planned: each batch's
//! new users, the accesses they hold and the session's record of them go
//! straight to `users`, `user_accesses` and `session_changes`, inside the
//! session's one transaction. An import of a job that holds no user yet
//! writes this way (nothing staged, nothing copied, nothing cleared); every
//! other import is staged ([`super::staged`]).

use roster_import::{Action, USER_FIELDS, UserChange};
use roster_proto::admin::ChangeAction;
use roster_proto::{JobId, SessionId, TenantId, UserId};

use super::sessions::details_json;
use super::users::bind_fields;
use super::{StoreError, multi_insert};
use crate::db::Dialect;

/// Rows per statement: far below every engine's parameter limit.
const USERS_PER_STATEMENT: usize = 200;
const GRANTS_PER_STATEMENT: usize = 1000;

/// The columns of a new user, in bind order: the imported fields as
/// [`USER_FIELDS`] names them, then the rest.
static USER_COLUMNS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    let mut columns = USER_FIELDS.to_vec();
    columns.extend(["active", "fingerprint", "id", "tenant_id", "job_id", "anchor", "created_at", "updated_at", "deactivated_at"]);
    columns
});

const CHANGE_COLUMNS: [&str; 7] = ["session_id", "seq", "user_id", "object_guid", "username", "action", "details"];

/// Where a session's creations go, and when they are made.
#[derive(Debug, Clone, Copy)]
pub struct Creating {
    pub tenant: TenantId,
    pub job: JobId,
    pub session: SessionId,
    /// Unix milliseconds: the users' creation time.
    pub now: i64,
}

/// True when `change` is one [`create`] writes: a creation of a user not
/// stored yet.
pub fn is_creation(change: &UserChange) -> bool {
    change.action == Action::Create && change.existing_id.is_none()
}

/// Writes `changes` (every one a creation, see [`is_creation`]; an error,
/// writing nothing, otherwise) as new users of `into.job` with their
/// accesses, and records them as `into.session`'s changes numbered from
/// `first_seq`. Call inside the session's transaction.
pub async fn create(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    into: Creating,
    first_seq: i64,
    changes: &[UserChange],
) -> Result<(), StoreError> {
    if let Some(change) = changes.iter().find(|change| !is_creation(change)) {
        return Err(StoreError::Corrupt {
            column: "users",
            detail: format!("an import that only creates users was handed a {:?} of user {}", change.action, change.target.anchor),
        });
    }
    let ids: Vec<String> = changes.iter().map(|_| UserId::new().to_string()).collect();
    let (tenant, job, session) = (into.tenant.to_string(), into.job.to_string(), into.session.to_string());
    let fingerprints: Vec<String> = changes.iter().map(|change| change.target.fingerprint()).collect();
    let anchors: Vec<String> = changes.iter().map(|change| change.target.anchor.to_string()).collect();
    for (first, some) in (0..).step_by(USERS_PER_STATEMENT).zip(changes.chunks(USERS_PER_STATEMENT)) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(multi_insert(dialect, "users", &USER_COLUMNS, some.len())));
        for (i, change) in (first..).zip(some) {
            let user = &change.target;
            query = bind_fields(query, user)
                .bind(i64::from(user.active))
                .bind(fingerprints[i].as_str())
                .bind(ids[i].as_str())
                .bind(tenant.as_str())
                .bind(job.as_str())
                .bind(anchors[i].as_str())
                .bind(into.now)
                .bind(into.now)
                .bind((!user.active).then_some(into.now));
        }
        query.execute(&mut *conn).await?;
    }

    let grants: Vec<(&str, String)> = (ids.iter().zip(changes))
        .flat_map(|(id, change)| change.target.accesses.iter().map(move |access| (id.as_str(), access.to_string())))
        .collect();
    for some in grants.chunks(GRANTS_PER_STATEMENT) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(multi_insert(dialect, "user_accesses", &["user_id", "access_id"], some.len())));
        for (user, access) in some {
            query = query.bind(*user).bind(access.as_str());
        }
        query.execute(&mut *conn).await?;
    }

    let details: Vec<String> = changes.iter().map(|change| details_json(&change.details)).collect();
    let guids: Vec<String> = changes.iter().map(|change| change.target.object_guid.to_string()).collect();
    for (first, some) in (0..).step_by(USERS_PER_STATEMENT).zip(changes.chunks(USERS_PER_STATEMENT)) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(multi_insert(dialect, "session_changes", &CHANGE_COLUMNS, some.len())));
        for (i, change) in (first..).zip(some) {
            query = query
                .bind(session.as_str())
                .bind(first_seq + i as i64)
                .bind(ids[i].as_str())
                .bind(guids[i].as_str())
                .bind(change.target.username.as_str())
                .bind(ChangeAction::from(change.action).as_str())
                .bind(details[i].as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
