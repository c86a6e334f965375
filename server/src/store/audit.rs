//! The audit log: every change an admin makes, by whom, when, to what.

use roster_proto::admin::{ActorKind, AuditAction, AuditEntry};
use roster_proto::{AuditEntryId, TenantId};
use sqlx::Row;

use super::{Db, StoreError, UnixMillis, get_id, to_datetime};

/// An entry to write: everything but its id and time.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub tenant: TenantId,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub actor_name: &'a str,
    pub action: AuditAction,
    pub target_id: Option<String>,
    pub summary: &'a str,
}

fn kind_name(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::Admin => "admin",
        ActorKind::Token => "token",
        ActorKind::System => "system",
    }
}

fn kind_named(name: &str) -> Option<ActorKind> {
    [ActorKind::Admin, ActorKind::Token, ActorKind::System].into_iter().find(|kind| kind_name(*kind) == name)
}

/// Longest summary kept, in characters (names and counts; never a whole body).
pub const MAX_SUMMARY_CHARS: usize = 1000;

/// Writes an entry on `conn`, the write transaction of the change it names
/// (through `service::audit::record_in`, its one caller).
pub async fn record(conn: &mut sqlx::AnyConnection, entry: &NewEntry<'_>, now: UnixMillis) -> Result<AuditEntryId, StoreError> {
    let id = AuditEntryId::new();
    let summary: String = entry.summary.chars().take(MAX_SUMMARY_CHARS).collect();
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, at, actor_kind, actor_id, actor_name, action, target_id, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.to_string())
    .bind(entry.tenant.to_string())
    .bind(now.0)
    .bind(kind_name(entry.actor_kind))
    .bind(entry.actor_id.as_deref())
    .bind(entry.actor_name)
    .bind(entry.action.as_str())
    .bind(entry.target_id.as_deref())
    .bind(summary)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// A page of the tenant's log, newest first, before the `(at ms, id)` key,
/// and the key to continue from.
pub async fn list(
    db: &Db,
    tenant: TenantId,
    limit: u32,
    before: Option<(i64, AuditEntryId)>,
) -> Result<(Vec<AuditEntry>, Option<(i64, AuditEntryId)>), StoreError> {
    let (at, id) = before.map_or((i64::MAX, String::new()), |(at, id)| (at, id.to_string()));
    let rows = sqlx::query(
        "SELECT id, at, actor_kind, actor_id, actor_name, action, target_id, summary FROM audit_log
         WHERE tenant_id = $1 AND (at < $2 OR (at = $2 AND id < $3) OR $4 = 0)
         ORDER BY at DESC, id DESC LIMIT $5",
    )
    .bind(tenant.to_string())
    .bind(at)
    .bind(id)
    .bind(i64::from(before.is_some()))
    .bind(i64::from(limit) + 1)
    .fetch_all(&db.pool)
    .await?;
    let mut entries = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        let kind: String = row.try_get("actor_kind")?;
        let action: String = row.try_get("action")?;
        let at: i64 = row.try_get("at")?;
        let id: AuditEntryId = get_id(row, "id")?;
        entries.push(AuditEntry {
            id,
            at: to_datetime(at),
            actor_kind: kind_named(&kind).ok_or(StoreError::Corrupt { column: "audit_log.actor_kind", detail: kind })?,
            actor_id: row.try_get("actor_id")?,
            actor: row.try_get("actor_name")?,
            action: AuditAction::parse(&action).ok_or(StoreError::Corrupt { column: "audit_log.action", detail: action })?,
            target_id: row.try_get("target_id")?,
            summary: row.try_get("summary")?,
        });
        keys.push((at, id));
    }
    let next = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        keys.get((limit as usize).saturating_sub(1)).copied()
    } else {
        None
    };
    Ok((entries, next))
}
