//! `roster-agent run`: the agent as a service. It holds the state
//! directory's lock (one `run` per state directory), long-polls the server
//! for commands (`GET /agent/v1/commands?wait=30`), runs each (`push`,
//! `load_structure`, `check`) and reports how it went, and says how it is
//! every 30 s (`POST /agent/v1/heartbeat`: version, host, OS, whether the
//! DC answered at its last check, every 5 minutes, and the last error),
//! asking each time for the job's lease (`POST /agent/v1/lease`): of a
//! job's agents only the holder is handed commands, the others stand by
//! and one takes over when the holder has been silent past its lease. It
//! only ever connects out. Lost contact with the server is retried with
//! jittered exponential backoff (up to about a minute apart), for ever; a
//! stop (SIGTERM, SIGINT, a Windows service stop) ends it cleanly, dropping
//! a command under way, which the server then answers again.
//!
//! While the job syncs continuously and this agent holds its lease, `run`
//! also watches the DC ([`crate::watch`]) and, once a burst of changes has
//! settled (2 s of quiet, 30 s at most), pushes a delta without waiting
//! for its import: the server imports it at once. A push that fails is
//! tried again after 15 s.
//!
//! A command that ran to its end is not run again: its result is written
//! to the state directory before it is reported, and reported before the
//! next poll (at the next start, if the report was lost), so the server
//! never hands it out again. One stopped half-way is run again when it is
//! answered again.

use std::fs::{self, File, TryLockError};
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch as channel};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::StatusCode;
use roster_proto::CommandId;
use roster_proto::agent::{Command, CommandAction, CommandOutcome, CommandResult, Heartbeat, MAX_REPORTED_ERROR_CHARS};
use roster_proto::problem::ProblemKind;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use super::Context;
use super::check::check;
use super::push::{KnownJob, PushOptions, push, push_with};
use crate::error::{AgentError, Cause, Stage};
use crate::http::{HttpError, ServerClient};
use crate::ldap::Directory;
use crate::state::{Identity, StateDir};
use crate::watch::{WatchOptions, settle, watch};

/// How `run` paces itself.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Seconds each poll asks the server to hold it open.
    pub poll_wait_secs: u32,
    /// Between heartbeats.
    pub heartbeat_every: Duration,
    /// The longest pause between attempts while the server is unreachable,
    /// before jitter (which adds up to as much again).
    pub max_backoff: Duration,
    /// Between the heartbeat's checks that the DC answers (a bind each: AD
    /// logs every one, and a wrong password counts towards lockout).
    pub dc_probe_every: Duration,
    /// How a continuous job's DC is watched.
    pub watch: WatchOptions,
    /// Quiet after a change before its delta is pushed (a bulk change is one delta).
    pub settle: Duration,
    /// The longest a burst of changes is let settle.
    pub settle_at_most: Duration,
    /// After a change's push failed, when it is tried again.
    pub change_retry: Duration,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            poll_wait_secs: roster_proto::agent::MAX_COMMAND_WAIT_SECS,
            heartbeat_every: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30),
            dc_probe_every: Duration::from_secs(300),
            watch: WatchOptions::default(),
            settle: Duration::from_secs(2),
            settle_at_most: Duration::from_secs(30),
            change_retry: Duration::from_secs(15),
        }
    }
}

