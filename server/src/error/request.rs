//! Causes of refusals about the request itself rather than any domain:
//! what is not there, a body or query the server cannot read, and limits.

/// What a caller asked for that is not there. Also said of another
/// tenant's objects, so their existence is not leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Route,
    Job,
    Session,
    User,
    /// An AD user the job's directory state does not hold (explain).
    UserInState,
    Snapshot,
    Chunk,
    Agent,
    AdminToken,
    Access,
    /// A command delivered to the calling agent.
    Command,
    /// A console admin of the tenant.
    Admin,
    Tenant,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Missing::Route => "route",
            Missing::Job => "job",
            Missing::Session => "session",
            Missing::User => "user",
            Missing::UserInState => "user in the job's directory state",
            Missing::Snapshot => "snapshot",
            Missing::Chunk => "chunk",
            Missing::Agent => "agent",
            Missing::Access => "access",
            Missing::AdminToken => "admin token",
            Missing::Command => "command",
            Missing::Admin => "admin",
            Missing::Tenant => "tenant",
        })
    }
}

/// A request body, query string or parameter the server cannot use.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The framework could not read the body (not JSON, wrong media type);
    /// its own explanation.
    #[error("{0}")]
    MalformedBody(String),
    /// The query string does not parse; the framework's explanation.
    #[error("{0}")]
    MalformedQuery(String),
    /// A header the route reads does not parse.
    #[error("the {name} header must be {expected}")]
    MalformedHeader { name: &'static str, expected: &'static str },
    /// JSON that is not the message the route takes; serde's explanation.
    #[error("{0}")]
    InvalidBody(String),
    /// An optional body (approve, reject, start an import) that is not
    /// JSON, naming the message the route takes (a JSON value that does
    /// not fit it is an `InvalidBody`).
    #[error("body is not a {expected}: {source}")]
    NotJson { expected: &'static str, source: serde_json::Error },
    /// A JSON body over `Limits::max_json_body_bytes`; the framework's words.
    #[error("the request body is larger than this server accepts ({0})")]
    JsonBodyTooLarge(String),
    /// A chunk body over the chunk limit.
    #[error("a chunk may be at most {max} bytes")]
    ChunkTooLarge { max: usize },
    /// Any other body over its limit.
    #[error("the request body is larger than this server accepts")]
    BodyTooLarge,
    /// The body did not arrive whole within `Limits::body_read_timeout_ms`.
    #[error("the request body did not arrive within {} ms", .0.as_millis())]
    BodyTimeout(std::time::Duration),
    #[error("cursor is not one this API returned")]
    Cursor,
    #[error("limit must be between {min} and {max}, got {given}")]
    Limit { given: u32, min: u32, max: u32 },
    /// Explain's `user` parameter is blank.
    #[error("user must be a sAMAccountName, an objectGUID or a DN")]
    ExplainUser,
}

/// A bound of `settings::Limits` or of a rate the request would exceed.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The tenant's (or, for registration, the client address's) request
    /// rate is spent.
    #[error("too many requests: retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the snapshot has {chunks} chunks; this server accepts at most {max}")]
    SnapshotChunks { chunks: usize, max: usize },
    #[error("the snapshot holds {records} records; this server accepts at most {max}")]
    SnapshotRecords { records: u64, max: u64 },
    #[error("the job already has {pending} unfinished snapshots (at most {max}): commit one, or wait until unfinished ones expire")]
    PendingSnapshots { pending: u64, max: u64 },
    /// One snapshot larger than a job's whole storage quota: it can never be taken.
    #[error("the snapshot's chunks are {bytes} bytes; a job's unfinished snapshots may hold at most {max}")]
    SnapshotOverQuota { bytes: u64, max: u64 },
    /// A snapshot that fits the quota, but not beside the job's other unfinished ones.
    #[error(
        "the snapshot's chunks are {bytes} bytes, and the job's other unfinished snapshots hold {used} of at most {max}: commit them, or wait until they expire"
    )]
    QuotaInUse { bytes: u64, used: u64, max: u64 },
}

impl LimitError {
    /// A rate limiter's answer (`Err(seconds to wait)`) as a refusal.
    pub fn rate(retry_after_secs: u64) -> LimitError {
        LimitError::RateLimited { retry_after_secs }
    }
}
