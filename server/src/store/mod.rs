//! All SQL lives here, one module per area. Functions take the [`Db`] or
//! an open connection (for work inside a transaction) and return domain
//! types from `roster-proto`; handlers never see a row.

pub mod agents;
pub mod audit;
pub mod chunks;
pub mod commands;
pub mod console;
pub mod creations;
pub mod directory;
pub mod jobs;
pub mod leases;
pub mod name_keys;
mod packed;
mod page;
pub mod purge;
pub mod schedule;
pub mod sessions;
pub mod staged;
pub mod tenants;
pub mod users;

use roster_proto::TenantId;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

pub use crate::db::Db;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// A stored value no longer parses: the database was edited by hand or
    /// a migration is missing.
    #[error("corrupt value in {column}: {detail}")]
    Corrupt { column: &'static str, detail: String },
}

/// A moment as the store keeps it: Unix milliseconds in an integer column.
/// The one place moments become milliseconds and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// A day, in milliseconds: the one conversion of days to the stored unit.
    pub const DAY_MS: i64 = 24 * 3600 * 1000;

    pub fn now() -> UnixMillis {
        UnixMillis::from_datetime(time::OffsetDateTime::now_utc())
    }

    /// `at`, truncated to the millisecond.
    pub fn from_datetime(at: time::OffsetDateTime) -> UnixMillis {
        UnixMillis((at.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// `ms` milliseconds earlier.
    pub fn minus_ms(self, ms: i64) -> UnixMillis {
        UnixMillis(self.0.saturating_sub(ms))
    }

    /// `days` days later (saturating).
    pub fn plus_days(self, days: u32) -> UnixMillis {
        UnixMillis(self.0.saturating_add(i64::from(days).saturating_mul(Self::DAY_MS)))
    }

    /// `days` days earlier (saturating).
    pub fn minus_days(self, days: u32) -> UnixMillis {
        self.minus_ms(i64::from(days).saturating_mul(Self::DAY_MS))
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn millis_since(self, earlier: UnixMillis) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// From Unix seconds (a JWT's `exp`).
    pub fn from_unix_secs(secs: i64) -> UnixMillis {
        UnixMillis(secs.saturating_mul(1000))
    }

    /// The moment again; one out of `OffsetDateTime`'s range reads as the epoch.
    pub fn to_datetime(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

/// `INSERT INTO table (columns) VALUES (..), (..)` for `rows` rows.
fn multi_insert(dialect: crate::db::Dialect, table: &str, columns: &[&str], rows: usize) -> String {
    format!("INSERT INTO {table} ({}) VALUES {}", columns.join(", "), dialect.tuples(rows, columns.len()))
}

/// An instant as RFC 3339 in UTC, for messages.
pub fn rfc3339(at: UnixMillis) -> String {
    at.to_datetime().format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| format!("{} ms after the epoch", at.0))
}

/// Now, as stored: Unix milliseconds.
pub fn now_ms() -> i64 {
    UnixMillis::now().0
}

pub(crate) fn to_datetime(ms: i64) -> time::OffsetDateTime {
    UnixMillis(ms).to_datetime()
}

/// Reads an id column: every id is stored as its text (TEXT in both
/// engines) and bound as `id.to_string()`, so this is the one way back.
pub(crate) fn get_id<T: From<Uuid>>(row: &AnyRow, column: &'static str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse::<Uuid>().map(T::from).map_err(|e| StoreError::Corrupt { column, detail: e.to_string() })
}

pub(crate) fn get_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &'static str) -> Result<T, StoreError> {
    parse_json(&row.try_get::<String, _>(column)?, column)
}

pub(crate) fn get_parsed<T: std::str::FromStr>(row: &AnyRow, column: &'static str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    parse_text(&row.try_get::<String, _>(column)?, column)
}

/// `text`, read from `column`, as JSON of a `T`.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(text: &str, column: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { column, detail: e.to_string() })
}

/// `text`, read from `column`, parsed as a `T`.
pub(crate) fn parse_text<T: std::str::FromStr>(text: &str, column: &'static str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| StoreError::Corrupt { column, detail: e.to_string() })
}

/// A new random secret for a token, base64url, with a prefix saying what it is.
pub fn new_secret(prefix: &str) -> Result<String, StoreError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Corrupt { column: "random", detail: e.to_string() })?;
    Ok(format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// How secrets are stored: sha256 hex. Tokens are 256-bit random, so a fast
/// hash is enough (no password stretching needed).
pub fn hash_secret(secret: &str) -> String {
    roster_snapshot::sha256_hex(secret.as_bytes()).into_string()
}

/// Deletes, in one transaction, the rows of `parent` whose ids `ids` (a
/// `SELECT id ...` binding `$1` to `tenant` and `$2` to `before`)
/// selects, and first the rows of each `(child, child_key)` naming them.
/// Returns how many `parent` rows went.
pub(crate) async fn delete_with_children(
    db: &Db,
    ids: &'static str,
    parent: &'static str,
    children: &[(&'static str, &'static str)],
    tenant: TenantId,
    before: UnixMillis,
) -> Result<u64, StoreError> {
    let mut tx = db.begin_write().await?;
    for (child, child_key) in children {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {child} WHERE {child_key} IN ({ids})")))
            .bind(tenant.to_string())
            .bind(before.0)
            .execute(&mut *tx)
            .await?;
    }
    let result = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {parent} WHERE id IN ({ids})")))
        .bind(tenant.to_string())
        .bind(before.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::UnixMillis;

    #[test]
    fn moments_and_millis_convert_both_ways() {
        let cases = [
            (datetime!(1970-01-01 00:00 UTC), 0),
            (datetime!(2026-12-01 12:00:00.125 UTC), 1_796_126_400_125),
            // Below a millisecond is dropped, not rounded.
            (datetime!(2026-12-01 12:00:00.1259 UTC), 1_796_126_400_125),
            (datetime!(1969-12-31 23:59:59 UTC), -1000),
        ];
        for (at, ms) in cases {
            assert_eq!(UnixMillis::from_datetime(at), UnixMillis(ms), "{at}");
            assert_eq!(UnixMillis(ms).to_datetime(), at.replace_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000).unwrap(), "{ms}");
        }
        assert_eq!(UnixMillis(i64::MAX).to_datetime(), time::OffsetDateTime::UNIX_EPOCH, "out of range reads as the epoch");
        assert_eq!(UnixMillis::from_unix_secs(1_700_000_000), UnixMillis(1_700_000_000_000));
        assert_eq!(UnixMillis(5_000).minus_ms(2_000), UnixMillis(3_000));
        assert_eq!(UnixMillis(i64::MIN).minus_ms(1), UnixMillis(i64::MIN), "saturates");
        assert_eq!(UnixMillis(10 * UnixMillis::DAY_MS).minus_days(3), UnixMillis(7 * UnixMillis::DAY_MS));
        assert_eq!(UnixMillis(7 * UnixMillis::DAY_MS).plus_days(3), UnixMillis(10 * UnixMillis::DAY_MS));
        assert_eq!(UnixMillis(i64::MIN + 1).minus_days(u32::MAX), UnixMillis(i64::MIN), "saturates");
        assert_eq!(UnixMillis(i64::MAX - 1).plus_days(u32::MAX), UnixMillis(i64::MAX), "saturates");
        assert_eq!(UnixMillis(5_000).millis_since(UnixMillis(2_000)), 3_000);
        assert_eq!(UnixMillis(2_000).millis_since(UnixMillis(5_000)), -3_000);
    }
}
