//! The one place where errors become HTTP answers. Every handler returns
//! [`AppError`], whose variants are causes (per area, in the submodules,
//! plus the ingest, import and store errors); [`AppError::problem`] is the
//! single mapping of each cause to a status and a [`ProblemKind`], and
//! `IntoResponse` writes `application/problem+json`. Client errors keep
//! their message as `detail`; 401, 500 and 503 answer a generic one. The
//! conversion logs nothing: it attaches an [`ErrorCause`] to the response,
//! which the request-logging middleware (`http::log_request`) logs.

mod admin;
mod agent;
mod auth;
mod console;
mod request;

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_proto::problem::{CONTENT_TYPE, Problem, ProblemKind};

pub use self::admin::{AccessError, AdminTokenError, JobError, LinkProblem, LinksError, PolicyError, SessionError, SettingsError};
pub use self::agent::{AgentKeyError, CommandError, UploadError};
pub use self::auth::{AuthError, Denied};
pub use self::console::ConsoleError;
pub use self::request::{LimitError, Missing, RequestError};
use crate::import::ImportError;
use crate::ingest::IngestError;
use crate::store::StoreError;

/// An error a handler can return: why the request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(Missing),
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    #[error("unauthorized: {0}")]
    Auth(#[from] AuthError),
    #[error("forbidden: {0}")]
    Denied(#[from] Denied),
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Links(#[from] LinksError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    AdminToken(#[from] AdminTokenError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    AgentKey(#[from] AgentKeyError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Command(#[from] CommandError),
    /// An upload from an agent that does not hold its job's lease.
    #[error(transparent)]
    Fenced(#[from] crate::lease::Fenced),
    /// A snapshot that cannot be committed, or a delta refused at offer.
    #[error(transparent)]
    Ingest(IngestError),
    /// A plan that cannot be made from the job's state.
    #[error(transparent)]
    Import(ImportError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A password could not be hashed or a stored hash read.
    #[error(transparent)]
    PasswordHash(#[from] crate::service::passwords::HashError),
    /// A console page that could not be rendered.
    #[error("rendering a console page: {0}")]
    Template(String),
    /// Work moved off the async workers did not finish (it panicked).
    #[error("blocking work: {0}")]
    Blocking(#[from] tokio::task::JoinError),
}

impl AppError {
    /// The one mapping: each cause's status and problem kind.
    pub fn problem(&self) -> (StatusCode, ProblemKind) {
        use ProblemKind as K;
        use StatusCode as S;
        match self {
            AppError::NotFound(_) | AppError::Import(ImportError::JobGone) | AppError::Ingest(IngestError::JobGone) => {
                (S::NOT_FOUND, K::NotFound)
            }
            AppError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, K::MethodNotAllowed),
            AppError::Auth(_) => (S::UNAUTHORIZED, K::Unauthorized),
            AppError::Denied(_) => (S::FORBIDDEN, K::Forbidden),
            AppError::Console(ConsoleError::WrongCredentials | ConsoleError::SetupLink) => (S::UNAUTHORIZED, K::Unauthorized),
            AppError::Console(ConsoleError::EmailTaken(_)) => (S::CONFLICT, K::AdminEmailTaken),
            AppError::Console(ConsoleError::LastOwner(_)) => (S::CONFLICT, K::LastOwner),
            AppError::Console(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidAdmin),
            AppError::Request(RequestError::MalformedBody(_)) => (S::BAD_REQUEST, K::MalformedBody),
            AppError::Request(RequestError::MalformedQuery(_)) => (S::BAD_REQUEST, K::MalformedQuery),
            AppError::Request(RequestError::MalformedHeader { .. }) => (S::BAD_REQUEST, K::MalformedHeader),
            AppError::Request(RequestError::Cursor) => (S::BAD_REQUEST, K::InvalidCursor),
            AppError::Request(RequestError::BodyTimeout(_)) => (S::REQUEST_TIMEOUT, K::RequestTimeout),
            AppError::Request(RequestError::Limit { .. }) => (S::BAD_REQUEST, K::InvalidLimit),
            AppError::Request(RequestError::ExplainUser) => (S::BAD_REQUEST, K::InvalidQuery),
            AppError::Request(RequestError::InvalidBody(_) | RequestError::NotJson { .. }) => (S::UNPROCESSABLE_ENTITY, K::InvalidBody),
            AppError::Request(RequestError::JsonBodyTooLarge(_) | RequestError::ChunkTooLarge { .. } | RequestError::BodyTooLarge) => {
                (S::PAYLOAD_TOO_LARGE, K::BodyTooLarge)
            }
            AppError::Limit(LimitError::RateLimited { .. }) => (S::TOO_MANY_REQUESTS, K::RateLimited),
            AppError::Limit(LimitError::SnapshotChunks { .. } | LimitError::SnapshotRecords { .. }) => {
                (S::PAYLOAD_TOO_LARGE, K::SnapshotTooLarge)
            }
            AppError::Limit(LimitError::PendingSnapshots { .. }) => (S::CONFLICT, K::TooManyPendingSnapshots),
            AppError::Limit(LimitError::SnapshotOverQuota { .. }) => (S::PAYLOAD_TOO_LARGE, K::SnapshotOverQuota),
            AppError::Limit(LimitError::QuotaInUse { .. }) => (S::CONFLICT, K::StorageQuotaInUse),
            AppError::Job(JobError::NameTaken(_)) => (S::CONFLICT, K::JobNameTaken),
            AppError::Job(JobError::HasActiveUsers(_)) => (S::CONFLICT, K::JobHasActiveUsers),
            AppError::Access(AccessError::NameTaken { .. }) => (S::CONFLICT, K::AccessNameTaken),
            AppError::Access(AccessError::InUse { .. }) => (S::CONFLICT, K::AccessInUse),
            AppError::Job(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidJob),
            AppError::Policy(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidPolicy),
            AppError::Links(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidLinks),
            AppError::Access(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidAccess),
            AppError::Settings(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidSettings),
            AppError::AdminToken(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidAdminToken),
            AppError::Session(SessionError::NotHeld { .. }) => (S::CONFLICT, K::SessionNotHeld),
            AppError::Session(SessionError::NoSnapshot | SessionError::NoDirectoryState) | AppError::Import(ImportError::NoState) => {
                (S::CONFLICT, K::NoDirectoryState)
            }
            AppError::Import(ImportError::SnapshotNotCommitted(_)) => (S::CONFLICT, K::SnapshotNotCommitted),
            AppError::Import(ImportError::Scope { .. }) => (S::CONFLICT, K::ScopeUnresolvable),
            AppError::AgentKey(AgentKeyError::Changed) => (S::CONFLICT, K::KeyChanged),
            AppError::Command(CommandError::AlreadyReported(_)) => (S::CONFLICT, K::CommandAlreadyReported),
            AppError::AgentKey(_) => (S::UNPROCESSABLE_ENTITY, K::InvalidPublicKey),
            AppError::Upload(
                UploadError::Version(_) | UploadError::ChunkIndex { .. } | UploadError::ChunkSize { .. } | UploadError::ChunkSha256 { .. },
            ) => (S::UNPROCESSABLE_ENTITY, K::InvalidManifest),
            AppError::Upload(UploadError::ManifestDiffers(_)) => (S::CONFLICT, K::ManifestConflict),
            AppError::Upload(
                UploadError::BodySize { .. }
                | UploadError::BodyHash { .. }
                | UploadError::InlineUnknown { .. }
                | UploadError::InlineTwice { .. }
                | UploadError::InlineEncoding { .. }
                | UploadError::InlineTooLarge { .. },
            ) => (S::UNPROCESSABLE_ENTITY, K::ChunkMismatch),
            AppError::Upload(UploadError::ChunksMissing(_)) | AppError::Ingest(IngestError::MissingChunk(_)) => {
                (S::CONFLICT, K::ChunksMissing)
            }
            AppError::Ingest(IngestError::BaseMismatch(_)) => (S::CONFLICT, K::DeltaBaseMismatch),
            AppError::Fenced(_) | AppError::Ingest(IngestError::Fenced(_)) => (S::CONFLICT, K::Fenced),
            AppError::Upload(UploadError::Failed(_)) => (S::UNPROCESSABLE_ENTITY, K::InvalidSnapshot),
            AppError::Ingest(
                IngestError::Chunk { .. }
                | IngestError::ChunkRecords { .. }
                | IngestError::Counts { .. }
                | IngestError::DeletionInFull
                | IngestError::OrphanMembers(_)
                | IngestError::Scope(_),
            ) => (S::UNPROCESSABLE_ENTITY, K::InvalidSnapshot),
            AppError::Store(StoreError::Sql(e))
            | AppError::Ingest(IngestError::Store(StoreError::Sql(e)))
            | AppError::Import(ImportError::Store(StoreError::Sql(e)))
                if database_unavailable(e) =>
            {
                (S::SERVICE_UNAVAILABLE, K::Unavailable)
            }
            AppError::Import(ImportError::Interrupted) => (S::SERVICE_UNAVAILABLE, K::Unavailable),
            AppError::Store(_)
            | AppError::Ingest(IngestError::Store(_))
            | AppError::Import(ImportError::Store(_) | ImportError::UsersKeptChanging(_))
            | AppError::PasswordHash(_)
            | AppError::Template(_)
            | AppError::Blocking(_) => (S::INTERNAL_SERVER_ERROR, K::Internal),
        }
    }
}

impl From<crate::store::leases::FenceCheck> for AppError {
    fn from(error: crate::store::leases::FenceCheck) -> Self {
        match error {
            crate::store::leases::FenceCheck::Fenced(fenced) => AppError::Fenced(fenced),
            crate::store::leases::FenceCheck::Store(error) => AppError::Store(error),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> AppError {
        AppError::Store(StoreError::Sql(error))
    }
}

impl From<IngestError> for AppError {
    fn from(error: IngestError) -> AppError {
        match error {
            IngestError::Store(e) => AppError::Store(e),
            other => AppError::Ingest(other),
        }
    }
}

impl From<ImportError> for AppError {
    fn from(error: ImportError) -> AppError {
        match error {
            ImportError::Store(e) => AppError::Store(e),
            ImportError::JobGone => AppError::NotFound(Missing::Job),
            ImportError::NoState => AppError::Session(SessionError::NoDirectoryState),
            other => AppError::Import(other),
        }
    }
}

/// True for errors that say the database is out of reach for now, so the
/// client should retry later (503), rather than that the request failed.
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(e) => {
            if let Some(pg) = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // Connection exceptions (08), operator intervention — shutdown,
                // cannot connect now (57P) —, insufficient resources (53), and
                // 55000, which a database refusing connections answers.
                let code = pg.code();
                code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") || code == "55000"
            } else if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Busy (5) and locked (6), with their extended codes.
                e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Why a request failed, attached to its error response for the
/// request-logging middleware: the problem kind, the level to log at and
/// the full cause (which a 401, 500 or 503 does not show the client).
/// Causes name ids and reasons, never a secret; a cause that may quote the
/// request's own bytes is logged by its kind alone.
#[derive(Debug, Clone)]
pub struct ErrorCause {
    pub kind: ProblemKind,
    pub level: tracing::Level,
    pub cause: Arc<str>,
}

impl AppError {
    /// What the client is told: the cause for a client error; a generic
    /// sentence for 401 (which credential failed is not said), 500 and 503.
    /// A console sign-in or set-up link says what to do, not which part failed.
    pub fn detail(&self) -> String {
        match (self, self.problem().1) {
            (AppError::Console(console), _) => console.to_string(),
            (_, ProblemKind::Unauthorized) => "missing, invalid, expired or revoked credentials".to_owned(),
            (_, ProblemKind::Unavailable) => "the service is temporarily unavailable; retry later".to_owned(),
            (_, ProblemKind::Internal) => "internal error".to_owned(),
            _ => self.to_string(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, kind) = self.problem();
        let detail = self.detail();
        let level = match kind {
            ProblemKind::Internal => tracing::Level::ERROR,
            ProblemKind::Unavailable => tracing::Level::WARN,
            _ => tracing::Level::INFO,
        };
        let mut response = problem_response(status, kind, detail);
        let headers = response.headers_mut();
        match &self {
            _ if kind == ProblemKind::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ if kind == ProblemKind::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::Limit(LimitError::RateLimited { retry_after_secs }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        let cause = match &self {
            // The framework's and serde's words may quote what the client
            // sent, such as a registration token in a mistyped body.
            AppError::Request(
                RequestError::MalformedBody(_)
                | RequestError::MalformedQuery(_)
                | RequestError::InvalidBody(_)
                | RequestError::NotJson { .. }
                | RequestError::JsonBodyTooLarge(_),
            ) => format!("{kind} (not logged: it may quote the request)"),
            other => other.to_string(),
        };
        response.extensions_mut().insert(ErrorCause { kind, level, cause: cause.into() });
        response
    }
}

/// A problem+json response of `kind`.
fn problem_response(status: StatusCode, kind: ProblemKind, detail: String) -> Response {
    let body = Problem {
        kind: kind.uri().to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: Some(detail),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], bytes).into_response()
}

#[cfg(test)]
mod tests {
    use roster_proto::admin::SessionStatus;
    use roster_proto::manifest::RecordCounts;
    use uuid::Uuid;

    use super::*;
    use crate::ingest::DeltaRefusal;

    fn check(error: AppError, status: StatusCode, kind: ProblemKind) {
        assert_eq!(error.problem(), (status, kind), "{error:?}");
    }

    #[test]
    fn each_cause_has_its_status_and_kind() {
        use ProblemKind as K;
        use StatusCode as S;
        let cases: Vec<(AppError, S, K)> = vec![
            (AppError::NotFound(Missing::Job), S::NOT_FOUND, K::NotFound),
            (ImportError::JobGone.into(), S::NOT_FOUND, K::NotFound),
            (AppError::MethodNotAllowed, S::METHOD_NOT_ALLOWED, K::MethodNotAllowed),
            (AuthError::UnknownAdminToken.into(), S::UNAUTHORIZED, K::Unauthorized),
            (AuthError::ExpiredAdminToken(Uuid::nil().into()).into(), S::UNAUTHORIZED, K::Unauthorized),
            (AuthError::Revoked(Uuid::nil().into()).into(), S::UNAUTHORIZED, K::Unauthorized),
            (RequestError::MalformedBody("x".into()).into(), S::BAD_REQUEST, K::MalformedBody),
            (RequestError::MalformedQuery("x".into()).into(), S::BAD_REQUEST, K::MalformedQuery),
            (RequestError::Cursor.into(), S::BAD_REQUEST, K::InvalidCursor),
            (RequestError::BodyTimeout(std::time::Duration::from_secs(1)).into(), S::REQUEST_TIMEOUT, K::RequestTimeout),
            (RequestError::Limit { given: 0, min: 1, max: 10 }.into(), S::BAD_REQUEST, K::InvalidLimit),
            (RequestError::ExplainUser.into(), S::BAD_REQUEST, K::InvalidQuery),
            (RequestError::InvalidBody("x".into()).into(), S::UNPROCESSABLE_ENTITY, K::InvalidBody),
            (RequestError::BodyTooLarge.into(), S::PAYLOAD_TOO_LARGE, K::BodyTooLarge),
            (RequestError::ChunkTooLarge { max: 1 }.into(), S::PAYLOAD_TOO_LARGE, K::BodyTooLarge),
            (LimitError::rate(3).into(), S::TOO_MANY_REQUESTS, K::RateLimited),
            (LimitError::SnapshotChunks { chunks: 2, max: 1 }.into(), S::PAYLOAD_TOO_LARGE, K::SnapshotTooLarge),
            (LimitError::SnapshotRecords { records: 2, max: 1 }.into(), S::PAYLOAD_TOO_LARGE, K::SnapshotTooLarge),
            (LimitError::PendingSnapshots { pending: 4, max: 4 }.into(), S::CONFLICT, K::TooManyPendingSnapshots),
            (JobError::EmptyName.into(), S::UNPROCESSABLE_ENTITY, K::InvalidJob),
            (JobError::FullSyncInterval(0).into(), S::UNPROCESSABLE_ENTITY, K::InvalidJob),
            (JobError::NameTaken("corp".into()).into(), S::CONFLICT, K::JobNameTaken),
            (PolicyError::Percent { budget: "max_lost_basic", percent: 101 }.into(), S::UNPROCESSABLE_ENTITY, K::InvalidPolicy),
            (LinksError(vec![]).into(), S::UNPROCESSABLE_ENTITY, K::InvalidLinks),
            (AccessError::EmptyName.into(), S::UNPROCESSABLE_ENTITY, K::InvalidAccess),
            (SettingsError::SessionRetentionZero.into(), S::UNPROCESSABLE_ENTITY, K::InvalidSettings),
            (AdminTokenError::ExpiresInDays(0).into(), S::UNPROCESSABLE_ENTITY, K::InvalidAdminToken),
            (SessionError::NotHeld { id: Uuid::nil().into(), status: SessionStatus::Rejected }.into(), S::CONFLICT, K::SessionNotHeld),
            (SessionError::NoSnapshot.into(), S::CONFLICT, K::NoDirectoryState),
            (ImportError::NoState.into(), S::CONFLICT, K::NoDirectoryState),
            (ImportError::SnapshotNotCommitted(Uuid::nil().into()).into(), S::CONFLICT, K::SnapshotNotCommitted),
            (AgentKeyError::Unchanged.into(), S::UNPROCESSABLE_ENTITY, K::InvalidPublicKey),
            (AgentKeyError::Invalid(roster_snapshot::keys::KeyError::WeakPublicKey).into(), S::UNPROCESSABLE_ENTITY, K::InvalidPublicKey),
            (AgentKeyError::Proof(roster_snapshot::token::TokenError::Invalid("x")).into(), S::UNPROCESSABLE_ENTITY, K::InvalidPublicKey),
            (AgentKeyError::ProofReplayed(Uuid::nil()).into(), S::UNPROCESSABLE_ENTITY, K::InvalidPublicKey),
            (AgentKeyError::Changed.into(), S::CONFLICT, K::KeyChanged),
            (
                AuthError::StoredKey { agent: Uuid::nil().into(), source: roster_snapshot::keys::KeyError::WeakPublicKey }.into(),
                S::UNAUTHORIZED,
                K::Unauthorized,
            ),
            (JobError::HasActiveUsers(3).into(), S::CONFLICT, K::JobHasActiveUsers),
            (AccessError::NameTaken { kind: "vip", name: "VIP".into() }.into(), S::CONFLICT, K::AccessNameTaken),
            (AccessError::InUse { links: 1, users: 0 }.into(), S::CONFLICT, K::AccessInUse),
            (AccessError::EmptyName.into(), S::UNPROCESSABLE_ENTITY, K::InvalidAccess),
            (UploadError::Version(9).into(), S::UNPROCESSABLE_ENTITY, K::InvalidManifest),
            (UploadError::ChunkSha256 { position: 0 }.into(), S::UNPROCESSABLE_ENTITY, K::InvalidManifest),
            (UploadError::ManifestDiffers(Uuid::nil().into()).into(), S::CONFLICT, K::ManifestConflict),
            (UploadError::BodySize { index: 0, actual: 1, expected: 2 }.into(), S::UNPROCESSABLE_ENTITY, K::ChunkMismatch),
            (UploadError::InlineTwice { index: 0 }.into(), S::UNPROCESSABLE_ENTITY, K::ChunkMismatch),
            (UploadError::InlineTooLarge { bytes: 70_000 }.into(), S::UNPROCESSABLE_ENTITY, K::ChunkMismatch),
            (UploadError::ChunksMissing(vec![1]).into(), S::CONFLICT, K::ChunksMissing),
            (IngestError::MissingChunk(1).into(), S::CONFLICT, K::ChunksMissing),
            (IngestError::BaseMismatch(DeltaRefusal::NoBase).into(), S::CONFLICT, K::DeltaBaseMismatch),
            (IngestError::DeletionInFull.into(), S::UNPROCESSABLE_ENTITY, K::InvalidSnapshot),
            (
                IngestError::Counts { actual: RecordCounts::default(), expected: RecordCounts::default() }.into(),
                S::UNPROCESSABLE_ENTITY,
                K::InvalidSnapshot,
            ),
            (sqlx::Error::PoolTimedOut.into(), S::SERVICE_UNAVAILABLE, K::Unavailable),
            (IngestError::Store(StoreError::Sql(sqlx::Error::PoolClosed)).into(), S::SERVICE_UNAVAILABLE, K::Unavailable),
            (ImportError::Store(StoreError::Sql(sqlx::Error::PoolClosed)).into(), S::SERVICE_UNAVAILABLE, K::Unavailable),
            (ImportError::Interrupted.into(), S::SERVICE_UNAVAILABLE, K::Unavailable),
            (sqlx::Error::RowNotFound.into(), S::INTERNAL_SERVER_ERROR, K::Internal),
            (StoreError::Corrupt { column: "c", detail: "d".into() }.into(), S::INTERNAL_SERVER_ERROR, K::Internal),
        ];
        let mut status_of = std::collections::BTreeMap::new();
        for (error, status, kind) in cases {
            // One kind, one status: a client may rely on either.
            assert_eq!(*status_of.entry(kind).or_insert(status), status, "{kind} answers two statuses");
            check(error, status, kind);
        }
        // The conversions lift store errors out of their wrappers.
        assert!(matches!(AppError::from(IngestError::Store(StoreError::Sql(sqlx::Error::RowNotFound))), AppError::Store(_)));
        assert!(matches!(AppError::from(ImportError::NoState), AppError::Session(SessionError::NoDirectoryState)));
    }

    async fn answer(error: AppError) -> (Response, Problem) {
        let mut response = error.into_response();
        let body = axum::body::to_bytes(std::mem::take(response.body_mut()), usize::MAX).await.unwrap();
        (response, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn answers_are_problems_whose_cause_is_left_for_the_log() {
        let (response, problem) = answer(JobError::NameTaken("corp".into()).into()).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(problem.problem_kind(), Some(ProblemKind::JobNameTaken));
        assert_eq!((problem.title.as_str(), problem.status), ("Conflict", 409));
        assert_eq!(problem.detail.as_deref(), Some("a job named `corp` already exists"));
        let cause = response.extensions().get::<ErrorCause>().unwrap();
        assert_eq!((cause.kind, cause.level), (ProblemKind::JobNameTaken, tracing::Level::INFO));

        // Credentials: a vague detail; the cause only for the log.
        let (response, problem) = answer(AuthError::Revoked(Uuid::nil().into()).into()).await;
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(problem.detail.as_deref(), Some("missing, invalid, expired or revoked credentials"));
        assert!(response.extensions().get::<ErrorCause>().unwrap().cause.contains("is revoked"));

        let (response, problem) = answer(StoreError::Corrupt { column: "c", detail: "d".into() }.into()).await;
        assert_eq!(problem.detail.as_deref(), Some("internal error"));
        assert_eq!(response.extensions().get::<ErrorCause>().unwrap().level, tracing::Level::ERROR);

        let (response, _) = answer(sqlx::Error::PoolTimedOut.into()).await;
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(response.extensions().get::<ErrorCause>().unwrap().level, tracing::Level::WARN);

        let (response, problem) = answer(RequestError::InvalidBody("invalid type: string \"rst_reg_secret\"".into()).into()).await;
        assert!(problem.detail.is_some_and(|d| d.contains("rst_reg_secret")), "the client sees what it sent");
        assert!(!response.extensions().get::<ErrorCause>().unwrap().cause.contains("rst_reg_secret"), "the log does not");

        let (response, problem) = answer(LimitError::rate(7).into()).await;
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(problem.detail.as_deref(), Some("too many requests: retry after 7 s"));
    }
}
