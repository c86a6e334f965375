//! `roster-agent`: parses the command line and hands over to the library.
//! Under the Windows service manager, `run` hands over to it instead
//! (`platform::service`).

use std::process::ExitCode;

use clap::Parser;
use roster_agent::cli::{Cli, run};

fn main() -> anyhow::Result<ExitCode> {
    roster_agent::install_crypto_provider();
    let cli = Cli::parse();
    roster_agent::logging::init(cli.common.log_format, cli.common.log_file.as_deref())?;
    let logs_to_file = cli.common.log_file.is_some();
    #[cfg(windows)]
    let cli = match roster_agent::platform::service::run_if_service(cli) {
        Ok(status) => return Ok(ExitCode::from(status)),
        Err(cli) => *cli,
    };
    let runtime = roster_agent::runtime()?;
    match runtime.block_on(run(cli, roster_agent::config::process_env())) {
        Ok(status) => Ok(ExitCode::from(status)),
        Err(error) => {
            if logs_to_file {
                tracing::error!(%error, "roster-agent failed");
            }
            eprintln!("roster-agent: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
