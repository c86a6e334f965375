//! Continuous sync's watch: while the agent's job syncs continuously
//! (`sync_mode: continuous`) and this agent holds the job's lease, `run`
//! watches the DC and says when something in the job's scope changed; its
//! command loop then lets the burst settle and pushes a delta.
//!
//! Two ways to hear of a change, the first where the DC allows it:
//!
//! - AD's change notifications ([`crate::ldap::notify`]): a notice within
//!   about a second of the change. The DC's `highestCommittedUSN` is still
//!   read every `4 × usn_poll_every`, for what notices cannot show (an
//!   object moved out of the job's scope).
//! - Polling the rootDSE's `highestCommittedUSN` every `usn_poll_every`
//!   (default 15 s): one small read per poll while nothing changes. Used
//!   when notifications are turned off (`--no-notifications`), refused by
//!   the DC, or their search ends; notifications are tried again on the
//!   next connection.
//!
//! Any error (the DC unreachable, the connection dropped) ends the watch's
//! connection; it starts again after `usn_poll_every`, and its first act is
//! to say "changed" if the DC moved on meanwhile, so nothing is missed:
//! the delta reads everything since the server's watermark anyway.

use std::sync::Arc;
use std::time::Duration;

use roster_proto::admin::SyncMode;
use roster_proto::agent::AgentJob;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::commands::Context;
use crate::error::{AgentError, Stage};
use crate::http::ServerClient;
use crate::ldap::Directory;

/// How the watch paces itself.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Ask the DC for change notifications (else poll only).
    pub notifications: bool,
    /// Between reads of `highestCommittedUSN` when polling.
    pub usn_poll_every: Duration,
    /// How often the job is read again (its sync mode and scope).
    pub job_refresh: Duration,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions { notifications: true, usn_poll_every: Duration::from_secs(15), job_refresh: Duration::from_secs(60) }
    }
}

/// While notifications arrive, the USN is read this many times less often.
const NOTIFIED_POLL_FACTOR: u32 = 4;

/// Watches until aborted. `holds_lease` follows the heartbeat's word on
/// the job's lease; `changed` is rung for every change that concerns the
/// job (a ring while nobody listens is kept: a burst is one ring).
pub async fn watch(
    ctx: Context,
    client: Arc<ServerClient>,
    options: WatchOptions,
    mut holds_lease: watch::Receiver<bool>,
    changed: Arc<Notify>,
) {
    let mut said_continuous = false;
    loop {
        if !*holds_lease.borrow_and_update() {
            // A standby watches nothing; it starts when it takes the lease over.
            match holds_lease.changed().await {
                Ok(()) => continue,
                // The heartbeat is gone: `run` is ending.
                Err(_) => return,
            }
        }
        let job = match client.job().await {
            Ok(job) => job,
            Err(error) => {
                debug!(error = %Stage::FetchJob.err(error), "could not read the job for the watch");
                tokio::time::sleep(options.usn_poll_every).await;
                continue;
            }
        };
        if job.sync_mode != SyncMode::Continuous {
            if said_continuous {
                info!("the job no longer syncs continuously: the agent stops watching the DC");
                said_continuous = false;
            }
            tokio::time::sleep(options.job_refresh).await;
            continue;
        }
        if !said_continuous {
            info!(notifications = options.notifications, "the job syncs continuously: the agent watches the DC and pushes each change");
            said_continuous = true;
        }
        match watch_job(&ctx, &client, &job, &options, &mut holds_lease, &changed).await {
            Ok(()) => {}
            Err(error) => {
                warn!(%error, retry_in_s = options.usn_poll_every.as_secs(), "watching the DC failed; watching again shortly");
                tokio::time::sleep(options.usn_poll_every).await;
            }
        }
    }
}

/// Watches over one connection while the job stays as it is and the
/// agent holds the lease; `Ok` when either changed (read the job again).
async fn watch_job(
    ctx: &Context,
    client: &ServerClient,
    job: &AgentJob,
    options: &WatchOptions,
    holds_lease: &mut watch::Receiver<bool>,
    changed: &Notify,
) -> Result<(), AgentError> {
    let settings = ctx.ldap_settings()?;
    let mut directory = Directory::connect(&settings).await?;
    let outcome = watch_on(&mut directory, &settings, client, job, options, holds_lease, changed).await;
    directory.close().await;
    outcome
}

