//! Builders the planner, explain and structure tests share: GUIDs by
//! number, users, groups and links in a small `DC=corp,DC=test` directory.

// Each test file uses some of these.
#![allow(dead_code, clippy::unwrap_used)]

use roster_import::{GroupRef, LinkRule};
use roster_proto::ObjectGuid;
use roster_proto::records::{GroupRecord, UserRecord};
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
        object_guid: guid(n),
        dn: format!("CN=u{n},{container},{BASE}"),
        sam_account_name: format!("u{n}"),
        user_principal_name: None,
        mail: Some(format!("u{n}@example.test")),
        given_name: None,
        surname: None,
        display_name: Some(format!("User {n}")),
        telephone_number: None,
        department: None,
        title: None,
        user_account_control: uac,
        account_expires: None,
        consistency_guid: None,
        outside_filter: false,
        usn_changed: None,
        when_changed: None,
    }
}

/// Group `n` named `name` in OU=Groups; members are GUID numbers.
pub fn named_group(n: u32, name: &str, members: &[u32]) -> GroupRecord {
    GroupRecord {
        object_guid: guid(n),
        dn: format!("CN={name},OU=Groups,{BASE}"),
        name: name.to_owned(),
        group_type: -2147483646,
        members: members.iter().map(|m| guid(*m)).collect(),
    }
}

/// A link from the group `text` names (GUID, DN or name) to `access`.
pub fn link_to(text: &str, access: u128) -> LinkRule {
    LinkRule { group: GroupRef::parse(text).unwrap(), group_text: text.to_owned(), access_id: Uuid::from_u128(access) }
}
