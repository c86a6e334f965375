//! The records a snapshot carries: one line of NDJSON each, tagged by
//! `type`. They hold what the directory said, not what Roster decided: the
//! import planner derives everything else.

use serde::{Deserialize, Serialize};

use crate::ObjectGuid;

/// `userAccountControl` bit for a disabled account (`ACCOUNTDISABLE`).
pub const UAC_ACCOUNT_DISABLE: u32 = 0x0002;

/// One directory object in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// Records stream one at a time, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Record {
    User(UserRecord),
    Group(GroupRecord),
    Ou(OuRecord),
}

/// An AD user as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The anchor that survives renames and moves.
    pub object_guid: ObjectGuid,
    /// Where the user lives; decides scope.
    pub dn: String,
    /// `sAMAccountName`: the service's username.
    pub sam_account_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Raw `userAccountControl`; bit 2 means disabled.
    pub user_account_control: u32,
    /// `uSNChanged`, for delta reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usn_changed: Option<u64>,
    /// `whenChanged` as AD's generalized time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<String>,
}

/// An AD group as read, with its *direct* members only; nesting is resolved
/// by the planner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub object_guid: ObjectGuid,
    pub dn: String,
    /// `cn`: the name admins know the group by.
    pub name: String,
    /// Raw `groupType` (scope and security bits).
    #[serde(default)]
    pub group_type: i32,
    /// Direct members (users, groups, contacts, foreign principals) by
    /// objectGUID. Members outside the snapshot are kept as references.
    pub members: Vec<ObjectGuid>,
}

/// An organizational unit, for the structure view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
