//! The command line: clap definitions, and [`run`], which calls the
//! command and prints its result (stdout: results; stderr: logs).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use roster_proto::scope::{JobScope, WHOLE_DOMAIN};
use serde::Serialize;
use tracing::error;

use crate::commands::Context;
use crate::commands::check::check;
use crate::commands::push::{PushOptions, push};
use crate::commands::read::{ReadOptions, read};
use crate::commands::register::{RegisterOptions, register};
use crate::commands::rotate::rotate_key;
use crate::commands::run::{RunLock, RunOptions};
use crate::config::EnvMap;
use crate::error::{AgentError, Stage};
use crate::platform;
use crate::secret::Secret;

const ABOUT: &str = "Roster agent: reads Active Directory over LDAP and pushes signed snapshots to the Roster server.";

const LONG_ABOUT: &str = "Roster agent: reads Active Directory over LDAP and pushes signed snapshots to the Roster server.

It only ever connects out: to a domain controller (LDAPS, or LDAP with StartTLS) and to the Roster server (HTTPS).

Typical use:
  roster-agent register --server https://roster.example.com --token <one-time token>
  roster-agent check        # preflight: LDAP, rootDSE, server, job, counts per search base
  roster-agent push         # read (changes only, when the server allows), sign, upload, commit, wait for the import
  roster-agent push --full  # the same with a full snapshot
  roster-agent run          # the service: waits for the server's commands, heartbeats; one per state directory

LDAP settings come from the config file's [ldap] section, overridden by ROSTER_LDAP_URL, ROSTER_LDAP_BIND_DN, \
ROSTER_LDAP_PASSWORD_FILE (or ROSTER_LDAP_PASSWORD), ROSTER_LDAP_BASE_DN, ROSTER_LDAP_PAGE_SIZE, ROSTER_LDAP_STARTTLS, \
ROSTER_LDAP_CA_FILE and ROSTER_LDAP_ALLOW_INSECURE. Server settings: [server] ca_file / ROSTER_SERVER_CA_FILE, \
max_retries / ROSTER_HTTP_MAX_RETRIES. Logs go to stderr, or to --log-file / ROSTER_LOG_FILE (ROSTER_LOG filters them).";

/// `roster-agent`'s arguments.
#[derive(Debug, Parser)]
#[command(name = "roster-agent", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    // Options every subcommand takes (state dir, config file, log format).
    #[command(flatten)]
    pub common: CommonArgs,
    // What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Arguments every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Folder holding the agent's identity (agent.json, agent.key), default config file and spool
    #[arg(long, global = true, value_name = "DIR", env = "ROSTER_AGENT_STATE_DIR", default_value_os_t = platform::default_state_dir())]
    pub state_dir: PathBuf,
    /// Config file (TOML) [default: <state-dir>/roster-agent.toml, used if it exists]
    #[arg(long, global = true, value_name = "FILE", env = "ROSTER_AGENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Append logs to this file instead of stderr (a service's stderr goes nowhere); moved to FILE.1 at start past 16 MiB
    #[arg(long, global = true, value_name = "FILE", env = "ROSTER_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    /// Log format on stderr (or in --log-file)
    #[arg(long, global = true, value_enum, env = "ROSTER_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register this agent with a Roster server using a one-time token (once per machine)
    Register(RegisterArgs),
    /// Preflight: check LDAP, the rootDSE, the server and the job, and count users and groups in scope
    Check,
    /// Read the directory (a delta of the changes when the server allows, else in full), upload a signed snapshot, commit it and wait for the import; prints one JSON object
    Push(PushArgs),
    /// Read the directory into a folder of chunks plus the unsigned manifest, without a server; prints one JSON object
    Read(ReadArgs),
    /// Replace the agent's key pair (the server is told with a request signed by the old key); prints one JSON object
    RotateKey,
    /// Run as a service: wait for the server's commands (pushes, structure reloads, checks), run and report them, and send a heartbeat every 30 s, until SIGTERM or Ctrl-C; one per state directory
    Run(RunArgs),
}

