//! LDAP entries → snapshot records, as pure functions over ldap3's
//! `SearchEntry` so the mapping is tested with hand-made entries.
//!
//! Attribute names are matched case-insensitively (a DC answers in its
//! schema's spelling, not the request's).

use ldap3::SearchEntry;
use roster_proto::ObjectGuid;
use roster_proto::records::{DeletedRecord, GroupRecord, OuRecord, UserRecord};

use super::extdn::parse_extended_dn;

/// Attributes read for users. `lockoutTime` is deliberately absent: a
/// locked-out account stays active in Roster.
pub const USER_ATTRIBUTES: [&str; 16] = [
    "objectGUID",
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "givenName",
    "sn",
    "displayName",
    "telephoneNumber",
    "department",
    "title",
    "userAccountControl",
    "accountExpires",
    CONSISTENCY_GUID,
    "distinguishedName",
    "uSNChanged",
    "whenChanged",
];
/// Attributes read for groups.
pub const GROUP_ATTRIBUTES: [&str; 5] = ["objectGUID", "cn", "distinguishedName", "member", "groupType"];
/// Attributes read for OUs.
pub const OU_ATTRIBUTES: [&str; 3] = ["objectGUID", "ou", "distinguishedName"];
/// Attributes read for tombstones: `objectClass` tells which kinds to keep.
pub const TOMBSTONE_ATTRIBUTES: [&str; 3] = ["objectGUID", "lastKnownParent", "objectClass"];
/// AD Connect's source anchor (`ms-DS-Consistency-Guid`), 16 raw bytes.
pub const CONSISTENCY_GUID: &str = "mS-DS-ConsistencyGuid";

/// Why an entry is not a record: its DN and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry `{dn}`: {reason}")]
pub struct EntryError {
    /// The entry's (plain) DN, so the admin can find it.
    pub dn: String,
    /// What is missing or malformed.
    pub reason: String,
}

/// The values of `name`, whatever case the DC spelled it in.
pub fn values<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a [String]> {
    entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
}

/// The first non-empty value of `name`.
pub fn first<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    values(entry, name).and_then(|v| v.first()).map(String::as_str).filter(|v| !v.is_empty())
}

/// The entry's DN without any extended-DN prefix.
pub fn plain_dn(entry: &SearchEntry) -> &str {
    parse_extended_dn(&entry.dn).map(|e| e.dn).unwrap_or(&entry.dn)
}

/// The 16 bytes of `objectGUID` (see [`first_binary`] for where ldap3
/// files them).
pub fn object_guid(entry: &SearchEntry) -> Result<ObjectGuid, EntryError> {
    let bytes =
        first_binary(entry, "objectGUID").ok_or_else(|| error(entry, "has no objectGUID (does the bind account lack read access?)"))?;
    ObjectGuid::from_ldap_bytes(bytes).map_err(|e| error(entry, &format!("objectGUID: {e}")))
}

/// `mS-DS-ConsistencyGuid` when set (absent is normal: AD Connect sets it
/// only where it anchors). A value that is not 16 bytes is an error, not
/// "absent": the user's anchor would silently change.
pub fn consistency_guid(entry: &SearchEntry) -> Result<Option<ObjectGuid>, EntryError> {
    match first_binary(entry, CONSISTENCY_GUID) {
        None => Ok(None),
        Some(bytes) => ObjectGuid::from_ldap_bytes(bytes).map(Some).map_err(|e| error(entry, &format!("{CONSISTENCY_GUID}: {e}"))),
    }
}

/// The first value of a binary attribute (e.g. `objectSid`). ldap3 files a
/// value under `attrs` when it happens to be valid UTF-8 and under
/// `bin_attrs` otherwise, so both are looked at.
pub fn first_binary<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a [u8]> {
    entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(Vec::as_slice)
        .or_else(|| values(entry, name).and_then(|v| v.first()).map(String::as_bytes))
}