async fn watch_on(
    directory: &mut Directory,
    settings: &crate::ldap::LdapSettings,
    client: &ServerClient,
    job: &AgentJob,
    options: &WatchOptions,
    holds_lease: &mut watch::Receiver<bool>,
    changed: &Notify,
) -> Result<(), AgentError> {
    let info = directory.directory_info(settings.base_dn.as_deref()).await?;
    let scope = job.scope.resolve(&info.base_dn).map_err(|e| Stage::Config.err(e))?;
    let mut seen = info.watermark.usn;
    // Changes made while nobody watched (the agent starting, a connection
    // lost, the lease taken over): a delta reads them at once.
    let behind = job.sync.base.as_ref().is_none_or(|base| !base.same_database(&info.watermark) || base.usn < seen);
    if behind || job.sync.full_required.is_some() {
        changed.notify_one();
    }
    let mut notices = match options.notifications {
        true => match directory.notices(&info.root.default_naming_context).await {
            Ok(notices) => Some(notices),
            Err(error) => {
                warn!(%error, "the DC refused change notifications: polling its highestCommittedUSN instead");
                None
            }
        },
        false => None,
    };
    let poll_every = |notified: bool| match notified {
        true => options.usn_poll_every * NOTIFIED_POLL_FACTOR,
        false => options.usn_poll_every,
    };
    let mut poll = ticker(Instant::now() + poll_every(notices.is_some()), poll_every(notices.is_some()));
    let mut refresh = tokio::time::interval_at(Instant::now() + options.job_refresh, options.job_refresh);
    info!(
        dc = %info.watermark.dns_host_name,
        usn = seen,
        notifications = notices.is_some(),
        poll_every_s = poll_every(notices.is_some()).as_secs(),
        "watching the DC for changes"
    );
    loop {
        tokio::select! {
            notice = next_notice(&mut notices) => match notice {
                Ok(notice) if notice.concerns(&scope) => {
                    debug!(dn = %notice.dn, deleted = notice.deleted, "the DC notified a change in scope");
                    changed.notify_one();
                }
                Ok(notice) => debug!(dn = %notice.dn, "the DC notified a change out of scope"),
                Err(error) => {
                    warn!(%error, poll_every_s = options.usn_poll_every.as_secs(), "change notifications ended: polling the DC's highestCommittedUSN");
                    notices = None;
                    poll = ticker(Instant::now(), options.usn_poll_every);
                }
            },
            _ = poll.tick() => {
                let usn = directory.highest_committed_usn().await?;
                if usn != seen {
                    debug!(from = seen, to = usn, "the DC's highestCommittedUSN moved");
                    seen = usn;
                    changed.notify_one();
                }
            }
            _ = refresh.tick() => match client.job().await {
                Ok(latest) if latest.sync_mode != job.sync_mode || latest.scope != job.scope => return Ok(()),
                Ok(_) => {}
                // The server away is no reason to stop watching the DC: the push will wait for it.
                Err(error) => debug!(error = %Stage::FetchJob.err(error), "could not read the job again"),
            },
            lost = holds_lease.changed() => {
                if lost.is_err() || !*holds_lease.borrow_and_update() {
                    return Ok(());
                }
            }
        }
    }
}

/// Ticks at `first`, then every `every`; a tick missed while a read took
/// long is delayed, not made up in a burst.
fn ticker(first: Instant, every: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval_at(first, every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// The next notice, or never while there is no notification search.
async fn next_notice(notices: &mut Option<crate::ldap::notify::Notices>) -> Result<crate::ldap::notify::Notice, AgentError> {
    match notices {
        Some(notices) => notices.next().await.map_err(|e| Stage::Watch.err(e)),
        None => std::future::pending().await,
    }
}

/// After a first ring of `changed`: waits until no ring came for
/// `quiet`, or `longest` passed, so a bulk change in AD is one delta.
pub async fn settle(changed: &Notify, quiet: Duration, longest: Duration) {
    let deadline = Instant::now() + longest;
    loop {
        let until = (Instant::now() + quiet).min(deadline);
        match tokio::time::timeout_at(until, changed.notified()).await {
            Ok(()) if Instant::now() < deadline => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_settles_into_one_push_and_a_storm_is_cut_off() {
        let changed = Arc::new(Notify::new());
        // Rings every 500 ms for 3 s, then quiet: settled 2 s after the last ring.
        let ringing = {
            let changed = Arc::clone(&changed);
            tokio::spawn(async move {
                for _ in 0..6 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    changed.notify_one();
                }
            })
        };
        let started = Instant::now();
        settle(&changed, Duration::from_secs(2), Duration::from_secs(20)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(5), "the last ring at 3 s, then 2 s of quiet");
        ringing.await.unwrap();

        // A ring that never stops: cut off at `longest`.
        let storm = {
            let changed = Arc::clone(&changed);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    changed.notify_one();
                }
            })
        };
        let started = Instant::now();
        settle(&changed, Duration::from_secs(2), Duration::from_secs(20)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(20) && waited < Duration::from_millis(20_200), "{waited:?}");
        storm.abort();
    }
}