/// `run`'s arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Seconds each poll for commands is held open by the server
    #[arg(long, value_name = "SECONDS", default_value_t = roster_proto::agent::MAX_COMMAND_WAIT_SECS, value_parser = clap::value_parser!(u32).range(1..=i64::from(roster_proto::agent::MAX_COMMAND_WAIT_SECS)))]
    pub poll_wait: u32,
    /// Seconds between heartbeats
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub heartbeat_every: u64,
    /// Continuous sync: do not ask the DC for change notifications; poll
    /// its highestCommittedUSN only
    #[arg(long)]
    pub no_notifications: bool,
    /// Continuous sync: seconds between reads of the DC's
    /// highestCommittedUSN while polling (4 times that while notifications
    /// arrive)
    #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub usn_poll_every: u64,
    /// Continuous sync: milliseconds of quiet after a change before its
    /// delta is pushed, so a bulk change is one delta (30 s at most)
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(0..=30_000))]
    pub settle_ms: u64,
}

/// `register`'s arguments.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The Roster server's URL, e.g. https://roster.example.com (a path prefix is kept)
    #[arg(long, value_name = "URL", env = "ROSTER_SERVER_URL")]
    pub server: String,
    /// The one-time registration token an admin created for the job; `-`
    /// reads it from standard input. Prefer ROSTER_REGISTRATION_TOKEN or `-`:
    /// a command line is visible to other users of the machine
    #[arg(long, value_name = "TOKEN", env = "ROSTER_REGISTRATION_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub token: Secret,
    /// Replace an existing registration in the state directory
    #[arg(long)]
    pub force: bool,
}

/// `push`'s arguments.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Do not wait for the import session the commit starts
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the import session, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub wait_timeout: u64,
    /// Send a full snapshot even where the server would take a delta
    #[arg(long)]
    pub full: bool,
}

/// `read`'s arguments.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Folder for the chunks and manifest.json (must not exist or be empty; removed if the read fails)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// OU whose users to read, relative to the base DN (e.g. "OU=Copenhagen,OU=Staff"); repeatable; "*" = the whole domain
    #[arg(long = "path", value_name = "REL", default_value = WHOLE_DOMAIN)]
    pub paths: Vec<String>,
    /// Where to read groups, same form; repeatable [default: the whole domain]
    #[arg(long = "group-path", value_name = "REL")]
    pub group_paths: Vec<String>,
    /// An LDAP filter users must also match, e.g. "(department=Sales)"
    #[arg(long = "filter", value_name = "LDAP_FILTER")]
    pub user_filter: Option<String>,
    /// Read only what changed after this USN (a delta, as `push` would send
    /// on a base watermark with this USN; the manifest's watermark.usn of an
    /// earlier read is the usual value)
    #[arg(long = "since-usn", value_name = "USN")]
    pub since_usn: Option<u64>,
}

/// Runs the command and prints its result. Returns the process exit
/// status (0 = success, 1 = the import session failed); errors are
/// returned for the caller to print. `run` ends when the process is asked
/// to stop ([`crate::platform::stop_requested`]).
pub async fn run(cli: Cli, env: EnvMap) -> Result<u8, AgentError> {
    run_until(cli, env, crate::platform::stop_requested()).await
}

/// [`run`], with `run`'s end given by `stop` (the Windows service manager's
/// stop, say).
pub async fn run_until(cli: Cli, env: EnvMap, stop: impl std::future::Future<Output = ()>) -> Result<u8, AgentError> {
    let ctx = Context::load(&cli.common.state_dir, cli.common.config.as_deref(), &env)?;
    match cli.command {
        Command::Register(args) => {
            let _lock = RunLock::acquire_existing(&ctx.state)?;
            let token = token_from(args.token, std::io::stdin().lock())?;
            let options = RegisterOptions { server_url: args.server, token, force: args.force };
            let report = register(&ctx, &options).await?;
            println!("registered agent {} for job {} (tenant {})", report.agent_id, report.job_id, report.tenant_id);
            println!("server: {}", report.server_url);
            println!("identity stored in {} (agent.json, agent.key)", report.state_dir);
            Ok(0)
        }
        Command::Check => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            check(&ctx, &mut out).await?;
            Ok(0)
        }
        Command::Push(args) => {
            // The service pushes from the same spool: one at a time.
            let _lock = RunLock::acquire(&ctx.state)?;
            let options = PushOptions {
                wait: !args.no_wait,
                wait_timeout: Duration::from_secs(args.wait_timeout),
                full: args.full,
                skip_empty_delta: false,
            };
            let report = push(&ctx, &options).await?;
            print_json(&report)?;
            if report.import_failed() {
                error!("the import session failed");
                return Ok(1);
            }
            Ok(0)
        }
        Command::RotateKey => {
            // A running service signs with the key it loaded at start.
            let _lock = RunLock::acquire(&ctx.state)?;
            let report = rotate_key(&ctx).await?;
            print_json(&report)?;
            Ok(0)
        }
        Command::Run(args) => {
            let options = RunOptions {
                poll_wait_secs: args.poll_wait,
                heartbeat_every: Duration::from_secs(args.heartbeat_every),
                watch: crate::watch::WatchOptions {
                    notifications: !args.no_notifications,
                    usn_poll_every: Duration::from_secs(args.usn_poll_every),
                    ..crate::watch::WatchOptions::default()
                },
                settle: Duration::from_millis(args.settle_ms),
                ..RunOptions::default()
            };
            crate::commands::run::run(&ctx, &options, stop).await?;
            Ok(0)
        }
        Command::Read(args) => {
            let options = ReadOptions {
                out: args.out,
                scope: JobScope { relative_paths: args.paths, group_paths: args.group_paths, user_filter: args.user_filter },
                since_usn: args.since_usn,
            };
            let report = read(&ctx, &options).await?;
            print_json(&report)?;
            Ok(0)
        }
    }
}