/// The lock on a state directory, held while `run` runs (and while
/// `push`, `rotate-key` and `register` change the state a running service
/// uses: the spool, the key, the identity); released when dropped or when
/// the process ends however it ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of a state directory that exists (one that does not
    /// yet has nothing to guard: `None`).
    pub fn acquire_existing(state: &StateDir) -> Result<Option<RunLock>, AgentError> {
        match state.root().is_dir() {
            true => RunLock::acquire(state).map(Some),
            false => Ok(None),
        }
    }

    /// Takes the state directory's lock, or says who holds it.
    pub fn acquire(state: &StateDir) -> Result<RunLock, AgentError> {
        let path = state.run_lock_path();
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Stage::Config.err(Cause::io("cannot open the lock file", &path, e)))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                let by = if holder.is_empty() { String::new() } else { format!(" (process {holder})") };
                return Err(Stage::Config.err(format!(
                    "the state directory {} is in use by another roster-agent{by} (the service, `roster-agent run`, holds it while it runs): \
                     stop that first, or use another --state-dir",
                    state.root().display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(Stage::Config.err(Cause::io("cannot lock", &path, e))),
        }
        // For people: who holds it. The lock itself is the OS's.
        let written = file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id())).and_then(|()| file.flush());
        if let Err(e) = written {
            warn!(path = %path.display(), error = %e, "could not write the process id into the lock file");
        }
        Ok(RunLock { _file: file })
    }
}

/// A result written down before it is reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Unreported {
    command: CommandId,
    result: CommandResult,
}

/// What the heartbeat says: the DC's answer and the last error, shared
/// with the command loop.
#[derive(Debug, Default)]
struct Health {
    last_error: Mutex<Option<String>>,
}

impl Health {
    fn failed(&self, error: &str) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.chars().take(MAX_REPORTED_ERROR_CHARS).collect());
        }
    }

    /// Puts back an error a lost heartbeat carried, unless a newer one came.
    fn failed_unless_newer(&self, error: &str) {
        if let Ok(mut last) = self.last_error.lock()
            && last.is_none()
        {
            *last = Some(error.to_owned());
        }
    }

    fn take_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|mut last| last.take())
    }
}

/// Runs until `stop` completes: polls, runs and reports commands, beats.
/// Returns an error only when it cannot start (the lock is held, the agent
/// is not registered, the settings are wrong); losing the server is not
/// one, it is retried.
pub async fn run(ctx: &Context, options: &RunOptions, stop: impl Future<Output = ()>) -> Result<(), AgentError> {
    let _lock = RunLock::acquire(&ctx.state)?;
    let identity = ctx.state.identity()?;
    ctx.ldap_settings()?;
    // One retry inside each request: past that the loop's own backoff takes over, so that an agent
    // notices the server is back within its backoff, not after the client's seven retries.
    let mut quick = ctx.clone();
    quick.config.server.max_retries = quick.config.server.max_retries.min(1);
    let client = Arc::new(quick.client(&identity)?);
    let health = Arc::new(Health::default());
    let registration = &identity.registration;
    info!(agent_id = %registration.agent_id, job_id = %registration.job_id, server = %client.base_url(), "running: waiting for commands");

    let (lease_said, holds_lease) = channel::channel(false);
    let changed = Arc::new(Notify::new());
    let beating = tokio::spawn(heartbeats(ctx.clone(), Arc::clone(&client), Arc::clone(&health), options.clone(), lease_said));
    let watching = tokio::spawn(watch(ctx.clone(), Arc::clone(&client), options.watch.clone(), holds_lease, Arc::clone(&changed)));
    tokio::pin!(stop);
    let work = work(ctx, &identity, &client, &health, options, &changed);
    let outcome = tokio::select! {
        () = &mut stop => {
            info!("stop asked: ending");
            Ok(())
        }
        outcome = work => outcome,
    };
    beating.abort();
    watching.abort();
    outcome
}

