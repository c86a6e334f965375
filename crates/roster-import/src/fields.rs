//! A user's fields, listed once: what an import copies from the directory
//! and compares. [`UserState`], its fingerprint, the field-by-field diff,
//! the comparison with a directory record, the stored row's columns
//! ([`USER_FIELDS`]) and the API's `User` all derive from the one list in
//! [`user_fields!`], so a field added there is compared, fingerprinted,
//! diffed and stored everywhere, and one added elsewhere does not compile.

use std::collections::BTreeSet;

use roster_proto::admin::{AccessRef, User};
use roster_proto::records::UserRecord;
use roster_proto::{AccessId, JobId, ObjectGuid, UserId};

/// One field's value, borrowed: what is compared, hashed and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// A field every user has.
    Text(&'a str),
    /// A field a user may lack.
    Optional(Option<&'a str>),
    /// A GUID, stored and shown in its string form.
    Guid(ObjectGuid),
}

impl FieldValue<'_> {
    /// The value as text (`None` for a field without a value).
    pub fn to_text(self) -> Option<String> {
        match self {
            FieldValue::Text(text) => Some(text.to_owned()),
            FieldValue::Optional(text) => text.map(str::to_owned),
            FieldValue::Guid(guid) => Some(guid.to_string()),
        }
    }
}

/// A type a user's field may have.
pub trait Field: Sized {
    /// The value, borrowed.
    fn value(&self) -> FieldValue<'_>;
    /// The value from its stored text (`None`: SQL NULL); `Err` says why
    /// the text is not a value of this field.
    fn from_stored(text: Option<String>) -> Result<Self, StoredFieldError>;
}

impl Field for String {
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Text(self)
    }

    fn from_stored(text: Option<String>) -> Result<Self, StoredFieldError> {
        text.ok_or(StoredFieldError::Missing)
    }
}

impl Field for Option<String> {
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Optional(self.as_deref())
    }

    fn from_stored(text: Option<String>) -> Result<Self, StoredFieldError> {
        Ok(text)
    }
}

impl Field for ObjectGuid {
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Guid(*self)
    }

    fn from_stored(text: Option<String>) -> Result<Self, StoredFieldError> {
        Ok(String::from_stored(text)?.parse()?)
    }
}

/// Why a stored text is not a value of its field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredFieldError {
    #[error("missing (NULL) but required")]
    Missing,
    #[error(transparent)]
    Guid(#[from] roster_proto::guid::GuidError),
}

/// A stored field whose text is not a value of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored field `{field}`: {source}")]
pub struct InvalidField {
    /// The field (and column) name.
    pub field: &'static str,
    pub source: StoredFieldError,
}

