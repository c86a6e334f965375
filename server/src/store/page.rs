//! Keyset paging, written once for every list the store answers: a page is
//! the rows after the previous page's last key, in key order, read with
//! one row more than asked (the probe that says whether another page
//! follows). No offsets, so a page costs the same wherever it starts and
//! rows added meanwhile are neither skipped nor repeated.

use std::fmt::Display;

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{StoreError, get_id};

/// A value bound into a page's query.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// A sort key a list pages by: the columns it orders by, most significant
/// first, the last one unique, so the order is total.
pub(crate) trait PageKey: Sized {
    /// The key's columns as the rows name them.
    const COLUMNS: &'static [&'static str];
    /// Its values, in [`PageKey::COLUMNS`] order.
    fn binds(&self) -> Vec<Bind>;
    /// The key of a row of the page.
    fn of_row(row: &AnyRow) -> Result<Self, StoreError>;
}

/// The usual key: creation time (ms) and id.
impl<I: From<Uuid> + Display> PageKey for (i64, I) {
    const COLUMNS: &'static [&'static str] = &["created_at", "id"];

    fn binds(&self) -> Vec<Bind> {
        vec![Bind::Int(self.0), Bind::Text(self.1.to_string())]
    }

    fn of_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok((row.try_get("created_at")?, get_id(row, "id")?))
    }
}

/// A page of a list: the query, its filters and where the page starts.
#[derive(Debug)]
pub(crate) struct PageQuery<'a, K> {
    /// `SELECT … FROM … WHERE <filters>`, the filters binding `$1`, `$2`, …
    /// to [`PageQuery::filters`]; the key's condition, order and limit are
    /// added here.
    pub select: &'a str,
    pub filters: Vec<Bind>,
    /// What the key's columns are prefixed with in `select` (`"s."` when it
    /// joins), or `""`.
    pub table: &'static str,
    /// Newest first (the key descending) rather than oldest first.
    pub descending: bool,
    /// The last key of the previous page; `None` for the first page.
    pub after: Option<K>,
    pub limit: u32,
}

impl<'a, K: PageKey> PageQuery<'a, K> {
    /// The page of `select` (filters bound to `filters`) after `after`,
    /// oldest first, its key's columns unprefixed.
    pub fn new(select: &'a str, filters: Vec<Bind>, after: Option<K>, limit: u32) -> Self {
        PageQuery { select, filters, table: "", descending: false, after, limit }
    }

    /// Newest first.
    pub fn descending(self) -> Self {
        PageQuery { descending: true, ..self }
    }

    /// The key's columns prefixed with `table` (`"s."`) in a join.
    pub fn of_table(self, table: &'static str) -> Self {
        PageQuery { table, ..self }
    }

    /// The page's items (`item` of each row, at most `limit`) and the key
    /// to continue after, if more rows follow.
    pub async fn fetch<'e, T>(
        self,
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        item: impl FnMut(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<(Vec<T>, Option<K>), StoreError> {
        let PageQuery { select, filters, table, descending, after, limit } = self;
        let mut binds = filters;
        let placeholder = |binds: &Vec<Bind>| format!("${}", binds.len());
        let columns: Vec<String> = K::COLUMNS.iter().map(|column| format!("{table}{column}")).collect();
        let mut sql = select.to_owned();
        if let Some(after) = after {
            // A row-value comparison: both engines seek an index on the key's columns.
            let mut values = Vec::with_capacity(K::COLUMNS.len());
            for bind in after.binds() {
                binds.push(bind);
                values.push(placeholder(&binds));
            }
            let op = if descending { "<" } else { ">" };
            sql.push_str(&format!(" AND ({}) {op} ({})", columns.join(", "), values.join(", ")));
        }
        let direction = if descending { " DESC" } else { "" };
        let order: Vec<String> = columns.iter().map(|column| format!("{column}{direction}")).collect();
        binds.push(Bind::Int(i64::from(limit).saturating_add(1)));
        sql.push_str(&format!(" ORDER BY {} LIMIT {}", order.join(", "), placeholder(&binds)));

        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = match bind {
                Bind::Int(value) => query.bind(value),
                Bind::Text(value) => query.bind(value),
            };
        }
        let rows = query.fetch_all(executor).await?;
        let kept = rows.len().min(limit as usize);
        let items = rows[..kept].iter().map(item).collect::<Result<Vec<_>, _>>()?;
        let next = match rows[..kept].last() {
            Some(last) if rows.len() > kept => Some(K::of_row(last)?),
            _ => None,
        };
        Ok((items, next))
    }
}
