//! `roster-agent`: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use roster_agent::cli::{Cli, run};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    roster_agent::install_crypto_provider();
    let cli = Cli::parse();
    roster_agent::logging::init(cli.common.log_format)?;
    match run(cli, roster_agent::config::process_env()).await {
        Ok(status) => Ok(ExitCode::from(status)),
        Err(error) => {
            eprintln!("roster-agent: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
