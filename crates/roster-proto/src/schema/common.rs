//! The shared scalars of `common.schema.json`, as types that exist only for
//! their schema: wire fields name them in `#[schemars(with = "...")]`, so
//! every UUID, time and digest of every message refers to one definition.
//!
//! These are the hand-written part of the contract: a Rust `Uuid` or
//! `String` cannot say "lower-case hyphenated" or "64 hex digits", so each
//! definition here says it once.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// The pattern of a GUID as Roster writes it (lower case, hyphenated, no braces).
pub const CANONICAL_GUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// Defines a marker type whose schema is one hand-written definition of
/// `common.schema.json`, referenced (never inlined) under `$name`.
macro_rules! scalar {
    ($(#[doc = $doc:literal])* $ty:ident = $name:literal, $schema:expr) => {
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub struct $ty;

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

scalar!(
    /// `uuid::Uuid` as serde writes it.
    Uuid = "uuid",
    json_schema!({
        "title": "Uuid",
        "description": "A UUID (Rust `uuid::Uuid`), hyphenated and lower case as Roster writes it. Readers also accept upper case, braces, `urn:uuid:` and the 32-digit simple form; senders should use this form.",
        "type": "string",
        "format": "uuid",
        "pattern": CANONICAL_GUID_PATTERN,
        "examples": ["0b5f0a4c-3a2e-4d51-9d7e-2f1c8a6b9e10"]
    })
);

scalar!(
    /// `time::OffsetDateTime` through `time::serde::rfc3339`.
    DateTime = "dateTime",
    json_schema!({
        "title": "OffsetDateTime",
        "description": "An RFC 3339 timestamp (Rust `time::OffsetDateTime` through `time::serde::rfc3339`). Roster writes UTC with `Z` and fractional seconds only when they are not zero.",
        "type": "string",
        "format": "date-time",
        "examples": ["2026-11-25T12:00:00Z", "2026-11-25T12:00:00.125Z"]
    })
);

scalar!(
    /// What `ObjectGuid::from_str` accepts, where an admin types a GUID.
    ObjectGuidInput = "objectGuidInput",
    json_schema!({
        "title": "ObjectGuid (as accepted on input)",
        "description": "What Roster's GUID parser accepts: the canonical form in any case, optionally wrapped in `{}`, optionally surrounded by white space. Used where an admin types a GUID (e.g. `LinkInput.group`); messages Roster writes always use `objectGuid`.",
        "type": "string",
        "pattern": "^\\s*(\\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\\s*$",
        "examples": ["{D4C3B2A1-F6E5-1807-293A-4B5C6D7E8F90}"]
    })
);

scalar!(
    /// A sha256 digest as Roster writes it.
    Sha256Hex = "sha256Hex",
    json_schema!({
        "title": "SHA-256 digest",
        "description": "A SHA-256 digest as 64 lower-case hex digits.",
        "type": "string",
        "pattern": "^[0-9a-f]{64}$"
    })
);

scalar!(
    /// Rust `u32`.
    Uint32 = "uint32",
    json_schema!({ "description": "Rust `u32`.", "type": "integer", "minimum": 0, "maximum": u32::MAX })
);

scalar!(
    /// Rust `u64`.
    Uint64 = "uint64",
    json_schema!({
        "description": "Rust `u64`. Values above 2^53 lose precision in JavaScript; Roster's counts stay far below it.",
        "type": "integer",
        "minimum": 0,
        "maximum": u64::MAX
    })
);

scalar!(
    /// Rust `i64`.
    Int64 = "int64",
    json_schema!({ "description": "Rust `i64`.", "type": "integer", "minimum": i64::MIN, "maximum": i64::MAX })
);

scalar!(
    /// JWT `iat`/`exp`.
    UnixTime = "unixTime",
    json_schema!({
        "description": "Seconds since the Unix epoch (Rust `i64`), as JWT `iat`/`exp` carry them.",
        "type": "integer",
        "minimum": i64::MIN,
        "maximum": i64::MAX
    })
);

scalar!(
    /// A job path as `JobScope::validate` accepts it.
    RelativePath = "relativePath",
    json_schema!({
        "title": "Relative path",
        "description": "Where a job reads, relative to the directory's base DN: `*` (the whole domain), or an RFC 4514 DN such as `OU=Copenhagen,OU=Staff` (RDNs separated by `,`, multi-valued RDNs by `+`, each `attribute=value` with an attribute of letters, digits, `-` and `.`; `\\,`, `\\+`, `\\\\` and `\\2C`-style escapes in values). White space around the path and around each part is ignored; a blank path is ignored. Escaped hex pairs must spell valid UTF-8 (else 422), which no pattern checks.",
        "type": "string",
        "pattern": "^\\s*(?:\\*|\\s*[A-Za-z0-9.-]+\\s*=(?:[^,+\\\\]|\\\\[\\s\\S])*(?:\\+\\s*[A-Za-z0-9.-]+\\s*=(?:[^,+\\\\]|\\\\[\\s\\S])*)*(?:,\\s*[A-Za-z0-9.-]+\\s*=(?:[^,+\\\\]|\\\\[\\s\\S])*(?:\\+\\s*[A-Za-z0-9.-]+\\s*=(?:[^,+\\\\]|\\\\[\\s\\S])*)*)*)?\\s*$"
    })
);

scalar!(
    /// A name the server trims and refuses when blank ([`crate::name`]).
    NonBlank = "nonBlank",
    json_schema!({
        "description": "A name: at most 200 characters as sent, with a visible character (not only white space or invisible format characters), and no control characters (C0, C1, DEL) or bidirectional overrides anywhere. The server trims it and stores it in Unicode NFC; two names are the same when they differ only in invisible characters or normalisation.",
        "type": "string",
        "maxLength": crate::name::MAX_NAME_CHARS,
        "pattern": crate::name::PATTERN
    })
);

/// The integer widths the generated schemas refer to instead of spelling out
/// a Rust integer's range: (schemars' `format`, the definition's name).
pub(crate) const INTEGER_WIDTHS: &[(&str, &str)] = &[("uint32", "uint32"), ("uint64", "uint64"), ("int64", "int64")];

/// The range of each Rust integer type by the `format` schemars gives it.
pub(crate) fn integer_range(format: &str) -> Option<(i128, i128)> {
    let range = match format {
        "uint8" => (0, i128::from(u8::MAX)),
        "uint16" => (0, i128::from(u16::MAX)),
        "uint32" => (0, i128::from(u32::MAX)),
        "uint64" | "uint" => (0, i128::from(u64::MAX)),
        "int8" => (i128::from(i8::MIN), i128::from(i8::MAX)),
        "int16" => (i128::from(i16::MIN), i128::from(i16::MAX)),
        "int32" => (i128::from(i32::MIN), i128::from(i32::MAX)),
        "int64" | "int" => (i128::from(i64::MIN), i128::from(i64::MAX)),
        _ => return None,
    };
    Some(range)
}

/// `Option<T>` for a member that is always written, `null` for none (serde
/// reads a missing `Option` as `None`, but Roster never leaves it out, so the
/// schema requires it): `#[schemars(with = "Nullable<T>")]`.
#[derive(Debug)]
pub struct Nullable<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Nullable<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        <Option<T>>::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Option<T>>::json_schema(generator)
    }
}

/// `JsonSchema` for id newtypes over `Uuid` (`#[serde(transparent)]`): each
/// is written as the common `uuid`, so `uuid_schema!(JobId, SessionId);`
/// is all an id type needs (and its fields need no `with`).
#[macro_export]
macro_rules! uuid_schema {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::schema::common::schemars::JsonSchema for $ty {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($ty))
            }

            fn json_schema(generator: &mut $crate::schema::common::schemars::SchemaGenerator) -> $crate::schema::common::schemars::Schema {
                generator.subschema_for::<$crate::schema::common::Uuid>()
            }
        }
    )*};
}

#[doc(hidden)]
pub use schemars;

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;

    #[derive(Debug)]
    struct JobId;
    crate::uuid_schema!(JobId);

    #[test]
    fn an_id_newtype_is_the_common_uuid() {
        let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
        assert_eq!(generator.subschema_for::<JobId>().to_value(), serde_json::json!({ "$ref": "#/$defs/uuid" }));
        assert!(generator.definitions().contains_key("uuid"));
        assert!(JobId::inline_schema());
    }
}
