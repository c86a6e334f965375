//! Structured logs to stderr (stdout carries results only), filtered by
//! `ROSTER_LOG` (default `info`), as text or JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up logging: {0}")]
pub struct LoggingError(String);

/// Installs the global subscriber.
pub fn init(format: LogFormat) -> Result<(), LoggingError> {
    let filter = EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).with_target(false).with_ansi(ansi);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| LoggingError(e.to_string()))
}
