//! The agent's side of the agent API: one HTTPS client that signs every
//! request (a fresh EdDSA token per attempt, bound to method and path),
//! retries what is worth retrying (connection errors, timeouts, 5xx, 429,
//! honouring `Retry-After`) with jittered exponential backoff, and turns
//! any other answer into an error carrying the status and the server's
//! problem `type` and `detail`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use roster_proto::admin::Session;
use roster_proto::agent::{
    AgentJob, Command, CommandResult, CommitResponse, FENCING_TOKEN_HEADER, Heartbeat, InlineChunk, Lease, OfferResponse, OfferSnapshot,
    RegisterRequest, RegisterResponse, RotateKey,
};
use roster_proto::problem::{Problem, ProblemKind};
use roster_proto::{AgentId, CommandId, SessionId, SnapshotId};
use roster_snapshot::keys::AgentKey;
use roster_snapshot::token::{TokenError, sign_request, sign_rotation};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::chain::chain;
use crate::config::ServerConfig;
use crate::state::FencingTokenFile;

/// Bound on one request, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on establishing a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest backoff between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// First backoff.
pub const MIN_DELAY: Duration = Duration::from_millis(500);
/// A `Retry-After` longer than this ends the retries instead of stalling the run.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Most of a non-problem error body quoted in a message.
const MAX_QUOTED_BODY: usize = 300;

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("server URL `{url}` {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot read server CA file `{}`: {source}", .path.display())]
    CaFile { path: std::path::PathBuf, source: std::io::Error },
    #[error("server CA file `{}`: {message}", .path.display())]
    BadCaFile { path: std::path::PathBuf, message: String },
    #[error("cannot build the HTTP client: {}", chain(.0))]
    Client(reqwest::Error),
    /// No answer: connection refused or reset, TLS failure, timeout.
    #[error("{request}: {}{}", chain(.source), transport_hint(.source))]
    Transport {
        /// `METHOD URL`, for the message.
        request: String,
        source: reqwest::Error,
    },
    /// An answer that is not a success.
    #[error("{request}: the server answered {status}: {detail}")]
    Status {
        /// `METHOD URL`, for the message.
        request: String,
        status: StatusCode,
        /// The problem's `type` when the body was a problem, so callers can
        /// tell one 409 from another.
        problem_type: Option<String>,
        /// The problem's `detail` (or title, or the start of the body).
        detail: String,
        /// The server's `Retry-After`, in seconds.
        retry_after: Option<Duration>,
    },
    #[error("{request}: unexpected answer: {reason}")]
    Decode {
        /// `METHOD URL`, for the message.
        request: String,
        reason: String,
    },
    #[error("cannot encode the request: {0}")]
    Encode(serde_json::Error),
    #[error("cannot sign the request: {0}")]
    Sign(#[from] TokenError),
}

