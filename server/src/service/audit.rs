//! Who is asking ([`Caller`]: the tenant, the role and the actor the audit
//! log names) and the one way a change is written to the audit log.

use roster_proto::TenantId;
use roster_proto::admin::{ActorKind, AdminRole, AuditAction};

use crate::db::Db;
use crate::error::{AppError, Denied};
use crate::store;

/// Whoever makes a request of a tenant: an admin token (API) or a console
/// admin. Every operation that changes something takes one, checks its
/// role with [`Caller::may`] and names it in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub role: AdminRole,
    pub kind: ActorKind,
    /// The admin token's or console admin's id; `None` for the operator.
    pub id: Option<String>,
    /// The admin's email address, the token's label, or "operator".
    pub name: String,
}

impl Caller {
    /// The operator on the server's command line, acting for `tenant`.
    pub fn operator(tenant: TenantId) -> Caller {
        Caller { tenant, role: AdminRole::Owner, kind: ActorKind::System, id: None, name: "operator".into() }
    }

    /// Refuses (403) unless the caller's role is at least `needed`.
    pub fn may(&self, needed: AdminRole) -> Result<(), AppError> {
        if self.role >= needed { Ok(()) } else { Err(Denied::Role { needed: needed.as_str(), had: self.role.as_str() }.into()) }
    }
}

/// Writes that `caller` did `action` to `target`, in words `summary`, in
/// the change's own transaction `conn`: the entry and the change commit or
/// roll back together. Where a change runs in one transaction of ours, this
/// is how it is audited.
pub async fn record_in(
    conn: &mut sqlx::AnyConnection,
    caller: &Caller,
    action: AuditAction,
    target: Option<String>,
    summary: &str,
) -> Result<(), crate::store::StoreError> {
    let entry = store::audit::NewEntry {
        tenant: caller.tenant,
        actor_kind: caller.kind,
        actor_id: caller.id.clone(),
        actor_name: &caller.name,
        action,
        target_id: target,
        summary,
    };
    store::audit::record(conn, &entry, store::UnixMillis::now()).await?;
    Ok(())
}

/// Writes that `caller` did `action` to `target`, in words `summary`,
/// after the change committed, for changes made inside a store function's
/// own transaction. A failure to write it is logged loudly but
/// does not undo the change (which has already happened) nor hide it from
/// the caller.
pub async fn record(db: &Db, caller: &Caller, action: AuditAction, target: Option<String>, summary: &str) {
    let written = async { record_in(&mut *db.writer().await?, caller, action, target, summary).await }.await;
    match written {
        Ok(_) => tracing::info!(tenant = %caller.tenant, actor = %caller.name.escape_debug(), action = action.as_str(), "audited"),
        Err(error) => tracing::error!(
            tenant = %caller.tenant, actor = %caller.name.escape_debug(), action = action.as_str(), %error,
            "the audit log could not record a change that was made"
        ),
    }
}
