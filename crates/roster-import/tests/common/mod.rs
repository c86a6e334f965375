//! Builders the planner, explain and structure tests share: GUIDs by
//! number, users, groups and links in a small `DC=corp,DC=test` directory.

// Each test file uses some of these.
#![allow(dead_code, clippy::unwrap_used)]

use roster_import::{GroupRef, LinkRule};
use roster_proto::records::{GroupRecord, UserRecord};
use roster_proto::{AccessId, ObjectGuid};
use roster_testkit::records;
use uuid::Uuid;

pub const BASE: &str = "DC=corp,DC=test";
/// The clock: 2026-06-01T00:00:00Z.
pub const NOW: i64 = 1_780_272_000;

/// FILETIME of a moment `seconds` after NOW.
pub fn filetime(seconds: i64) -> i64 {
    (NOW + seconds + 11_644_473_600) * 10_000_000
}

pub fn guid(n: u32) -> ObjectGuid {
    format!("{n:08x}-0000-0000-0000-000000000000").parse().unwrap()
}

/// User `n` named `u{n}` in `container` (relative to BASE), with
/// `userAccountControl` `uac`.
pub fn user(n: u32, container: &str, uac: u32) -> UserRecord {
    UserRecord {
        mail: Some(format!("u{n}@example.test")),
        display_name: Some(format!("User {n}")),
        user_account_control: uac,
        ..records::user(guid(n), format!("CN=u{n},{container},{BASE}"), format!("u{n}"))
    }
}

/// Group `n` named `name` in OU=Groups; members are GUID numbers.
pub fn named_group(n: u32, name: &str, members: &[u32]) -> GroupRecord {
    records::group(guid(n), format!("CN={name},OU=Groups,{BASE}"), name.to_owned(), members.iter().map(|m| guid(*m)).collect())
}

/// A link from the group `text` names (GUID, DN or name) to `access`.
pub fn link_to(text: &str, access: u128) -> LinkRule {
    LinkRule { group: GroupRef::parse(text).unwrap(), group_text: text.to_owned(), access_id: AccessId::from(Uuid::from_u128(access)) }
}