/// The command loop: never ends by itself unless the agent's state breaks.
/// Between commands it pushes the changes the watch rings `changed` for.
async fn work(
    ctx: &Context,
    identity: &Identity,
    client: &ServerClient,
    health: &Health,
    options: &RunOptions,
    changed: &Notify,
) -> Result<(), AgentError> {
    let mut retry_change_at: Option<tokio::time::Instant> = None;
    let mut last_upload = tokio::time::Instant::now();
    let mut known: Option<KnownJob> = None;
    let mut pending = read_unreported(&ctx.state)?;
    let backoff = || {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(1))
            .with_max_delay(options.max_backoff)
            .with_jitter()
            .without_max_times()
            .build()
    };
    let mut delays = backoff();
    loop {
        if let Some(unreported) = &pending {
            match report(client, unreported).await {
                Ok(()) => {
                    forget_unreported(&ctx.state);
                    pending = None;
                }
                Err(error) => {
                    pause(health, &error, &mut delays).await;
                    continue;
                }
            }
        }
        // The poll stays open while changes are pushed: a change does not cost a new poll.
        let poll = client.next_command(options.poll_wait_secs);
        tokio::pin!(poll);
        let polled = loop {
            let retry_change = async {
                match retry_change_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                polled = &mut poll => break polled,
                () = changed.notified() => settle(changed, options.settle, options.settle_at_most).await,
                () = retry_change => {}
            }
            let failed = push_change(ctx, identity, client, health, &mut last_upload, &mut known).await.is_err();
            retry_change_at = failed.then(|| tokio::time::Instant::now() + options.change_retry);
        };
        let command = match polled {
            Ok(command) => {
                delays = backoff();
                command
            }
            // The lease was taken over while this agent was paused or cut off: its token is
            // forgotten, and the next poll asks as a standby (it cannot be fenced again).
            Err(error) if error.is(ProblemKind::Fenced) => continue,
            Err(error) => {
                pause(health, &Stage::Commands.err(error), &mut delays).await;
                continue;
            }
        };
        let Some(command) = command else { continue };
        info!(command_id = %command.id, action = ?command.action, "command received");
        let result = execute(ctx, &command).await;
        match result.outcome {
            CommandOutcome::Succeeded => info!(command_id = %command.id, message = %result.message, "command done"),
            CommandOutcome::Failed => {
                warn!(command_id = %command.id, error = %result.message, "command failed");
                health.failed(&result.message);
            }
        }
        let unreported = Unreported { command: command.id, result };
        write_unreported(&ctx.state, &unreported)?;
        pending = Some(unreported);
    }
}

/// Between uploads of deltas that hold nothing: while the DC's USN moves only
/// for changes out of scope, the server's watermark (the next delta's base)
/// is moved on this often, so a delta's read never reaches far back.
const EMPTY_DELTA_EVERY: Duration = Duration::from_secs(300);

/// How long a change push builds on the job as the last push left it
/// before it asks the server again (for the scope and the advice): within
/// this, a change is one request.
const KNOWN_JOB_FOR: Duration = Duration::from_secs(60);

/// Pushes what changed in AD (continuous sync): a delta, which the server
/// imports at once; the import is not waited for. A delta holding nothing
/// is not uploaded unless the last upload is `EMPTY_DELTA_EVERY` old.
/// Goes through `client`, whose connection stays open, and builds on
/// `known`, the job as the last push left it, while it is fresh
/// (`KNOWN_JOB_FOR`). `Err` when it should be tried again (a standby's
/// refusal is not retried: the holder pushes).
async fn push_change(
    ctx: &Context,
    identity: &Identity,
    client: &ServerClient,
    health: &Health,
    last_upload: &mut tokio::time::Instant,
    known: &mut Option<KnownJob>,
) -> Result<(), ()> {
    let options = PushOptions { wait: false, skip_empty_delta: last_upload.elapsed() < EMPTY_DELTA_EVERY, ..PushOptions::default() };
    let fresh = known.take().filter(|k| k.asked_at.elapsed() < KNOWN_JOB_FOR);
    match push_with(ctx, identity, client, fresh.as_ref(), &options).await {
        Ok(report) if !report.uploaded => {
            debug!(message = %report.message, "the change was out of the job's scope");
            *known = fresh;
            Ok(())
        }
        Ok(report) => {
            *last_upload = tokio::time::Instant::now();
            let s = &report.snapshot;
            info!(kind = ?s.kind, users = s.users, groups = s.groups, deleted = s.deleted, bytes = s.bytes, message = %report.message, "change pushed");
            *known = report.job_after;
            Ok(())
        }
        Err(error) if error.stage == Stage::Lease => {
            info!(%error, "change not pushed: this agent stands by");
            Ok(())
        }
        Err(error) => {
            warn!(%error, "could not push the change; trying again shortly");
            health.failed(&error.to_string());
            Err(())
        }
    }
}

