//! The error body of every API (RFC 9457, `application/problem+json`) and
//! the one list of problem kinds a client can tell apart by `type`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Media type of [`Problem`] bodies.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An error as the APIs answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// The kind of problem, `urn:roster:problem:<kind>`: one of
    /// [`ProblemKind::uri`], each always answered with the same status.
    #[serde(rename = "type")]
    #[schemars(schema_with = "problem_type_schema")]
    pub kind: String,
    /// Short, fixed summary of the kind.
    pub title: String,
    /// The HTTP status code.
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
    /// What went wrong this time, for a person to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `type` is one of the kinds this crate lists: the schema's `enum` is [`ProblemKind::ALL`].
fn problem_type_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let kinds: Vec<&str> = ProblemKind::ALL.iter().map(|kind| kind.uri()).collect();
    schemars::json_schema!({ "type": "string", "format": "uri-reference", "enum": kinds })
}

impl Problem {
    /// The kind its `type` names, `None` for a `type` this crate does not know
    /// (a newer server, or not Roster at all).
    pub fn problem_kind(&self) -> Option<ProblemKind> {
        ProblemKind::from_uri(&self.kind)
    }
}

/// Defines [`ProblemKind`] from one table: variant, kebab-case kind.
macro_rules! problem_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $kind:literal,)*) => {
        /// Every kind of problem the APIs answer; its `type` is
        /// `urn:roster:problem:<kind>`. `proto-schemas/json/problem.schema.json`
        /// lists exactly these (it is generated from this list).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ProblemKind {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ProblemKind {
            /// Every kind, in the order of the table.
            pub const ALL: &'static [ProblemKind] = &[$(ProblemKind::$variant,)*];

            /// The kebab-case kind, e.g. `delta-base-mismatch`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ProblemKind::$variant => $kind,)*
                }
            }

            /// The problem `type`: `urn:roster:problem:<kind>`.
            pub const fn uri(self) -> &'static str {
                match self {
                    $(ProblemKind::$variant => concat!("urn:roster:problem:", $kind),)*
                }
            }
        }
    };
}