/// Defines [`UserState`] with the compared fields between its anchor and
/// its activity, and everything that walks those fields. Each entry is
/// `name: Type = record_field`: the state's field (also the stored
/// column and the name a diff shows), its type (a [`Field`]) and the
/// [`UserRecord`] field it is copied from.
macro_rules! user_fields {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty = $record:ident ),+ $(,)?) => {
        /// A user as the service holds it (or would, after the import).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct UserState {
            /// What the user is matched by across imports: `mS-DS-ConsistencyGuid`
            /// where set, else `objectGUID`.
            pub anchor: ObjectGuid,
            $( $(#[$doc])* pub $field: $ty, )+
            /// False when disabled or expired in AD, out of scope, gone, or
            /// without a basic access.
            pub active: bool,
            pub accesses: BTreeSet<AccessId>,
        }

        /// How many fields an import compares (besides anchor, activity and accesses).
        pub const USER_FIELD_COUNT: usize = [$(stringify!($field)),+].len();

        /// The compared fields' names, in order: also the `users` table's
        /// columns that hold them, and the names a diff shows.
        pub const USER_FIELDS: [&str; USER_FIELD_COUNT] = [$(stringify!($field)),+];

        impl UserState {
            /// The compared fields' values, in [`USER_FIELDS`] order.
            pub fn field_values(&self) -> [FieldValue<'_>; USER_FIELD_COUNT] {
                [$(Field::value(&self.$field)),+]
            }

            /// The values `record` gives the compared fields, in [`USER_FIELDS`] order.
            pub fn record_values(record: &UserRecord) -> [FieldValue<'_>; USER_FIELD_COUNT] {
                [$(Field::value(&record.$record)),+]
            }

            /// The state `record` gives, inactive and without accesses.
            pub fn from_record(record: &UserRecord) -> UserState {
                UserState { anchor: record.anchor(), $($field: record.$record.clone(),)+ active: false, accesses: BTreeSet::new() }
            }

            /// A stored user, without accesses: `read` gives each field's
            /// stored text by its column name.
            pub fn from_stored<E: From<InvalidField>>(
                anchor: ObjectGuid,
                active: bool,
                mut read: impl FnMut(&'static str) -> Result<Option<String>, E>,
            ) -> Result<UserState, E> {
                Ok(UserState {
                    anchor,
                    $($field: <$ty as Field>::from_stored(read(stringify!($field))?)
                        .map_err(|source| InvalidField { field: stringify!($field), source })?,)+
                    active,
                    accesses: BTreeSet::new(),
                })
            }
        }
    };
}

user_fields! {
    /// The AD object's current GUID (group memberships name it; it changes
    /// when an account anchored by its consistency GUID is re-created).
    object_guid: ObjectGuid = object_guid,
    /// `sAMAccountName`.
    username: String = sam_account_name,
    user_principal_name: Option<String> = user_principal_name,
    email: Option<String> = mail,
    display_name: Option<String> = display_name,
    given_name: Option<String> = given_name,
    surname: Option<String> = surname,
    telephone_number: Option<String> = telephone_number,
    department: Option<String> = department,
    title: Option<String> = title,
    dn: String = dn,
}

impl UserState {
    /// A digest of everything an import compares of a user: two states with
    /// the same fingerprint are the same state. Stored with each user, so a
    /// re-import compares one value instead of reading the whole row.
    pub fn fingerprint(&self) -> String {
        let hex = fingerprint(self.anchor, &self.field_values(), self.active, &self.accesses);
        hex.iter().map(|&digit| char::from(digit)).collect()
    }

    /// True when the state holds exactly the fields `record` carries (what
    /// [`UserState::from_record`] would copy, but for activity and accesses).
    pub fn same_fields(&self, record: &UserRecord) -> bool {
        self.anchor == record.anchor() && self.field_values() == UserState::record_values(record)
    }

    /// The user as the admin API shows it, with `accesses`.
    pub fn into_api_user(self, id: UserId, job_id: JobId, accesses: Vec<AccessRef>) -> User {
        // Every field named, so a new one is a decision here: shown or not.
        let UserState {
            anchor: _,
            object_guid,
            username,
            user_principal_name: _,
            email,
            display_name,
            given_name: _,
            surname: _,
            telephone_number: _,
            department: _,
            title: _,
            dn: _,
            active,
            accesses: _,
        } = self;
        User { id, job_id, object_guid, username, email, display_name, active, accesses }
    }
}

/// The fingerprint, as 64 lowercase hex digits, of a state with this
/// anchor, these field values (in [`USER_FIELDS`] order), activity and
/// accesses. Nothing is allocated: a re-import computes one per user.
pub(crate) fn fingerprint(anchor: ObjectGuid, fields: &[FieldValue<'_>], active: bool, accesses: &BTreeSet<AccessId>) -> [u8; 64] {
    use sha2::Digest;
    fn text(hasher: &mut sha2::Sha256, text: Option<&str>) {
        match text {
            None => hasher.update([0]),
            Some(text) => {
                hasher.update([1]);
                hasher.update((text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
        }
    }
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"roster-user-v1");
    text(&mut hasher, Some(anchor.text().as_str()));
    for field in fields {
        match field {
            FieldValue::Text(value) => text(&mut hasher, Some(value)),
            FieldValue::Optional(value) => text(&mut hasher, *value),
            FieldValue::Guid(guid) => text(&mut hasher, Some(guid.text().as_str())),
        }
    }
    hasher.update([u8::from(active)]);
    for access in accesses {
        hasher.update(access.as_uuid().as_bytes());
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 64];
    for (i, byte) in hasher.finalize().iter().enumerate() {
        hex[2 * i] = DIGITS[usize::from(byte >> 4)];
        hex[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
    hex
}

/// The longest value an import copies of each AD text field, in characters
/// (the attributes' `rangeUpper` in the AD schema); a longer value is cut.
/// The DN is never cut: it is the user's place, and scope depends on it.
pub const AD_FIELD_MAX_CHARS: [(&str, usize); 9] = [
    ("sAMAccountName", 256),
    ("userPrincipalName", 1024),
    ("mail", 256),
    ("displayName", 256),
    ("givenName", 64),
    ("sn", 64),
    ("telephoneNumber", 64),
    ("department", 64),
    ("title", 128),
];

/// A directory user's text fields as an import copies them: control
/// characters (C0, DEL, C1, with an ANSI escape sequence removed whole) and
/// bidi overrides removed, each field cut to its `AD_FIELD_MAX_CHARS`.
/// The DN is an identifier, so nothing is removed from it: its control and
/// invisible characters are escaped as AD writes them (`\0A`,
/// `roster_proto::dn::escape_invisible`), which leaves it the same DN.
/// Borrowed when nothing needs changing, as is usual; planning, explain,
/// the fingerprint and the stored row all see the cleaned record.
pub fn clean_record(record: &UserRecord) -> std::borrow::Cow<'_, UserRecord> {
    let [sam, upn, mail, display, given, sn, phone, department, title] = AD_FIELD_MAX_CHARS.map(|(_, max)| max);
    let optional = |value: &Option<String>, max| value.as_deref().and_then(|text| clean_text(text, max));
    let cleaned = (
        roster_proto::dn::escape_invisible(&record.dn),
        clean_text(&record.sam_account_name, sam),
        optional(&record.user_principal_name, upn),
        optional(&record.mail, mail),
        optional(&record.display_name, display),
        optional(&record.given_name, given),
        optional(&record.surname, sn),
        optional(&record.telephone_number, phone),
        optional(&record.department, department),
        optional(&record.title, title),
    );
    if cleaned == Default::default() {
        return std::borrow::Cow::Borrowed(record);
    }
    let (dn, sam, upn, mail, display, given, sn, phone, department, title) = cleaned;
    let keep = |new: Option<String>, old: &Option<String>| if new.is_some() { new } else { old.clone() };
    std::borrow::Cow::Owned(UserRecord {
        dn: dn.unwrap_or_else(|| record.dn.clone()),
        sam_account_name: sam.unwrap_or_else(|| record.sam_account_name.clone()),
        user_principal_name: keep(upn, &record.user_principal_name),
        mail: keep(mail, &record.mail),
        display_name: keep(display, &record.display_name),
        given_name: keep(given, &record.given_name),
        surname: keep(sn, &record.surname),
        telephone_number: keep(phone, &record.telephone_number),
        department: keep(department, &record.department),
        title: keep(title, &record.title),
        ..record.clone()
    })
}

/// `text` cleaned, or `None` when it is clean already.
fn clean_text(text: &str, max_chars: usize) -> Option<String> {
    let forbidden = roster_proto::name::is_forbidden;
    if !text.chars().any(forbidden) && text.chars().nth(max_chars).is_none() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // CSI (ESC [ or the C1 CSI): parameters up to a final byte.
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                chars.by_ref().find(|c| ('@'..='~').contains(c));
            }
            '\u{9b}' => {
                chars.by_ref().find(|c| ('@'..='~').contains(c));
            }
            // OSC (ESC ]): up to BEL or ESC \.
            '\u{1b}' if chars.peek() == Some(&']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            // Any other escape: ESC and the character it introduces.
            '\u{1b}' => {
                chars.next();
            }
            c if forbidden(c) => {}
            c => out.push(c),
        }
    }
    Some(out.chars().take(max_chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_escapes_and_overrides_are_removed_and_long_values_cut() {
        for (text, max, expected) in [
            ("Ann Berg", 64, None),
            ("Ann\u{1b}[31;1m Berg\u{1b}[0m", 64, Some("Ann Berg")),
            ("\u{1b}]0;pwned\u{7}Ann", 64, Some("Ann")),
            ("\u{1b}]8;;http://x\u{1b}\\Ann", 64, Some("Ann")),
            ("A\u{0}n\u{85}n\u{9b}2J", 64, Some("Ann")),
            ("Ann\u{202E}gpj.exe", 64, Some("Anngpj.exe")),
            ("Ann\nBerg\r\n", 64, Some("AnnBerg")),
            ("éééé", 3, Some("ééé")),
            ("ééé", 3, None),
            ("\u{1b}", 3, Some("")),
        ] {
            assert_eq!(clean_text(text, max).as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn a_clean_record_is_borrowed_and_a_dirty_one_cleaned_field_by_field() {
        let guid = "00112233-4455-6677-8899-aabbccddeeff".parse().expect("a GUID");
        let record = UserRecord {
            display_name: Some("Ann Berg".into()),
            ..roster_testkit::records::user(guid, "CN=Ann\\0D,OU=Staff,DC=corp".into(), "ann".into())
        };
        assert!(matches!(clean_record(&record), std::borrow::Cow::Borrowed(_)));
        let dirty = UserRecord { title: Some("x".repeat(500)), department: Some("\u{1b}[2JSales".into()), ..record.clone() };
        let cleaned = clean_record(&dirty);
        assert_eq!(cleaned.title.as_deref().map(str::len), Some(128));
        assert_eq!(cleaned.department.as_deref(), Some("Sales"));
        assert_eq!((cleaned.display_name.as_deref(), cleaned.dn.as_str()), (Some("Ann Berg"), record.dn.as_str()), "the rest is kept");
    }

    #[test]
    fn a_dn_keeps_its_identity_and_shows_its_controls_escaped() {
        let guid = "00112233-4455-6677-8899-aabbccddeeff".parse().expect("a GUID");
        for (dn, stored) in [
            ("CN=Ann,OU=Staff,DC=corp", None),
            ("CN=Ann\\0A,OU=Staff,DC=corp", None),
            ("CN=Ann\nBerg,OU=Staff,DC=corp", Some("CN=Ann\\0ABerg,OU=Staff,DC=corp")),
            ("CN=\u{1b}[2JAnn,OU=Staff,DC=corp", Some("CN=\\1B[2JAnn,OU=Staff,DC=corp")),
            ("CN=Ann\u{202E}gpj,OU=Staff,DC=corp", Some("CN=Ann\\E2\\80\\AEgpj,OU=Staff,DC=corp")),
        ] {
            let record = roster_testkit::records::user(guid, dn.into(), "ann".into());
            let cleaned = clean_record(&record);
            assert_eq!(matches!(cleaned, std::borrow::Cow::Owned(_)), stored.is_some(), "{dn:?}");
            assert_eq!(cleaned.dn, stored.unwrap_or(dn), "{dn:?}");
            let same = roster_proto::dn::Dn::parse(&cleaned.dn).expect("a DN");
            assert_eq!(Some(same), roster_proto::dn::Dn::parse(dn).ok(), "still the same DN: {dn:?}");
            assert_eq!(cleaned.sam_account_name, "ann");
        }
    }
}
