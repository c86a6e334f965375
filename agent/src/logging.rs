//! Structured logs to stderr (stdout carries results only), or appended
//! to a file (`--log-file`, for a service whose stderr goes nowhere),
//! filtered by `ROSTER_LOG` (default `info`), as text or JSON lines.

use std::fs::{self, OpenOptions};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// A log file past this size is moved aside (to `<file>.1`, replacing the
/// one before) when the agent starts, so it never grows without bound
/// across restarts.
pub const MAX_LOG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up logging: {0}")]
pub struct LoggingError(String);

/// Installs the global subscriber: to `file` when given, else stderr.
pub fn init(format: LogFormat, file: Option<&Path>) -> Result<(), LoggingError> {
    let filter = EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = match file {
        None => {
            let builder = builder.with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
            match format {
                LogFormat::Text => builder.try_init(),
                LogFormat::Json => builder.json().try_init(),
            }
        }
        Some(path) => {
            let writer = Mutex::new(open_log_file(path)?);
            let builder = builder.with_writer(writer).with_ansi(false);
            match format {
                LogFormat::Text => builder.try_init(),
                LogFormat::Json => builder.json().try_init(),
            }
        }
    };
    result.map_err(|e| LoggingError(e.to_string()))
}

/// Opens `path` for appending (its folder created if need be), after
/// moving it aside if it grew past [`MAX_LOG_FILE_BYTES`].
fn open_log_file(path: &Path) -> Result<fs::File, LoggingError> {
    let failed = |what: &str, e: std::io::Error| LoggingError(format!("{what} {}: {e}", path.display()));
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(folder).map_err(|e| failed("cannot create the folder of", e))?;
    }
    if fs::metadata(path).is_ok_and(|m| m.len() > MAX_LOG_FILE_BYTES) {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".1");
        // Held open elsewhere (a viewer, an antivirus on Windows): appended to instead, rather than
        // keep a service from starting over its log.
        if let Err(e) = fs::rename(path, &aside) {
            eprintln!("roster-agent: cannot move {} aside ({e}); appending to it", path.display());
        }
    }
    OpenOptions::new().create(true).append(true).open(path).map_err(|e| failed("cannot open", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_file_past_its_size_is_moved_aside_at_start() {
        let dir = roster_testkit::TempDir::new("log-file");
        let path = dir.0.join("logs").join("agent.log");
        let mut file = open_log_file(&path).unwrap();
        std::io::Write::write_all(&mut file, b"first\n").unwrap();
        drop(file);
        // Small: appended to.
        let mut file = open_log_file(&path).unwrap();
        std::io::Write::write_all(&mut file, b"second\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "first\nsecond\n");
        // Past the limit: moved to .1, a fresh file begins.
        file.set_len(MAX_LOG_FILE_BYTES + 1).unwrap();
        drop(file);
        let file = open_log_file(&path).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 0);
        assert_eq!(fs::metadata(dir.0.join("logs").join("agent.log.1")).unwrap().len(), MAX_LOG_FILE_BYTES + 1);
    }
}