/// A user entry as a record.
pub fn user_record(entry: &SearchEntry) -> Result<UserRecord, EntryError> {
    let text = |name: &str| first(entry, name).map(str::to_owned);
    let uac = first(entry, "userAccountControl").ok_or_else(|| error(entry, "has no userAccountControl"))?;
    let user_account_control = parse_u32_bits(uac).ok_or_else(|| error(entry, &format!("userAccountControl `{uac}` is not a number")))?;
    let usn_changed = match first(entry, "uSNChanged") {
        Some(v) => Some(v.parse::<u64>().map_err(|_| error(entry, &format!("uSNChanged `{v}` is not a number")))?),
        None => None,
    };
    let account_expires = match first(entry, "accountExpires") {
        Some(v) => Some(v.parse::<i64>().map_err(|_| error(entry, &format!("accountExpires `{v}` is not a FILETIME number")))?),
        None => None,
    };
    Ok(UserRecord {
        object_guid: object_guid(entry)?,
        dn: plain_dn(entry).to_owned(),
        sam_account_name: text("sAMAccountName").ok_or_else(|| error(entry, "has no sAMAccountName"))?,
        user_principal_name: text("userPrincipalName"),
        mail: text("mail"),
        given_name: text("givenName"),
        surname: text("sn"),
        display_name: text("displayName"),
        telephone_number: text("telephoneNumber"),
        department: text("department"),
        title: text("title"),
        user_account_control,
        account_expires,
        consistency_guid: consistency_guid(entry)?,
        usn_changed,
        when_changed: text("whenChanged"),
        outside_filter: false,
    })
}

/// A group entry as a record, with its members already resolved.
pub fn group_record(entry: &SearchEntry, members: Vec<ObjectGuid>) -> Result<GroupRecord, EntryError> {
    let group_type = match first(entry, "groupType") {
        Some(v) => parse_i32_bits(v).ok_or_else(|| error(entry, &format!("groupType `{v}` is not a number")))?,
        None => 0,
    };
    Ok(GroupRecord {
        object_guid: object_guid(entry)?,
        dn: plain_dn(entry).to_owned(),
        name: first(entry, "cn").ok_or_else(|| error(entry, "has no cn"))?.to_owned(),
        group_type,
        members,
    })
}

/// An OU entry as a record.
pub fn ou_record(entry: &SearchEntry) -> Result<OuRecord, EntryError> {
    Ok(OuRecord {
        object_guid: object_guid(entry)?,
        dn: plain_dn(entry).to_owned(),
        name: first(entry, "ou").ok_or_else(|| error(entry, "has no ou"))?.to_owned(),
    })
}

/// A tombstone as a record, or `None` when its `objectClass` says it was
/// not a user, group or OU (computers, contacts, DNS records, ...): the
/// server has nothing to remove for those. A tombstone without
/// `objectClass` is kept: dropping a deletion would keep a user alive.
pub fn deleted_record(entry: &SearchEntry) -> Result<Option<DeletedRecord>, EntryError> {
    if let Some(classes) = values(entry, "objectClass") {
        let is = |class: &str| classes.iter().any(|c| c.eq_ignore_ascii_case(class));
        let kept = (is("user") && !is("computer")) || is("group") || is("organizationalUnit");
        if !kept {
            return Ok(None);
        }
    }
    let last_known_parent = match first(entry, "lastKnownParent") {
        Some(value) => Some(parse_extended_dn(value).map_err(|e| error(entry, &format!("lastKnownParent: {e}")))?.dn.to_owned())
            .filter(|dn| !dn.is_empty()),
        None => None,
    };
    Ok(Some(DeletedRecord { object_guid: object_guid(entry)?, last_known_parent }))
}

/// Member values (extended DNs) → GUIDs. A member without a GUID is an
/// error naming the group and the member: dropping it silently would take
/// someone's access away.
pub fn member_guids(group_dn: &str, members: &[String], into: &mut Vec<ObjectGuid>) -> Result<(), EntryError> {
    into.reserve(members.len());
    for member in members {
        let parsed = parse_extended_dn(member).map_err(|e| EntryError { dn: group_dn.to_owned(), reason: format!("member: {e}") })?;
        let guid = parsed.guid.ok_or_else(|| EntryError {
            dn: group_dn.to_owned(),
            reason: format!("member `{member}` came without a GUID (the DC ignored the extended-DN control?)"),
        })?;
        into.push(guid);
    }
    Ok(())
}

fn error(entry: &SearchEntry, reason: &str) -> EntryError {
    EntryError { dn: plain_dn(entry).to_owned(), reason: reason.to_owned() }
}

/// A 32-bit flag word as AD may print it: unsigned or signed.
fn parse_u32_bits(text: &str) -> Option<u32> {
    text.parse::<u32>().ok().or_else(|| text.parse::<i32>().ok().map(i32::cast_unsigned))
}

