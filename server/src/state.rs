//! What every handler shares ([`AppState`]), built once by `app` and
//! handed to the router by `http`; it lives apart from both so that `app`
//! depends on `http` and neither depends back.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::db::Db;
use crate::import::ImportQueue;
use crate::rate::RateLimiter;
use crate::service::admins::SignInLimits;
use crate::service::commands::CommandBell;
use crate::settings::{ConsoleSettings, Limits};
use crate::store;
use crate::turns::Turns;
use roster_proto::JobId;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    /// The `aud` every agent token must carry.
    pub audience: Arc<str>,
    /// Wakes the import worker.
    pub imports: ImportQueue,
    /// Wakes agents' open polls on this replica when a command is issued.
    pub commands: CommandBell,
    /// What clients may send.
    pub limits: Arc<Limits>,
    /// Per-tenant request rate.
    pub rate: Arc<RateLimiter>,
    /// Per-client-address registration rate.
    pub register_rate: Arc<RateLimiter<IpAddr>>,
    /// How the console is reached (set-up links, cookie flags).
    pub console: Arc<ConsoleSettings>,
    /// Console sign-in attempts per account and per address.
    pub sign_in: Arc<SignInLimits>,
    /// One count of a job's structure at a time on this replica: requests
    /// for a state not counted yet wait for the first and read its count.
    pub structure_counts: Arc<Turns<JobId>>,
}

impl AppState {
    pub async fn new(db: Db, limits: Limits, console: ConsoleSettings) -> anyhow::Result<AppState> {
        let audience = store::tenants::audience(&db).await.context("reading the server identity")?;
        let rate = RateLimiter::new(limits.tenant_requests_per_second, limits.tenant_request_burst);
        let register_rate = RateLimiter::new(limits.register_requests_per_minute / 60.0, limits.register_request_burst);
        Ok(AppState {
            db,
            audience: audience.into(),
            imports: ImportQueue::default(),
            commands: CommandBell::default(),
            limits: Arc::new(limits),
            rate: Arc::new(rate),
            register_rate: Arc::new(register_rate),
            console: Arc::new(console),
            sign_in: Arc::new(SignInLimits::default()),
            structure_counts: Arc::new(Turns::default()),
        })
    }
}