impl HttpError {
    /// Connection errors, timeouts, 5xx and 429 may pass; the rest will not.
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::Transport { source, .. } => !source.is_builder() && !source.is_redirect(),
            HttpError::Status { status, .. } => status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS,
            _ => false,
        }
    }

    /// The status of an answer that was not a success.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem `type` of an answer that was not a success.
    pub fn problem_type(&self) -> Option<&str> {
        match self {
            HttpError::Status { problem_type, .. } => problem_type.as_deref(),
            _ => None,
        }
    }

    /// Whether the server answered with a problem of this kind.
    pub fn is(&self, kind: ProblemKind) -> bool {
        self.problem_type() == Some(kind.uri())
    }

    /// The server's `detail` of an answer that was not a success.
    pub fn detail(&self) -> Option<&str> {
        match self {
            HttpError::Status { detail, .. } => Some(detail),
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What signs requests: the agent's key and the identity the server gave it.
#[derive(Debug)]
struct Signer {
    /// The agent's private key (shared with the manifest signer).
    key: Arc<AgentKey>,
    /// `iss` of every token.
    agent_id: AgentId,
    /// `aud` of every token.
    audience: String,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Payload {
    Empty,
    Json(Vec<u8>),
    /// `application/octet-stream` (chunks).
    Octets(Vec<u8>),
}

impl Payload {
    /// The bytes sent, which the request token binds (none for `Empty`).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Empty => &[],
            Payload::Json(bytes) | Payload::Octets(bytes) => bytes,
        }
    }
}

/// The client of one Roster server.
#[derive(Debug)]
pub struct ServerClient {
    /// reqwest's pooled client (system roots + optional CA file).
    http: reqwest::Client,
    /// The server URL as registered; its path is a prefix of every API path.
    base: Url,
    /// Retries after the first attempt.
    max_retries: u32,
    /// Present once registered; every request but `register` is signed.
    signer: Option<Signer>,
    /// The fencing token of the job's lease this client holds, sent with
    /// every request once [`ServerClient::lease`] granted one.
    fence: Fence,
}

/// The fencing token of the lease a client holds, if any, and the file
/// that keeps it across restarts (when the client has one), so that an
/// agent restarted after another took over is told so by the server.
#[derive(Debug, Default)]
struct Fence {
    token: Mutex<Option<u64>>,
    file: Option<FencingTokenFile>,
}

impl Fence {
    fn get(&self) -> Option<u64> {
        *self.token.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `token` from now on (`None`: holds none), kept in the file.
    fn hold(&self, token: Option<u64>) {
        let mut held = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if *held == token {
            return;
        }
        *held = token;
        if let Some(file) = &self.file
            && let Err(error) = file.store(token)
        {
            warn!(%error, "cannot keep the lease's fencing token in the state directory; a restart forgets it");
        }
    }

    /// Forgets `sent` if it is still the token held: the server refused it.
    fn forget(&self, sent: u64, refusal: &HttpError) {
        if self.get() == Some(sent) {
            warn!(
                fencing_token = sent,
                error = %refusal,
                "the server refused this agent's fencing token: another agent took the job's lease over while this one \
                 was paused, stopped or cut off; it forgets that grant and asks for the lease again"
            );
            self.hold(None);
        }
    }
}

impl ServerClient {
    /// A client for `server_url` (`https://host[:port][/prefix]`).
    pub fn new(server_url: &str, config: &ServerConfig) -> Result<ServerClient, HttpError> {
        crate::install_crypto_provider();
        let base = parse_base_url(server_url)?;
        if base.scheme() == "http" {
            warn!(url = %base, "the server URL is plain http: snapshots would cross the network unencrypted");
        }
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("roster-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|source| HttpError::CaFile { path: path.clone(), source })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| HttpError::BadCaFile { path: path.clone(), message: chain(&e) })?;
            if certs.is_empty() {
                return Err(HttpError::BadCaFile { path: path.clone(), message: "holds no PEM certificate".into() });
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(HttpError::Client)?;
        Ok(ServerClient { http, base, max_retries: config.max_retries, signer: None, fence: Fence::default() })
    }

    /// Keeps the lease's fencing token in `file` and starts from the one
    /// it holds (a token from before a restart).
    pub fn with_fencing_token_file(mut self, file: FencingTokenFile) -> ServerClient {
        let token = file.load().unwrap_or_else(|error| {
            warn!(%error, "ignoring the stored fencing token");
            None
        });
        self.fence = Fence { token: Mutex::new(token), file: Some(file) };
        self
    }

    /// The fencing token of the lease this client holds, if any.
    pub fn fencing_token(&self) -> Option<u64> {
        self.fence.get()
    }

    /// Signs every further request as `agent_id`.
    pub fn with_identity(mut self, key: Arc<AgentKey>, agent_id: AgentId, audience: &str) -> ServerClient {
        self.signer = Some(Signer { key, agent_id, audience: audience.to_owned() });
        self
    }

    /// The server URL requests are made against.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The URL of an API path (`agent/v1/job`), below the server URL's own path.
    pub fn url(&self, path: &str) -> Url {
        api_url(&self.base, path)
    }

    /// `POST /agent/v1/register` (unsigned: the one-time token is the proof).
    pub async fn register(&self, request: &RegisterRequest) -> Result<RegisterResponse, HttpError> {
        let body = serde_json::to_vec(request).map_err(HttpError::Encode)?;
        self.call(Method::POST, "agent/v1/register", false, || Ok(Payload::Json(body.clone()))).await
    }

    /// `POST /agent/v1/key` (204): signed with the current key, names the new
    /// one with a proof signed by it (fresh on every attempt).
    pub async fn rotate_key(&self, new_key: &AgentKey) -> Result<(), HttpError> {
        let signer = self.signer()?;
        let public_key = new_key.public_key().to_base64();
        self.send(Method::POST, "agent/v1/key", true, || {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let proof = sign_rotation(new_key, signer.agent_id, &signer.audience, &signer.key.public_key(), now)?;
            let body = RotateKey { public_key: public_key.clone(), proof };
            Ok(Payload::Json(serde_json::to_vec(&body).map_err(HttpError::Encode)?))
        })
        .await
        .map(|_| ())
    }

    /// `GET /agent/v1/job`.
    pub async fn job(&self) -> Result<AgentJob, HttpError> {
        self.call(Method::GET, "agent/v1/job", true, || Ok(Payload::Empty)).await
    }

    /// `POST /agent/v1/lease`: whether this agent holds its job's lease.
    /// While it does, every further request carries the lease's fencing
    /// token (`Roster-Fencing-Token`); a standby's carry none. Asking with
    /// a token renews that grant; when the server refuses it (another
    /// agent took over while this one was paused, stopped or cut off), the
    /// token is forgotten and the lease asked for afresh.
    pub async fn lease(&self) -> Result<Lease, HttpError> {
        let ask = || self.call::<Lease>(Method::POST, "agent/v1/lease", true, || Ok(Payload::Empty));
        let held = self.fence.get();
        let lease = match ask().await {
            // Refused, the token is forgotten (see `attempt`): ask as a standby would.
            Err(error) if held.is_some() && error.is(ProblemKind::Fenced) => ask().await?,
            other => other?,
        };
        self.fence.hold(lease.fencing_token.filter(|_| lease.active));
        Ok(lease)
    }

    /// `POST /agent/v1/snapshots`, with `chunks` inline and, if `commit`,
    /// the commit. `manifest_token` is asked for on every attempt, so the
    /// caller can re-sign a token about to expire.
    pub async fn offer_snapshot(
        &self,
        mut manifest_token: impl FnMut() -> Result<String, TokenError>,
        chunks: &[InlineChunk],
        commit: bool,
    ) -> Result<OfferResponse, HttpError> {
        self.call(Method::POST, "agent/v1/snapshots", true, || {
            let offer = OfferSnapshot { manifest_token: manifest_token()?, chunks: chunks.to_vec(), commit };
            Ok(Payload::Json(serde_json::to_vec(&offer).map_err(HttpError::Encode)?))
        })
        .await
    }

    /// `PUT /agent/v1/snapshots/{id}/chunks/{index}` (204).
    pub async fn put_chunk(&self, snapshot_id: SnapshotId, index: u32, bytes: &[u8]) -> Result<(), HttpError> {
        let path = format!("agent/v1/snapshots/{snapshot_id}/chunks/{index}");
        self.send(Method::PUT, &path, true, || Ok(Payload::Octets(bytes.to_vec()))).await.map(|_| ())
    }

    /// `POST /agent/v1/snapshots/{id}/commit`.
    pub async fn commit(&self, snapshot_id: SnapshotId) -> Result<CommitResponse, HttpError> {
        self.call(Method::POST, &format!("agent/v1/snapshots/{snapshot_id}/commit"), true, || Ok(Payload::Empty)).await
    }

    /// `GET /agent/v1/sessions/{id}`.
    pub async fn session(&self, session_id: SessionId) -> Result<Session, HttpError> {
        self.call(Method::GET, &format!("agent/v1/sessions/{session_id}"), true, || Ok(Payload::Empty)).await
    }

    /// `GET /agent/v1/commands?wait=`: the next command, or `None` when
    /// the server had none within `wait_secs` (204).
    pub async fn next_command(&self, wait_secs: u32) -> Result<Option<Command>, HttpError> {
        let path = format!("agent/v1/commands?wait={wait_secs}");
        let url = self.url(&path);
        let body = self.send(Method::GET, &path, true, || Ok(Payload::Empty)).await?;
        if body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&body).map(Some).map_err(|e| HttpError::Decode { request: format!("GET {url}"), reason: e.to_string() })
    }

    /// `POST /agent/v1/commands/{id}/result` (204).
    pub async fn report(&self, id: CommandId, result: &CommandResult) -> Result<(), HttpError> {
        let body = serde_json::to_vec(result).map_err(HttpError::Encode)?;
        self.send(Method::POST, &format!("agent/v1/commands/{id}/result"), true, || Ok(Payload::Json(body.clone()))).await.map(|_| ())
    }

    /// `POST /agent/v1/heartbeat` (204).
    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<(), HttpError> {
        let body = serde_json::to_vec(beat).map_err(HttpError::Encode)?;
        self.send(Method::POST, "agent/v1/heartbeat", true, || Ok(Payload::Json(body.clone()))).await.map(|_| ())
    }

    /// A JSON call: [`ServerClient::send`], then the body decoded as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        signed: bool,
        payload: impl FnMut() -> Result<Payload, HttpError>,
    ) -> Result<T, HttpError> {
        let url = self.url(path);
        let body = self.send(method.clone(), path, signed, payload).await?;
        serde_json::from_slice(&body).map_err(|e| HttpError::Decode { request: format!("{method} {url}"), reason: e.to_string() })
    }

    /// Sends with retries. `payload` is asked for the body on every attempt.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        signed: bool,
        mut payload: impl FnMut() -> Result<Payload, HttpError>,
    ) -> Result<Vec<u8>, HttpError> {
        let url = self.url(path);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(MIN_DELAY)
            .with_max_delay(MAX_DELAY)
            .with_max_times(self.max_retries as usize)
            .with_jitter();
        let attempt = || {
            // Body and token are made before the attempt's future: a fresh
            // token (new `iat`, `jti`) for every try.
            let prepared = payload().and_then(|body| {
                let token = if signed { Some(self.token(&method, &url, body.bytes())?) } else { None };
                Ok((body, token))
            });
            let (method, url) = (method.clone(), url.clone());
            async move {
                let (body, token) = prepared?;
                self.attempt(method, url, body, token).await
            }
        };
        attempt
            .retry(backoff)
            .when(HttpError::is_retryable)
            .adjust(|error, delay| match (delay, error.retry_after()) {
                (None, _) => None,
                (Some(_), Some(wait)) if wait > MAX_RETRY_AFTER => None,
                (Some(delay), Some(wait)) => Some(delay.max(wait)),
                (Some(delay), None) => Some(delay),
            })
            .notify(|error, delay| warn!(%error, retry_in_ms = delay.as_millis() as u64, "request failed; retrying"))
            .await
    }

    fn signer(&self) -> Result<&Signer, HttpError> {
        self.signer.as_ref().ok_or_else(|| HttpError::Sign(TokenError::Malformed("the agent is not registered".into())))
    }

    /// A request token for `method` `url` with exactly `body`.
    fn token(&self, method: &Method, url: &Url, body: &[u8]) -> Result<String, HttpError> {
        let signer = self.signer()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(sign_request(&signer.key, signer.agent_id, &signer.audience, method.as_str(), url.path(), body, now)?)
    }

    async fn attempt(&self, method: Method, url: Url, body: Payload, token: Option<String>) -> Result<Vec<u8>, HttpError> {
        let mut request = self.http.request(method.clone(), url.clone());
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let fence = self.fence.get();
        if let Some(fence) = fence {
            request = request.header(FENCING_TOKEN_HEADER, fence);
        }
        request = match body {
            Payload::Empty => request,
            Payload::Json(bytes) => request.header(CONTENT_TYPE, "application/json").body(bytes),
            Payload::Octets(bytes) => request.header(CONTENT_TYPE, "application/octet-stream").body(bytes),
        };
        debug!(%method, %url, "request");
        let transport = |source| HttpError::Transport { request: format!("{method} {url}"), source };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let error = HttpError::Status {
            request: format!("{method} {url}"),
            status,
            problem_type: problem_type(&body),
            detail: problem_detail(status, &body),
            retry_after,
        };
        // A token the server fences is one this agent no longer holds.
        if let Some(fence) = fence
            && error.is(ProblemKind::Fenced)
        {
            self.fence.forget(fence, &error);
        }
        Err(error)
    }
}

/// What to do about the transport errors an admin meets first.
fn transport_hint(error: &reqwest::Error) -> &'static str {
    let text = chain(error);
    if text.contains("UnknownIssuer") {
        " (the server's certificate is not issued by a trusted CA: set ROSTER_SERVER_CA_FILE or `ca_file` in [server] to the issuing CA's PEM, or install that CA in the system's trust store)"
    } else if text.contains("NotValidForName") {
        " (the server's certificate does not name the host in the server URL)"
    } else {
        ""
    }
}

