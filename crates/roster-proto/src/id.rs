//! Typed ids: one type per kind of object, so a job id cannot be passed
//! where a tenant id is expected. On the wire each is the bare UUID
//! (lower-case, hyphenated), exactly as before.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A text that is not an id of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} id: {source}")]
pub struct IdError {
    /// Which id, e.g. `job`.
    pub kind: &'static str,
    #[source]
    pub source: uuid::Error,
}

/// Defines one id type over [`Uuid`]; `$new` is how a fresh one is made.
macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $new:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id of this kind.
            #[allow(clippy::new_without_default)] // a default id would be a made-up one
            pub fn new() -> $name {
                $name($new)
            }

            /// The UUID, for the store and the signed tokens that hold it bare.
            pub fn as_uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> $name {
                $name(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<$name, IdError> {
                text.parse().map($name).map_err(|source| IdError { kind: $kind, source })
            }
        }
    };
}

id!(
    /// A tenant: one customer of the service.
    TenantId, "tenant", Uuid::new_v4()
);
id!(
    /// An import job. Time-ordered, so jobs made in the same millisecond still list in order.
    JobId, "job", Uuid::now_v7()
);
id!(
    /// An import session.
    SessionId, "session", Uuid::new_v4()
);
id!(
    /// A registered agent; the `iss` of every token it signs.
    AgentId, "agent", Uuid::new_v4()
);
id!(
    /// A right in a tenant's access catalogue.
    AccessId, "access", Uuid::new_v4()
);
id!(
    /// A user of the booking service. Time-ordered, so inserts append to the id index.
    UserId, "user", Uuid::now_v7()
);
id!(
    /// A tenant's admin token, named without its value (listing, revoking).
    AdminTokenId, "admin token", Uuid::new_v4()
);
id!(
    /// A snapshot; the agent chooses it when it reads.
    SnapshotId, "snapshot", Uuid::new_v4()
);
id!(
    /// A command the server gives an agent. Time-ordered, so a job's commands are delivered in the order issued.
    CommandId, "command", Uuid::now_v7()
);
id!(
    /// A person who signs in to a tenant's admin console.
    ConsoleAdminId, "admin", Uuid::new_v4()
);
id!(
    /// An entry of a tenant's audit log. Time-ordered, so entries list in the order written.
    AuditEntryId, "audit entry", Uuid::now_v7()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_the_bare_uuid() {
        let uuid: Uuid = "0191e3f4-7c1a-7d2e-8f00-00000000abcd".parse().unwrap();
        let id = JobId::from(uuid);
        assert_eq!(serde_json::to_string(&id).unwrap(), serde_json::to_string(&uuid).unwrap());
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(serde_json::from_str::<JobId>("\"0191e3f4-7c1a-7d2e-8f00-00000000abcd\"").unwrap(), id);
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
    }

    #[test]
    fn a_malformed_id_names_its_kind() {
        let error = "nope".parse::<SessionId>().unwrap_err();
        assert_eq!(error.kind, "session");
        assert!(error.to_string().starts_with("malformed session id: "), "{error}");
    }

    #[test]
    fn fresh_ids_keep_their_version() {
        assert_eq!(JobId::new().as_uuid().get_version_num(), 7);
        assert_eq!(UserId::new().as_uuid().get_version_num(), 7);
        assert_eq!(TenantId::new().as_uuid().get_version_num(), 4);
        assert_eq!(SnapshotId::new().as_uuid().get_version_num(), 4);
    }
}

// On the wire every id is the bare UUID: its schema is the common `uuid`.
crate::uuid_schema!(
    TenantId,
    JobId,
    SessionId,
    AgentId,
    AccessId,
    UserId,
    SnapshotId,
    AdminTokenId,
    CommandId,
    ConsoleAdminId,
    AuditEntryId
);