/// Waits out the next backoff delay after `error`, noting it for the heartbeat.
async fn pause(health: &Health, error: &AgentError, delays: &mut impl Iterator<Item = Duration>) {
    let delay = delays.next().unwrap_or(Duration::from_secs(60));
    warn!(%error, retry_in_ms = delay.as_millis() as u64, "lost contact with the server; trying again");
    health.failed(&error.to_string());
    tokio::time::sleep(delay).await;
}

/// Runs one command to its end and says how it went.
async fn execute(ctx: &Context, command: &Command) -> CommandResult {
    let failed = |error: AgentError| CommandResult { outcome: CommandOutcome::Failed, message: error.to_string(), snapshot_id: None };
    match command.action {
        CommandAction::Push { full } => {
            let options = PushOptions { wait: false, full, ..PushOptions::default() };
            match push(ctx, &options).await {
                Ok(report) => CommandResult {
                    outcome: CommandOutcome::Succeeded,
                    message: format!("{} snapshot pushed: {}", kind(&report), report.message),
                    snapshot_id: Some(report.snapshot.snapshot_id),
                },
                Err(error) => failed(error),
            }
        }
        CommandAction::LoadStructure => match push(ctx, &PushOptions { wait: false, ..PushOptions::default() }).await {
            Ok(report) => CommandResult {
                outcome: CommandOutcome::Succeeded,
                message: format!("structure reloaded with a {} snapshot: {}", kind(&report), report.message),
                snapshot_id: Some(report.snapshot.snapshot_id),
            },
            Err(error) => failed(error),
        },
        CommandAction::Check => {
            let mut out = Vec::new();
            let outcome = check(ctx, &mut out).await;
            let lines = String::from_utf8_lossy(&out).into_owned();
            match outcome {
                Ok(()) => CommandResult { outcome: CommandOutcome::Succeeded, message: lines, snapshot_id: None },
                Err(error) => CommandResult { outcome: CommandOutcome::Failed, message: format!("{lines}{error}"), snapshot_id: None },
            }
        }
    }
}

fn kind(report: &super::push::PushReport) -> &'static str {
    match report.snapshot.kind {
        roster_proto::manifest::SnapshotKind::Full => "full",
        roster_proto::manifest::SnapshotKind::Delta => "delta",
    }
}

/// Reports a result; one the server already has counts as reported.
async fn report(client: &ServerClient, unreported: &Unreported) -> Result<(), AgentError> {
    match client.report(unreported.command, &unreported.result).await {
        Ok(()) => Ok(()),
        Err(error) if already_reported(&error) => {
            info!(command_id = %unreported.command, "the server had this result already");
            Ok(())
        }
        // Refused for good (the command is gone with its job, the body is refused, the agent was
        // revoked): reporting it again would block every later command; the result is dropped.
        Err(error) if error.status().is_some_and(|status| status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS) => {
            warn!(command_id = %unreported.command, %error, "the server refused the result; it is dropped");
            Ok(())
        }
        Err(error) => Err(Stage::Report.err(error)),
    }
}

fn already_reported(error: &HttpError) -> bool {
    error.status() == Some(StatusCode::CONFLICT) && error.problem_type() == Some(ProblemKind::CommandAlreadyReported.uri())
}

/// After the DC refused the bind's credentials, the heartbeat tries again
/// only this much later: the password is wrong until someone changes it,
/// and every try counts towards the account's lockout.
const PROBE_AFTER_BAD_CREDENTIALS: Duration = Duration::from_secs(3600);

