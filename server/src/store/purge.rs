//! Purging users past their tenant's grace period erases their personal
//! data everywhere it sits: the user and its accesses are deleted, the
//! itemised changes of every session (applied or only planned, as a held
//! plan's are) that name them are redacted — no name, no objectGUID, no
//! field values; the action, field names, accesses and our own opaque user
//! id stay, so counts and sessions still read — and the chunks their job's applied snapshots still
//! keep are deleted. The directory state (`directory_objects`) mirrors what
//! the directory holds now: a purged user who left it is already gone
//! there, and one still in it is read again by the next snapshot anyway.

use std::collections::BTreeSet;

use roster_proto::{JobId, ObjectGuid, TenantId, UserId};
use sqlx::Row;

use super::{Db, StoreError, UnixMillis, get_id, get_parsed};

/// What a redacted change says instead of the user's name and words.
pub const PURGED: &str = "(purged)";

/// The objectGUID a redacted change names: none.
pub const NO_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Users purged per transaction.
const PURGE_BATCH_USERS: i64 = 200;

/// The condition a user is purged on (`$2` the cut-off): inactive since
/// before it, and no import of its job running.
macro_rules! purgeable {
    () => {
        "active = 0 AND deactivated_at < $2
         AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.job_id = users.job_id AND s.status = 'running')"
    };
}

/// Purges `tenant`'s users inactive since before `before` (see the module
/// doc), except those of a job whose import is running: they wait for the
/// next housekeeping, so a purge never makes an import plan again. Returns
/// how many users were purged.
pub async fn purge_inactive(db: &Db, tenant: TenantId, before: UnixMillis) -> Result<u64, StoreError> {
    let mut purged = 0;
    let mut jobs = BTreeSet::new();
    let mut after = String::new();
    loop {
        let candidates = sqlx::query(concat!(
            "SELECT id, job_id FROM users WHERE tenant_id = $1 AND id > $3 AND ",
            purgeable!(),
            " ORDER BY id LIMIT $4"
        ))
        .bind(tenant.to_string())
        .bind(before.0)
        .bind(&after)
        .bind(PURGE_BATCH_USERS)
        .fetch_all(&db.pool)
        .await?;
        let Some(last) = candidates.last() else { break };
        after = last.try_get("id")?;
        let batch_jobs = candidates.iter().map(|row| get_id::<JobId>(row, "job_id")).collect::<Result<BTreeSet<_>, _>>()?;
        let mut tx = db.begin_write().await?;
        // The jobs first, in one order, then only the users that still qualify
        // under their locks (an import may have brought one back meanwhile).
        for job in &batch_jobs {
            super::jobs::lock_job(&mut tx, db.dialect, *job).await?;
        }
        let placeholders: Vec<String> = (3..candidates.len() + 3).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id, job_id, object_guid FROM users WHERE tenant_id = $1 AND id IN ({}) AND {}",
            placeholders.join(", "),
            purgeable!()
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_string()).bind(before.0);
        for row in &candidates {
            query = query.bind(row.try_get::<String, _>("id")?);
        }
        let rows = query.fetch_all(&mut *tx).await?;
        let mut touched = BTreeSet::new();
        for row in &rows {
            let (user, job): (UserId, JobId) = (get_id(row, "id")?, get_id(row, "job_id")?);
            redact_changes(&mut tx, user, job, get_parsed(row, "object_guid")?).await?;
            sqlx::query("DELETE FROM user_accesses WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM users WHERE id = $1").bind(user.to_string()).execute(&mut *tx).await?;
            touched.insert(job);
        }
        for job in &touched {
            super::users::bump_revision(&mut tx, *job).await?;
        }
        tx.commit().await?;
        purged += rows.len() as u64;
        jobs.extend(touched);
        if (candidates.len() as i64) < PURGE_BATCH_USERS {
            break;
        }
    }
    // A kept full snapshot may hold a purged user: nothing of the job's is kept.
    for job in jobs {
        super::chunks::delete_applied_chunks(db, Some(job), UnixMillis(i64::MAX)).await?;
    }
    Ok(purged)
}

/// Redacts the changes naming `user`: by its id (indexed), and by its
/// objectGUID among the planned creations, which have no id yet: those of
/// its job's sessions that were not applied (held, rejected, approved and
/// not yet run), since an applied change always names its user.
async fn redact_changes(conn: &mut sqlx::AnyConnection, user: UserId, job: JobId, guid: ObjectGuid) -> Result<(), StoreError> {
    let mut rows = sqlx::query("SELECT session_id, seq, details FROM session_changes WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.extend(
        sqlx::query(
            "SELECT session_id, seq, details FROM session_changes
             WHERE session_id IN (SELECT id FROM sessions WHERE job_id = $1 AND status <> 'succeeded')
               AND user_id IS NULL AND object_guid = $2",
        )
        .bind(job.to_string())
        .bind(guid.to_string())
        .fetch_all(&mut *conn)
        .await?,
    );
    for row in &rows {
        let details: String = row.try_get("details")?;
        sqlx::query("UPDATE session_changes SET object_guid = $1, username = $2, details = $3 WHERE session_id = $4 AND seq = $5")
            .bind(NO_GUID)
            .bind(PURGED)
            .bind(redact_details(&details))
            .bind(row.try_get::<String, _>("session_id")?)
            .bind(row.try_get::<i64, _>("seq")?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A change's stored details without what describes the person: a field
/// change keeps its field's name but not its values, a note (free words,
/// as older sessions stored every detail) says [`PURGED`]. Accesses and
/// reasons stay. Anything unreadable becomes an empty list.
pub fn redact_details(stored: &str) -> String {
    use serde_json::Value;
    let Ok(Value::Array(details)) = serde_json::from_str::<Value>(stored) else { return "[]".to_owned() };
    let redacted: Vec<Value> = details
        .into_iter()
        .map(|detail| match detail {
            Value::Object(mut detail) => {
                match detail.get("type").and_then(Value::as_str) {
                    Some("field") => {
                        detail.remove("old");
                        detail.remove("new");
                    }
                    Some("access_gained" | "access_lost" | "deactivated" | "inactive" | "reactivated") => {}
                    _ => return Value::String(PURGED.to_owned()),
                }
                Value::Object(detail)
            }
            _ => Value::String(PURGED.to_owned()),
        })
        .collect();
    Value::Array(redacted).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_details_keep_actions_and_accesses_but_no_values() {
        let cases = [
            (r#"[{"type":"field","field":"email","new":"ann@x.test"}]"#, r#"[{"field":"email","type":"field"}]"#),
            (r#"[{"type":"field","field":"dn","old":"CN=Ann","new":"CN=Anne"}]"#, r#"[{"field":"dn","type":"field"}]"#),
            (r#"[{"type":"deactivated","reason":"left_scope"}]"#, r#"[{"reason":"left_scope","type":"deactivated"}]"#),
            (r#"[{"type":"access_lost","id":"a","name":"VIP"}]"#, r#"[{"id":"a","name":"VIP","type":"access_lost"}]"#),
            (r#"["username: ann",{"type":"note","text":"ann"}]"#, r#"["(purged)","(purged)"]"#),
            (r#"[{"type":"something-new","value":"ann"}]"#, r#"["(purged)"]"#),
            ("not json", "[]"),
        ];
        for (stored, expected) in cases {
            let redacted: serde_json::Value = serde_json::from_str(&redact_details(stored)).unwrap();
            assert_eq!(redacted, serde_json::from_str::<serde_json::Value>(expected).unwrap(), "{stored}");
        }
    }
}
