//! The records a snapshot carries: one line of NDJSON each, tagged by
//! `type`. They hold what the directory said, not what Roster decided: the
//! import planner derives everything else.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ObjectGuid;

/// `userAccountControl` bit for a disabled account (`ACCOUNTDISABLE`).
pub const UAC_ACCOUNT_DISABLE: u32 = 0x0002;

/// `accountExpires` values that mean "never" (0 and the largest FILETIME).
pub const ACCOUNT_NEVER_EXPIRES: [i64; 2] = [0, i64::MAX];

/// Seconds between the FILETIME epoch (1601-01-01) and the Unix epoch.
const FILETIME_UNIX_OFFSET_SECONDS: i64 = 11_644_473_600;

/// One directory object in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schemars(transform = record_type_overlay)]
// Records stream one at a time, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Record {
    User(UserRecord),
    Group(GroupRecord),
    Ou(OuRecord),
    /// An object deleted since the delta's base (a tombstone). Only in
    /// delta snapshots.
    Deleted(DeletedRecord),
    /// More members of the group just before it, for groups too large for
    /// one record (see [`GroupRecord::split`]).
    GroupMembers(GroupMembersRecord),
}

/// The root of `record.schema.json` names the tags before the variants
/// (`properties.type.enum`), so a record of an unknown type is refused with
/// a short reason; the list is the variants' own `type` consts.
fn record_type_overlay(schema: &mut schemars::Schema) {
    let tags: Vec<serde_json::Value> = schema
        .get("oneOf")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|variant| variant.pointer("/properties/type/const").cloned())
        .collect();
    schema.insert("type".into(), "object".into());
    schema.insert("required".into(), serde_json::json!(["type"]));
    schema.insert("properties".into(), serde_json::json!({ "type": { "enum": tags } }));
}

/// Most member GUIDs one record carries (~39 bytes each as JSON), so a
/// record of a group of any size stays far below a chunk's 1 MiB.
pub const MAX_MEMBERS_PER_RECORD: usize = 10_000;

/// An AD user as read. Optional attributes are left out when AD has no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Inline: the schema is the `Record` variant's, with its `type` tag.
#[schemars(inline)]
pub struct UserRecord {
    /// The anchor that survives renames and moves.
    pub object_guid: ObjectGuid,
    /// Where the user lives; decides scope.
    pub dn: String,
    /// `sAMAccountName`: the service's username.
    pub sam_account_name: String,
    /// `userPrincipalName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// `mail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// `givenName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// `sn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `telephoneNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephone_number: Option<String>,
    /// `department`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// `title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Raw `userAccountControl`; bit 2 means disabled. (The lockout bit is
    /// deliberately not read: a locked-out account stays active.)
    pub user_account_control: u32,
    /// `accountExpires` as a FILETIME (100 ns since 1601); absent, 0 or
    /// `i64::MAX` mean never (so do negative values). JavaScript readers:
    /// `i64::MAX` is beyond 2^53, so parse it exactly.
    #[schemars(example = 134_588_664_000_000_000_i64, example = 0, example = i64::MAX)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_expires: Option<i64>,
    /// `mS-DS-ConsistencyGuid`, when set: the anchor that survives even a
    /// re-created account (AD Connect's sourceAnchor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency_guid: Option<ObjectGuid>,
    /// Set in deltas for a changed user that no longer matches the job's
    /// user filter: out of scope, like a user moved out of the job's OUs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(extend("default" = false))]
    pub outside_filter: bool,
    /// `uSNChanged`, for delta reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usn_changed: Option<u64>,
    /// `whenChanged` as AD's generalized time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<String>,
}

/// An AD group as read, with its *direct* members only; nesting is resolved
/// by the planner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Inline: the schema is the `Record` variant's, with its `type` tag.
#[schemars(inline)]
pub struct GroupRecord {
    pub object_guid: ObjectGuid,
    pub dn: String,
    /// `cn`: the name admins know the group by.
    pub name: String,
    /// Raw `groupType` (scope and security bits).
    #[serde(default)]
    pub group_type: i32,
    /// Direct members (users, groups, contacts, foreign principals) by
    /// objectGUID. Members outside the snapshot are kept as references. At
    /// most 10,000; a larger group continues in `group_members` records.
    #[schemars(length(max = MAX_MEMBERS_PER_RECORD))]
    pub members: Vec<ObjectGuid>,
}

/// The continuation of a large group's member list. It follows the group's
/// own record in the snapshot (possibly in a later chunk); readers append
/// `members` to that group's. Not counted in the manifest's `counts` (it is
/// not an object), but counted in its chunk's `records`. In a full
/// snapshot, members that continue no preceding group are refused at
/// commit (422).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Inline: the schema is the `Record` variant's, with its `type` tag.
#[schemars(inline)]
pub struct GroupMembersRecord {
    /// The group these members belong to.
    pub object_guid: ObjectGuid,
    /// The next members, in AD's order.
    #[schemars(length(max = MAX_MEMBERS_PER_RECORD))]
    pub members: Vec<ObjectGuid>,
}

impl GroupRecord {
    /// Splits a group whose member list is longer than `per_record` into
    /// its record with the first members and continuation records with the
    /// rest, in order. A smaller group comes back whole, with none.
    pub fn split(mut self, per_record: usize) -> (GroupRecord, Vec<GroupMembersRecord>) {
        let per_record = per_record.max(1);
        if self.members.len() <= per_record {
            return (self, Vec::new());
        }
        let rest = self.members.split_off(per_record);
        let object_guid = self.object_guid;
        let more = rest.chunks(per_record).map(|slice| GroupMembersRecord { object_guid, members: slice.to_vec() }).collect();
        (self, more)
    }
}