/// Checks a server URL: http(s), a host, no query or fragment.
pub fn parse_base_url(server_url: &str) -> Result<Url, HttpError> {
    let bad = |reason: &str| HttpError::BadUrl { url: server_url.to_owned(), reason: reason.to_owned() };
    let url = Url::parse(server_url.trim()).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad("must start with https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    Ok(url)
}

/// `base` + `/` + `path`, keeping `base`'s path as a prefix.
pub fn api_url(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    url.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
    url.set_query(query);
    url
}

/// The `type` of a problem body, `None` when the body is not a problem.
pub fn problem_type(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Problem>(body).ok().map(|problem| problem.kind)
}

/// What an error answer says, for a person: the problem's `detail` (or
/// `title`), else the start of the body, else the status's reason.
pub fn problem_detail(status: StatusCode, body: &[u8]) -> String {
    if let Ok(problem) = serde_json::from_slice::<Problem>(body) {
        return problem.detail.filter(|d| !d.trim().is_empty()).unwrap_or(problem.title);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status.canonical_reason().unwrap_or("no details").to_owned();
    }
    match text.char_indices().nth(MAX_QUOTED_BODY) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_keep_the_prefix() {
        let cases = [
            ("https://roster.example", "agent/v1/job", "https://roster.example/agent/v1/job", "/agent/v1/job"),
            // A query stays a query, and is not signed (the token names the path).
            ("https://x/roster", "agent/v1/commands?wait=30", "https://x/roster/agent/v1/commands?wait=30", "/roster/agent/v1/commands"),
            ("https://roster.example/", "agent/v1/job", "https://roster.example/agent/v1/job", "/agent/v1/job"),
            (
                "https://x/roster",
                "agent/v1/snapshots/1/chunks/3",
                "https://x/roster/agent/v1/snapshots/1/chunks/3",
                "/roster/agent/v1/snapshots/1/chunks/3",
            ),
            ("https://x:8443/a/b/", "/agent/v1/register", "https://x:8443/a/b/agent/v1/register", "/a/b/agent/v1/register"),
        ];
        for (base, path, expected, signed_path) in cases {
            let url = api_url(&parse_base_url(base).unwrap(), path);
            assert_eq!(url.as_str(), expected);
            assert_eq!(url.path(), signed_path);
        }
        for bad in ["ftp://x", "roster.example", "https://x/?a=1", "https://u:p@x/", "https://x/#f"] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn problem_details() {
        let problem = br#"{"type":"about:blank","title":"Conflict","status":409,"detail":"snapshot already committed"}"#;
        assert_eq!(problem_detail(StatusCode::CONFLICT, problem), "snapshot already committed");
        assert_eq!(problem_type(problem).as_deref(), Some("about:blank"));
        let mismatch =
            br#"{"type":"urn:roster:problem:delta-base-mismatch","title":"Conflict","status":409,"detail":"the base is USN 10"}"#;
        assert_eq!(problem_type(mismatch).as_deref(), Some(roster_proto::problem::ProblemKind::DeltaBaseMismatch.uri()));
        assert_eq!(problem_type(b"plain words"), None);
        let no_detail = br#"{"type":"about:blank","title":"Unauthorized","status":401}"#;
        assert_eq!(problem_detail(StatusCode::UNAUTHORIZED, no_detail), "Unauthorized");
        assert_eq!(problem_detail(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
        assert_eq!(problem_detail(StatusCode::BAD_REQUEST, b"  plain words \n"), "plain words");
        let long = "é".repeat(1000);
        let quoted = problem_detail(StatusCode::BAD_REQUEST, long.as_bytes());
        assert_eq!(quoted.chars().count(), MAX_QUOTED_BODY + 1);
    }
}