/// `groupType` is signed in AD (`-2147483646` = global security group).
fn parse_i32_bits(text: &str) -> Option<i32> {
    text.parse::<i32>().ok().or_else(|| text.parse::<u32>().ok().map(u32::cast_signed))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const GUID_BYTES: [u8; 16] = [0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90];

    fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> SearchEntry {
        SearchEntry {
            dn: dn.to_owned(),
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect(),
            bin_attrs: HashMap::from([("objectGUID".to_owned(), vec![GUID_BYTES.to_vec()])]),
        }
    }

    #[test]
    fn users() {
        let e = entry(
            "CN=Ann Berg,OU=Copenhagen,DC=corp",
            &[
                ("sAMAccountName", &["cph-0001"]),
                ("userPrincipalName", &["cph-0001@corp.example.test"]),
                ("mail", &["ann@example.test"]),
                ("givenname", &["Ann"]),
                ("sn", &["Berg"]),
                ("displayName", &[""]),
                ("userAccountControl", &["514"]),
                ("uSNChanged", &["4123"]),
                ("whenChanged", &["20261125120000.0Z"]),
            ],
        );
        let user = user_record(&e).unwrap();
        assert_eq!(user.object_guid.to_string(), "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90");
        assert_eq!(user.dn, "CN=Ann Berg,OU=Copenhagen,DC=corp");
        assert_eq!(user.sam_account_name, "cph-0001");
        assert_eq!(user.given_name.as_deref(), Some("Ann"), "attribute names match case-insensitively");
        assert_eq!(user.display_name, None, "empty values are absent");
        assert!(user.is_disabled());
        assert_eq!(user.usn_changed, Some(4123));
        assert_eq!(user.when_changed.as_deref(), Some("20261125120000.0Z"));

        let missing = entry("CN=x,DC=corp", &[("userAccountControl", &["512"])]);
        assert_eq!(user_record(&missing).unwrap_err().to_string(), "entry `CN=x,DC=corp`: has no sAMAccountName");
        let bad_uac = entry("CN=x,DC=corp", &[("sAMAccountName", &["x"]), ("userAccountControl", &["lots"])]);
        assert!(user_record(&bad_uac).is_err());
    }

    #[test]
    fn account_expiry_and_consistency_guid() {
        let base: &[(&str, &[&str])] = &[("sAMAccountName", &["x"]), ("userAccountControl", &["512"])];
        let with = |extra: &[(&str, &[&str])]| entry("CN=x,DC=corp", &[base, extra].concat());
        // Absent, never (0 and i64::MAX) and a date are all kept as read; what they mean is the server's business.
        assert_eq!(user_record(&with(&[])).unwrap().account_expires, None);
        assert_eq!(user_record(&with(&[("accountExpires", &["0"])])).unwrap().account_expires, Some(0));
        assert_eq!(user_record(&with(&[("accountExpires", &["9223372036854775807"])])).unwrap().account_expires, Some(i64::MAX));
        let expired = user_record(&with(&[("accountExpires", &["134116992000000000"])])).unwrap();
        assert_eq!(expired.account_expires, Some(134_116_992_000_000_000));
        assert!(expired.is_expired(1_767_225_600));
        let bad = user_record(&with(&[("accountExpires", &["soon"])])).unwrap_err();
        assert_eq!(bad.reason, "accountExpires `soon` is not a FILETIME number");

        let user = user_record(&with(&[])).unwrap();
        assert_eq!(user.consistency_guid, None, "absent is normal");
        assert_eq!(user.anchor(), user.object_guid);
        let anchor = [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        let mut e = with(&[]);
        e.bin_attrs.insert("ms-DS-ConsistencyGuid".into(), vec![anchor.to_vec()]);
        let user = user_record(&e).unwrap();
        assert_eq!(user.consistency_guid.map(|g| g.to_string()).as_deref(), Some("76543210-ba98-fedc-0123-456789abcdef"));
        assert_eq!(user.anchor(), user.consistency_guid.unwrap());
        // ldap3 files valid UTF-8 under `attrs`: still found.
        let mut text = with(&[]);
        text.attrs.insert("mS-DS-ConsistencyGuid".into(), vec!["0123456789abcdef".into()]);
        assert_eq!(user_record(&text).unwrap().consistency_guid, Some(ObjectGuid::from_ldap_bytes(b"0123456789abcdef").unwrap()));
        let mut short = with(&[]);
        short.bin_attrs.insert("mS-DS-ConsistencyGuid".into(), vec![anchor[..12].to_vec()]);
        let error = user_record(&short).unwrap_err();
        assert_eq!(error.to_string(), "entry `CN=x,DC=corp`: mS-DS-ConsistencyGuid: an objectGUID is 16 bytes, got 12");
    }

    #[test]
    fn tombstones() {
        let dn = "CN=Ann Berg\\0ADEL:d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90,CN=Deleted Objects,DC=corp";
        let user = entry(
            dn,
            &[
                ("objectClass", &["top", "person", "organizationalPerson", "user"]),
                ("lastKnownParent", &["<GUID=c07297ec-a019-4193-9db7-54b90830cd18>;OU=Copenhagen,DC=corp"]),
            ],
        );
        let deleted = deleted_record(&user).unwrap().unwrap();
        assert_eq!(deleted.object_guid.to_string(), "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90");
        assert_eq!(deleted.last_known_parent.as_deref(), Some("OU=Copenhagen,DC=corp"), "the extended-DN prefix is stripped");
        let plain = entry(dn, &[("objectClass", &["top", "group"]), ("lastKnownParent", &["OU=Groups,DC=corp"])]);
        assert_eq!(deleted_record(&plain).unwrap().unwrap().last_known_parent.as_deref(), Some("OU=Groups,DC=corp"));
        let ou = entry(dn, &[("objectClass", &["top", "organizationalUnit"])]);
        assert_eq!(deleted_record(&ou).unwrap().unwrap().last_known_parent, None);
        let unknown = entry(dn, &[]);
        assert!(deleted_record(&unknown).unwrap().is_some(), "without objectClass a deletion is kept");
        for other in
            [&["top", "person", "organizationalPerson", "user", "computer"][..], &["top", "person", "contact"], &["top", "dnsNode"]]
        {
            assert_eq!(deleted_record(&entry(dn, &[("objectClass", other)])).unwrap(), None, "{other:?} is skipped");
        }
        let mut no_guid = entry(dn, &[("objectClass", &["user"])]);
        no_guid.bin_attrs.clear();
        assert!(deleted_record(&no_guid).is_err());
    }

    #[test]
    fn guids_filed_as_text_are_found_too() {
        let mut e = entry("CN=x,DC=corp", &[("sAMAccountName", &["x"]), ("userAccountControl", &["512"])]);
        e.bin_attrs.clear();
        let ascii = *b"0123456789abcdef";
        e.attrs.insert("objectGUID".into(), vec![String::from_utf8(ascii.to_vec()).unwrap()]);
        assert_eq!(object_guid(&e).unwrap(), ObjectGuid::from_ldap_bytes(&ascii).unwrap());
        e.attrs.remove("objectGUID");
        assert!(object_guid(&e).unwrap_err().reason.contains("no objectGUID"));
    }

    #[test]
    fn groups_with_extended_dns() {
        let dn = "<GUID=d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90>;<SID=S-1-5-21-1-2-3-1105>;CN=Staff-DK,OU=Groups,DC=corp";
        let e = entry(dn, &[("cn", &["Staff-DK"]), ("groupType", &["-2147483646"])]);
        let members = [
            "<GUID=2dabfb67-b624-4e52-8df5-f035b9eb9c9a>;<SID=S-1-5-21-1-2-3-2372>;CN=Sales-DK,OU=Groups,DC=corp".to_owned(),
            "<GUID=10f8219c-9a7d-46e2-960b-cf1e1d33473f>;CN=Contact,OU=Groups,DC=corp".to_owned(),
        ];
        let mut guids = Vec::new();
        member_guids(plain_dn(&e), &members, &mut guids).unwrap();
        let group = group_record(&e, guids).unwrap();
        assert_eq!(group.dn, "CN=Staff-DK,OU=Groups,DC=corp");
        assert_eq!(group.name, "Staff-DK");
        assert_eq!(group.group_type, -2147483646);
        assert_eq!(
            group.members.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["2dabfb67-b624-4e52-8df5-f035b9eb9c9a", "10f8219c-9a7d-46e2-960b-cf1e1d33473f"]
        );
        assert_eq!(
            group_record(&entry("CN=g", &[("cn", &["g"]), ("groupType", &["2147483650"])]), vec![]).unwrap().group_type,
            -2147483646
        );

        let mut none = Vec::new();
        let err = member_guids("CN=Staff-DK,DC=corp", &["CN=Ann,DC=corp".to_owned()], &mut none).unwrap_err();
        assert_eq!(err.dn, "CN=Staff-DK,DC=corp");
        assert!(err.reason.contains("CN=Ann,DC=corp") && err.reason.contains("without a GUID"), "{}", err.reason);
    }

    #[test]
    fn ous() {
        let ou = ou_record(&entry("OU=Staff,DC=corp", &[("ou", &["Staff"])])).unwrap();
        assert_eq!((ou.dn.as_str(), ou.name.as_str()), ("OU=Staff,DC=corp", "Staff"));
        assert!(ou_record(&entry("OU=Staff,DC=corp", &[])).is_err());
    }
}