/// The registration token as given, or for `-` the first line of `input`
/// (so it need not appear on a command line others can list).
fn token_from(token: Secret, mut input: impl std::io::BufRead) -> Result<Secret, AgentError> {
    if token.expose() != "-" {
        return Ok(token);
    }
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| Stage::Config.err(format!("reading the registration token from standard input: {e}")))?;
    match line.trim() {
        "" => Err(Stage::Config.err("--token - read no registration token from standard input".to_owned())),
        token => Ok(Secret::new(token)),
    }
}

/// Keeps the token out of every `Debug` of the parsed arguments.
fn parse_secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value))
}

fn print_json(value: &impl Serialize) -> Result<(), AgentError> {
    let json = serde_json::to_string(value).map_err(|e| Stage::Spool.err(e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    // A closed stdout is not worth failing a finished push for.
    let _ignored = writeln!(stdout, "{json}").and_then(|()| stdout.flush());
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn a_dash_reads_the_registration_token_from_standard_input() {
        let given = token_from(Secret::new("rt_given"), std::io::Cursor::new("ignored\n")).unwrap();
        assert_eq!(given.expose(), "rt_given");
        let piped = token_from(Secret::new("-"), std::io::Cursor::new(" rt_piped \nmore\n")).unwrap();
        assert_eq!(piped.expose(), "rt_piped");
        assert!(token_from(Secret::new("-"), std::io::Cursor::new("")).is_err(), "no token on stdin is an error");
        // The environment variable works as the flag does.
        let from_env = Cli::try_parse_from(["roster-agent", "register", "--server", "https://x"]);
        if std::env::var_os("ROSTER_REGISTRATION_TOKEN").is_none() {
            assert!(from_env.is_err(), "without the flag or ROSTER_REGISTRATION_TOKEN a token is required");
        }
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["roster-agent", "push", "--state-dir", "/tmp/x", "--no-wait", "--config", "/etc/a.toml"]).unwrap();
        assert_eq!(cli.common.state_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cli.common.config, Some(PathBuf::from("/etc/a.toml")));
        assert!(matches!(cli.command, Command::Push(PushArgs { no_wait: true, wait_timeout: 600, full: false })));
        let full = Cli::try_parse_from(["roster-agent", "push", "--full"]).unwrap();
        assert!(matches!(full.command, Command::Push(PushArgs { no_wait: false, full: true, .. })));
        let read = Cli::try_parse_from(["roster-agent", "read", "--out", "o", "--path", "OU=A", "--path", "OU=B"]).unwrap();
        let Command::Read(args) = read.command else { panic!("not read") };
        assert_eq!(args.paths, ["OU=A", "OU=B"]);
        let register = Cli::try_parse_from(["roster-agent", "register", "--server", "https://x", "--token", "rt_secret"]).unwrap();
        assert!(!format!("{register:?}").contains("rt_secret"));
        let default = Cli::try_parse_from(["roster-agent", "read", "--out", "o"]).unwrap();
        let Command::Read(args) = default.command else { panic!("not read") };
        assert_eq!(args.paths, ["*"]);
    }
}
