//! Record builders: a directory object with only what identifies it, every
//! optional attribute empty. Suites build their own fixtures on these with
//! struct update syntax, so a new record field is added here once.

use roster_proto::ObjectGuid;
use roster_proto::records::{GroupRecord, UserRecord};

/// `userAccountControl` of an enabled normal account.
pub const ENABLED: u32 = 512;
/// `groupType` of a global security group.
pub const GLOBAL_SECURITY_GROUP: i32 = -2147483646;

/// An enabled user with no optional attribute, as a full read finds it.
pub fn user(object_guid: ObjectGuid, dn: String, sam_account_name: String) -> UserRecord {
    UserRecord {
        object_guid,
        dn,
        sam_account_name,
        user_principal_name: None,
        mail: None,
        given_name: None,
        surname: None,
        display_name: None,
        telephone_number: None,
        department: None,
        title: None,
        user_account_control: ENABLED,
        account_expires: None,
        consistency_guid: None,
        outside_filter: false,
        usn_changed: None,
        when_changed: None,
    }
}

/// A global security group with these direct members.
pub fn group(object_guid: ObjectGuid, dn: String, name: String, members: Vec<ObjectGuid>) -> GroupRecord {
    GroupRecord { object_guid, dn, name, group_type: GLOBAL_SECURITY_GROUP, members }
}