problem_kinds! {
    /// 400: the body is not well-formed (not JSON, wrong media type, unreadable).
    MalformedBody = "malformed-body",
    /// 400: the query string does not parse.
    MalformedQuery = "malformed-query",
    /// 400: a request header this API reads (`Roster-Fencing-Token`) does not parse.
    MalformedHeader = "malformed-header",
    /// 400: a `cursor` this API did not return.
    InvalidCursor = "invalid-cursor",
    /// 400: a `limit` out of its range.
    InvalidLimit = "invalid-limit",
    /// 400: a query parameter that parses but says nothing usable.
    InvalidQuery = "invalid-query",
    /// 401: missing, malformed, expired, reused or revoked credentials.
    Unauthorized = "unauthorized",
    /// 403: the caller is known but its role may not do this (a console viewer
    /// changing something, an admin managing admins), or a console form
    /// posted from another site.
    Forbidden = "forbidden",
    /// 404: no such object for this caller (another tenant's looks the same), or no such route.
    NotFound = "not-found",
    /// 405: the route does not accept that method.
    MethodNotAllowed = "method-not-allowed",
    /// 408: the request body did not arrive within the server's time limit.
    RequestTimeout = "request-timeout",
    /// 409: the address is already a console admin's (of another tenant).
    AdminEmailTaken = "admin-email-taken",
    /// 409: removing or demoting the tenant's last owner.
    LastOwner = "last-owner",
    /// 409: a job of that name exists in the tenant.
    JobNameTaken = "job-name-taken",
    /// 409: `DELETE /api/v1/jobs/{job}` of a job that still has active users.
    JobHasActiveUsers = "job-has-active-users",
    /// 409: a rename to a name another access of the same kind has.
    AccessNameTaken = "access-name-taken",
    /// 409: `DELETE /api/v1/accesses/{access}` of an access a link grants or a user holds.
    AccessInUse = "access-in-use",
    /// 409: `POST /agent/v1/commands/{id}/result` of a command whose result
    /// was recorded before: the first result stands.
    CommandAlreadyReported = "command-already-reported",
    /// 409: the job has no committed snapshot (no directory state) yet.
    NoDirectoryState = "no-directory-state",
    /// 409: the session is not held, so it cannot be approved or rejected.
    SessionNotHeld = "session-not-held",
    /// 409: the session's snapshot is not committed.
    SnapshotNotCommitted = "snapshot-not-committed",
    /// 409: the job's scope does not resolve against the snapshot's base DN.
    ScopeUnresolvable = "scope-unresolvable",
    /// 409: a snapshot with this id was offered before with a different manifest.
    ManifestConflict = "manifest-conflict",
    /// 409: the job already has as many unfinished snapshots as allowed.
    TooManyPendingSnapshots = "too-many-pending-snapshots",
    /// 409: the job's other unfinished snapshots hold too much of its storage
    /// quota for this one beside them; commit them or wait until they expire.
    StorageQuotaInUse = "storage-quota-in-use",
    /// 409: a commit while chunks are still missing.
    ChunksMissing = "chunks-missing",
    /// 409: an offer, chunk or commit from an agent that does not hold the
    /// job's lease, or with a fencing token older than the lease's newest
    /// grant: another agent took over. Ask for the lease again
    /// (`POST /agent/v1/lease`) and stand by if it is another's.
    Fenced = "fenced",
    /// 409: the agent's key changed while its rotation was checked (another
    /// rotation came first); the rotation changed nothing.
    KeyChanged = "key-changed",
    /// 409: a delta that does not build on the watermark the server holds, or
    /// while a full snapshot is required; send a full snapshot.
    DeltaBaseMismatch = "delta-base-mismatch",
    /// 413: the request body is over this server's limit.
    BodyTooLarge = "body-too-large",
    /// 413: the snapshot has more chunks or records than this server accepts.
    SnapshotTooLarge = "snapshot-too-large",
    /// 413: the snapshot's chunks are more bytes than a job's storage quota
    /// for unfinished snapshots.
    SnapshotOverQuota = "snapshot-over-quota",
    /// 422: the body is JSON but not the message the route takes.
    InvalidBody = "invalid-body",
    /// 422: a console admin's address, role or new password is refused.
    InvalidAdmin = "invalid-admin",
    /// 422: a job's fields are refused (name, scope, schedule, interval).
    InvalidJob = "invalid-job",
    /// 422: a safeguard policy is refused.
    InvalidPolicy = "invalid-policy",
    /// 422: links name a malformed group or an access the tenant lacks.
    InvalidLinks = "invalid-links",
    /// 422: an access is refused.
    InvalidAccess = "invalid-access",
    /// 422: tenant settings are refused.
    InvalidSettings = "invalid-settings",
    /// 422: an admin token that cannot be issued as asked (label, expiry).
    InvalidAdminToken = "invalid-admin-token",
    /// 422: a public key that is not a base64 Ed25519 key, or the current key.
    InvalidPublicKey = "invalid-public-key",
    /// 422: a manifest this server cannot take (version, chunk list).
    InvalidManifest = "invalid-manifest",
    /// 422: a chunk whose size or sha256 is not the manifest's.
    ChunkMismatch = "chunk-mismatch",
    /// 422: committed chunks that do not decode or count as the manifest says.
    InvalidSnapshot = "invalid-snapshot",
    /// 429: the request rate is spent; see `Retry-After`.
    RateLimited = "rate-limited",
    /// 500: the server failed; the detail says nothing more.
    Internal = "internal",
    /// 503: the database is out of reach for now; see `Retry-After`.
    Unavailable = "unavailable",
}

impl ProblemKind {
    /// The kind a problem `type` names.
    pub fn from_uri(uri: &str) -> Option<ProblemKind> {
        ProblemKind::ALL.iter().copied().find(|kind| kind.uri() == uri)
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct_kebab_case_urns() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in ProblemKind::ALL {
            assert!(seen.insert(kind.name()), "{kind} twice");
            assert!(kind.name().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{kind}");
            assert_eq!(kind.uri(), format!("urn:roster:problem:{}", kind.name()));
            assert_eq!(ProblemKind::from_uri(kind.uri()), Some(*kind));
        }
        assert_eq!(ProblemKind::DeltaBaseMismatch.uri(), "urn:roster:problem:delta-base-mismatch");
        assert_eq!(ProblemKind::from_uri("about:blank"), None);
    }
}
