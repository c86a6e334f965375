//! Many rows read as one: a page of rows packed by the database into one
//! text value, for the few reads an import makes of every user.
//!
//! sqlx pays a cost per row that dwarfs a narrow row's own: SQLite's
//! worker thread hands each row across a channel (a wake-up and a context
//! switch on a small machine), and the Any driver copies each value into a
//! row of its own; a 100k-user import read about 300,000 such rows, most of
//! its time. Packed, a page of a thousand rows is one row: the database
//! joins each row's fields with a tab and the rows with a newline
//! (`string_agg` with `ORDER BY`, the same text on PostgreSQL and on
//! SQLite 3.44 and later), and [`Page`] splits them again.
//!
//! Every field but a row's last must be text that holds neither separator
//! (ids, GUIDs, numbers cast to text, fingerprints); the last may hold tabs
//! but no newline, which compact JSON never does (it escapes every control
//! character). The page also counts its rows, and [`Page::rows`] fails on a
//! page that does not split into exactly that many rows of the right width,
//! so text breaking that rule is reported as corrupt, never misread.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;

/// `SELECT` of one page packed: `fields` (text expressions over the
/// columns `page` selects) joined per row, the rows joined in `order`,
/// beside their count. `page` is a whole `SELECT` (with its own `ORDER BY
/// … LIMIT`, if it is a page of a longer walk).
pub(crate) fn select(fields: &[&str], order: &str, page: &str) -> String {
    format!(
        "SELECT count(*) AS packed_rows, string_agg({}, '\n' ORDER BY {order}) AS packed FROM ({page}) page",
        fields.join(" || '\t' || ")
    )
}

/// One packed page as read.
#[derive(Debug)]
pub(crate) struct Page {
    rows: usize,
    text: String,
}

impl Page {
    /// The page in `row`, as [`select`] reads it.
    pub(crate) fn read(row: &AnyRow) -> Result<Page, StoreError> {
        let rows: i64 = row.try_get("packed_rows")?;
        let text: Option<String> = row.try_get("packed")?;
        let rows = usize::try_from(rows).map_err(|_| corrupt(format!("a page of {rows} rows")))?;
        Ok(Page { rows, text: text.unwrap_or_default() })
    }

    /// How many rows the page holds.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// The page's rows in order, each as its `N` fields.
    pub(crate) fn rows<const N: usize>(&self) -> Result<Vec<[&str; N]>, StoreError> {
        let mut rows = Vec::with_capacity(self.rows);
        if self.rows > 0 {
            for line in self.text.split('\n') {
                let mut fields = line.splitn(N, '\t');
                let mut missing = 0;
                let row: [&str; N] = std::array::from_fn(|_| {
                    fields.next().unwrap_or_else(|| {
                        missing += 1;
                        ""
                    })
                });
                if missing > 0 {
                    return Err(corrupt(format!("a row of {} fields where {N} were read", N - missing)));
                }
                rows.push(row);
            }
        }
        if rows.len() != self.rows {
            return Err(corrupt(format!("{} rows in a page of {}", rows.len(), self.rows)));
        }
        Ok(rows)
    }
}

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt { column: "packed page", detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(rows: usize, text: &str) -> Page {
        Page { rows, text: text.to_owned() }
    }

    #[test]
    fn pages_split_into_their_rows_and_the_last_field_keeps_its_tabs() {
        let cases: &[(Page, Option<Vec<[&str; 3]>>)] = &[
            (page(0, ""), Some(vec![])),
            (page(1, "a\tb\t{\"x\":1}"), Some(vec![["a", "b", "{\"x\":1}"]])),
            (page(2, "a\tb\tc\nd\te\tf\tg"), Some(vec![["a", "b", "c"], ["d", "e", "f\tg"]])),
            (page(1, "a\t\t"), Some(vec![["a", "", ""]])),
            // A newline inside a row's text, or a count that disagrees: corrupt.
            (page(1, "a\tb\tc\nd"), None),
            (page(2, "a\tb\tc\nd"), None),
            (page(3, "a\tb\tc\nd\te\tf"), None),
            (page(1, "a\tb"), None),
            (page(1, ""), None),
        ];
        for (page, want) in cases {
            match (page.rows::<3>(), want) {
                (Ok(got), Some(want)) => assert_eq!(&got, want, "{page:?}"),
                (Err(StoreError::Corrupt { .. }), None) => {}
                (got, want) => panic!("{page:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_select_joins_fields_and_rows_with_their_separators() {
        assert_eq!(
            select(&["a", "CAST(n AS TEXT)"], "a", "SELECT a, n FROM t ORDER BY a LIMIT 5"),
            "SELECT count(*) AS packed_rows, string_agg(a || '\t' || CAST(n AS TEXT), '\n' ORDER BY a) AS packed \
             FROM (SELECT a, n FROM t ORDER BY a LIMIT 5) page"
        );
    }
}
