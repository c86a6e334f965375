//! The agent's one error type: the [`Stage`] that failed and the [`Cause`],
//! so every failure an admin sees says where it happened ("bind failed:
//! ... data 52e") before saying why.

use std::fmt;
use std::path::PathBuf;

use roster_proto::scope::ScopeError;
use roster_snapshot::chunk::ChunkError;
use roster_snapshot::keys::KeyError;
use roster_snapshot::token::TokenError;

use crate::chain::chain;
use crate::config::ConfigError;
use crate::http::HttpError;

/// Where in the agent's work a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading settings, the state directory or the agent's identity.
    Config,
    /// Opening the LDAP connection (TCP, TLS, StartTLS).
    Connect,
    /// The LDAP simple bind.
    Bind,
    /// Reading the rootDSE and the domain object.
    RootDse,
    SearchUsers,
    SearchGroups,
    SearchOus,
    /// Searching tombstones (delta reads).
    SearchDeleted,
    /// Writing chunks to the spool directory.
    Spool,
    Register,
    /// Replacing the agent's key (`rotate-key`).
    RotateKey,
    FetchJob,
    /// Asking for the job's lease (only its holder pushes).
    Lease,
    /// Offering the manifest and uploading chunks.
    Upload,
    Commit,
    WaitForImport,
    /// Polling the server for commands (`run`).
    Commands,
    /// Reporting a command's result (`run`).
    Report,
    /// Sending a heartbeat (`run`).
    Heartbeat,
    /// Watching the DC for changes (`run`, continuous sync).
    Watch,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Config => "config",
            Stage::Connect => "connect",
            Stage::Bind => "bind",
            Stage::RootDse => "rootdse",
            Stage::SearchUsers => "search users",
            Stage::SearchGroups => "search groups",
            Stage::SearchOus => "search ous",
            Stage::SearchDeleted => "search deleted",
            Stage::Spool => "spool",
            Stage::Register => "register",
            Stage::RotateKey => "rotate key",
            Stage::FetchJob => "fetch job",
            Stage::Lease => "claim the job's lease",
            Stage::Upload => "upload",
            Stage::Commit => "commit",
            Stage::WaitForImport => "wait for import",
            Stage::Commands => "poll for commands",
            Stage::Report => "report a command result",
            Stage::Heartbeat => "heartbeat",
            Stage::Watch => "watch the directory",
        }
    }

    /// An error of this stage.
    pub fn err(self, cause: impl Into<Cause>) -> AgentError {
        AgentError { stage: self, cause: Box::new(cause.into()) }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of the agent. Its `Display` is the whole story for an admin:
/// `<stage> failed: <cause>`; it never contains a secret.
#[derive(Debug, thiserror::Error)]
#[error("{stage} failed: {cause}")]
pub struct AgentError {
    /// Which step failed, for the message and for tests.
    pub stage: Stage,
    /// Why it failed. Not a `#[source]`: the message already includes it,
    /// and printing the chain would repeat it. Boxed to keep `Result`s small.
    pub cause: Box<Cause>,
}

impl AgentError {
    /// True when the server refused the stage's request with problem `kind`.
    pub fn is(&self, kind: roster_proto::problem::ProblemKind) -> bool {
        matches!(self.cause.as_ref(), Cause::Http(http) if http.is(kind))
    }
}

/// Why a stage failed.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The directory answered with an error result (bad password, no such
    /// object, ...). `text` is AD's diagnostic, e.g. `... data 52e ...`.
    #[error("LDAP result {rc} ({name}): {text}")]
    LdapResult { rc: u32, name: &'static str, text: String },
    /// The LDAP connection or protocol failed.
    #[error("{}", chain(.0.as_ref()))]
    Ldap(Box<ldap3::LdapError>),
    #[error("could not set up TLS: {0}")]
    Tls(rustls::Error),
    /// An entry the directory returned cannot be turned into a record.
    #[error("entry `{dn}`: {reason}")]
    Record { dn: String, reason: String },
    #[error("{what} `{}`: {source}", .path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    #[error("job scope: {0}")]
    Scope(#[from] ScopeError),
    /// Anything else, already worded for the admin.
    #[error("{0}")]
    Message(String),
}

impl Cause {
    /// An I/O failure on `path`, e.g. `Cause::io("cannot write", path, e)`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Cause {
        Cause::Io { what, path: path.into(), source }
    }
}

impl From<ldap3::LdapError> for Cause {
    fn from(error: ldap3::LdapError) -> Cause {
        match error {
            ldap3::LdapError::LdapResult { result } => Cause::from(result),
            ldap3::LdapError::EndOfStream => Cause::Message(
                "the connection to the directory ended in the middle of the operation (premature end of search stream)".to_owned(),
            ),
            other => Cause::Ldap(Box::new(other)),
        }
    }
}

impl From<ldap3::LdapResult> for Cause {
    fn from(result: ldap3::LdapResult) -> Cause {
        Cause::LdapResult { rc: result.rc, name: result_code_name(result.rc), text: result.text.trim_end_matches('\0').trim().to_owned() }
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Cause {
        Cause::Message(message)
    }
}

/// RFC 4511's names for the result codes an agent may meet.
fn result_code_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_stage_first() {
        let result = ldap3::LdapResult {
            rc: 49,
            matched: String::new(),
            text: "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1\0".into(),
            refs: vec![],
            ctrls: vec![],
        };
        let error = Stage::Bind.err(ldap3::LdapError::LdapResult { result });
        assert_eq!(
            error.to_string(),
            "bind failed: LDAP result 49 (invalidCredentials): 80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1"
        );
        assert_eq!(Stage::WaitForImport.err("still running".to_owned()).to_string(), "wait for import failed: still running");
    }
}