/// Heartbeats until aborted: the first at once, then every
/// `options.heartbeat_every`; the DC is probed at the first and then every
/// `options.dc_probe_every` (the last answer is repeated between).
async fn heartbeats(ctx: Context, client: Arc<ServerClient>, health: Arc<Health>, options: RunOptions, lease_said: channel::Sender<bool>) {
    let mut tick = tokio::time::interval(options.heartbeat_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dc_reachable = false;
    let mut active: Option<bool> = None;
    let mut next_probe = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if tokio::time::Instant::now() >= next_probe {
            let probed = dc_answers(&ctx).await;
            next_probe = tokio::time::Instant::now()
                + match &probed {
                    Err(error) if bad_credentials(error) => PROBE_AFTER_BAD_CREDENTIALS,
                    _ => options.dc_probe_every,
                };
            dc_reachable = match probed {
                Ok(()) => true,
                Err(error) => {
                    health.failed(&error.to_string());
                    false
                }
            };
        }
        let beat = Heartbeat {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            host_name: crate::platform::hostname().unwrap_or_else(|| "unknown".to_owned()),
            os: crate::platform::os_description(),
            dc_reachable,
            last_error: health.take_error(),
        };
        if let Err(error) = client.heartbeat(&beat).await {
            warn!(error = %Stage::Heartbeat.err(error), "heartbeat not delivered");
            if let Some(lost) = beat.last_error {
                health.failed_unless_newer(&lost);
            }
        }
        // Renews the job's lease while this agent holds it (a push may take
        // longer than the lease), or takes it over from a silent holder.
        match client.lease().await {
            Ok(lease) if Some(lease.active) != active => {
                match lease.active {
                    true => info!(fencing_token = lease.fencing_token, "this agent holds the job's lease: it runs the job's commands"),
                    false => info!(until = %lease.expires_at, "another agent of the job holds its lease: this one stands by"),
                }
                active = Some(lease.active);
                lease_said.send_replace(lease.active);
            }
            Ok(_) => {}
            Err(error) => warn!(error = %Stage::Lease.err(error), "could not ask for the job's lease"),
        }
    }
}

/// True for the DC's "invalid credentials" (LDAP result 49).
fn bad_credentials(error: &AgentError) -> bool {
    matches!(error.cause.as_ref(), Cause::LdapResult { rc: 49, .. })
}

/// Whether the DC answers: a connection, a bind, a rootDSE read.
async fn dc_answers(ctx: &Context) -> Result<(), AgentError> {
    let settings = ctx.ldap_settings()?;
    let mut directory = Directory::connect(&settings).await?;
    let answered = directory.directory_info(settings.base_dn.as_deref()).await.map(|_| ());
    directory.close().await;
    answered
}

fn read_unreported(state: &StateDir) -> Result<Option<Unreported>, AgentError> {
    let path = state.unreported_result_path();
    match fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(unreported) => Ok(Some(unreported)),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "an unreadable unreported result is dropped");
                forget_unreported(state);
                Ok(None)
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Stage::Config.err(Cause::io("cannot read", path, e))),
    }
}

/// Writes the result down (to a temporary file, then renamed, so a crash
/// leaves the old one or the new one whole).
fn write_unreported(state: &StateDir, unreported: &Unreported) -> Result<(), AgentError> {
    let path = state.unreported_result_path();
    let temporary = path.with_extension("json.tmp");
    let text = serde_json::to_vec(unreported).map_err(|e| Stage::Config.err(format!("encoding a command result: {e}")))?;
    fs::write(&temporary, text)
        .and_then(|()| fs::rename(&temporary, &path))
        .map_err(|e| Stage::Config.err(Cause::io("cannot write", &path, e)))
}

fn forget_unreported(state: &StateDir) {
    let path = state.unreported_result_path();
    if let Err(e) = fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(path = %path.display(), error = %e, "could not remove a reported result");
    }
}