/// A tombstone: an object AD deleted since the delta's `base`, named by the
/// objectGUID it had. Only in delta snapshots (a full snapshot holding one
/// is refused at commit with 422). Committing the delta removes the object
/// from the job's directory state; an object the state does not hold is
/// ignored. Counted in `counts.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Inline: the schema is the `Record` variant's, with its `type` tag.
#[schemars(inline)]
pub struct DeletedRecord {
    /// The deleted object's `objectGUID`.
    pub object_guid: ObjectGuid,
    /// Where the object lived (`lastKnownParent`), for the session's record;
    /// left out when AD does not say.
    #[schemars(example = &"OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_parent: Option<String>,
}

/// An organizational unit, for the structure view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Inline: the schema is the `Record` variant's, with its `type` tag.
#[schemars(inline)]
pub struct OuRecord {
    pub object_guid: ObjectGuid,
    pub dn: String,
    pub name: String,
}

impl UserRecord {
    /// True when AD says the account is disabled.
    pub fn is_disabled(&self) -> bool {
        self.user_account_control & UAC_ACCOUNT_DISABLE != 0
    }

    /// True when `accountExpires` lies at or before `now_unix` (seconds).
    pub fn is_expired(&self, now_unix: i64) -> bool {
        match self.account_expires {
            None => false,
            Some(value) if ACCOUNT_NEVER_EXPIRES.contains(&value) || value < 0 => false,
            Some(filetime) => filetime / 10_000_000 - FILETIME_UNIX_OFFSET_SECONDS <= now_unix,
        }
    }

    /// The identity Roster keys the user by: `mS-DS-ConsistencyGuid` where
    /// set, else `objectGUID`.
    pub fn anchor(&self) -> ObjectGuid {
        self.consistency_guid.unwrap_or(self.object_guid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_tagged_by_type() {
        let ou = Record::Ou(OuRecord {
            object_guid: "00112233-4455-6677-8899-aabbccddeeff".parse().unwrap(),
            dn: "OU=Staff,DC=corp".into(),
            name: "Staff".into(),
        });
        let line = serde_json::to_string(&ou).unwrap();
        assert_eq!(line, r#"{"type":"ou","object_guid":"00112233-4455-6677-8899-aabbccddeeff","dn":"OU=Staff,DC=corp","name":"Staff"}"#);
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), ou);
    }

    #[test]
    fn expiry_is_a_filetime_where_zero_and_max_mean_never() {
        let mut user: UserRecord = serde_json::from_str(
            r#"{"object_guid":"00112233-4455-6677-8899-aabbccddeeff","dn":"CN=a","sam_account_name":"a","user_account_control":512}"#,
        )
        .unwrap();
        // 2026-01-01T00:00:00Z = 1767225600 Unix = 134116992000000000 FILETIME.
        let jan_2026 = 134_116_992_000_000_000;
        let now = 1_767_225_600;
        let cases = [
            (None, false),
            (Some(0), false),
            (Some(i64::MAX), false),
            (Some(jan_2026), true),
            (Some(jan_2026 + 10_000_000), false),
            (Some(jan_2026 - 1), true),
        ];
        for (value, expired) in cases {
            user.account_expires = value;
            assert_eq!(user.is_expired(now), expired, "{value:?}");
        }
    }

    #[test]
    fn the_anchor_prefers_the_consistency_guid() {
        let mut user: UserRecord = serde_json::from_str(
            r#"{"object_guid":"00112233-4455-6677-8899-aabbccddeeff","dn":"CN=a","sam_account_name":"a","user_account_control":512}"#,
        )
        .unwrap();
        assert_eq!(user.anchor(), user.object_guid);
        let other: ObjectGuid = "ffeeddcc-bbaa-9988-7766-554433221100".parse().unwrap();
        user.consistency_guid = Some(other);
        assert_eq!(user.anchor(), other);
    }

    #[test]
    fn large_groups_split_into_ordered_continuations() {
        let guid = |n: u32| -> ObjectGuid { format!("{n:08x}-0000-0000-0000-000000000000").parse().unwrap() };
        let group = |n: u32| GroupRecord {
            object_guid: guid(0),
            dn: "CN=G,DC=corp".into(),
            name: "G".into(),
            group_type: 0,
            members: (1..=n).map(guid).collect(),
        };
        for (members, per_record, continuations) in [(0, 3, 0), (3, 3, 0), (4, 3, 1), (7, 3, 2), (9, 3, 2), (10, 3, 3)] {
            let (head, more) = group(members).split(per_record);
            assert_eq!(more.len(), continuations, "{members} members by {per_record}");
            assert!(head.members.len() <= per_record && more.iter().all(|m| m.members.len() <= per_record && m.object_guid == guid(0)));
            let rejoined: Vec<ObjectGuid> = head.members.iter().chain(more.iter().flat_map(|m| &m.members)).copied().collect();
            assert_eq!(rejoined, group(members).members, "order and completeness");
        }
    }

    #[test]
    fn disabled_is_bit_two() {
        let mut user: UserRecord = serde_json::from_str(
            r#"{"object_guid":"00112233-4455-6677-8899-aabbccddeeff","dn":"CN=a","sam_account_name":"a","user_account_control":512}"#,
        )
        .unwrap();
        assert!(!user.is_disabled());
        user.user_account_control = 514;
        assert!(user.is_disabled());
        user.user_account_control = 66050; // disabled + password never expires
        assert!(user.is_disabled());
    }
}
