//! Who is asking ([`Caller`]: the tenant, the role and the actor the audit
//! log names) and the one way a change is written to the audit log.

use roster_proto::TenantId;
use roster_proto::admin::{ActorKind, AdminRole, AuditAction};

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
/// the change's own write transaction `conn` (`Db::begin_write`), after the
/// change and before the one commit: the entry and the change commit or
/// roll back together, so no change is made unaudited (an entry that cannot
/// be written fails the change) and no entry names a change that was not
/// made. This is the one way an audit entry is written; a refusal that
/// changed nothing writes none.
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
