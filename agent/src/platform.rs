//! What differs between Windows and Unix, behind one interface: the
//! default state directory, the host name, and creating a directory and
//! files only the agent's account (and administrators) can read.

#[cfg(windows)]
pub mod service;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// `%ProgramData%\Roster\Agent` on Windows.
#[cfg(windows)]
pub fn default_state_dir() -> PathBuf {
    let program_data = std::env::var_os("ProgramData").map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
    program_data.join("Roster").join("Agent")
}

/// `/var/lib/roster-agent` elsewhere.
#[cfg(not(windows))]
pub fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/roster-agent")
}

/// The machine's name, for the server's console.
#[cfg(windows)]
pub fn hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
}

/// The machine's name, for the server's console.
#[cfg(not(windows))]
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Completes when the process is asked to stop: SIGTERM (systemd, `kill`)
/// or SIGINT (Ctrl-C). Should the handlers not install, it never completes
/// and the process ends the default way.
#[cfg(unix)]
pub async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut terminate), Ok(mut interrupt)) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// Completes when the process is asked to stop: Ctrl-C or Ctrl-Break in a
/// console, or the console closing.
#[cfg(windows)]
pub async fn stop_requested() {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    match (ctrl_c(), ctrl_break(), ctrl_close()) {
        (Ok(mut c), Ok(mut brk), Ok(mut close)) => {
            tokio::select! {
                _ = c.recv() => {}
                _ = brk.recv() => {}
                _ = close.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// The operating system, for the server's console: its family and, where
/// the system says, its release (`linux 6.1.0-28-amd64`, `windows`).
pub fn os_description() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    match release {
        Some(release) => format!("{} {release}", std::env::consts::OS),
        None => std::env::consts::OS.to_owned(),
    }
}

/// Creates `path` (and parents) readable by the owner only (0700).
#[cfg(unix)]
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Creates `path` (and parents) and replaces its ACL with full control for
/// SYSTEM, Administrators and the current account only, so files created
/// inside (the key) are never readable by other users. `%ProgramData%`
/// would otherwise let every local user read them.
#[cfg(windows)]
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)?;
    let mut grants = vec!["*S-1-5-18:(OI)(CI)F".to_owned(), "*S-1-5-32-544:(OI)(CI)F".to_owned()];
    if let (Ok(domain), Ok(user)) = (std::env::var("USERDOMAIN"), std::env::var("USERNAME")) {
        // SYSTEM shows up as the machine account (NAME$), granted above.
        if !user.ends_with('$') {
            grants.push(format!("{domain}\\{user}:(OI)(CI)F"));
        }
    }
    let output = std::process::Command::new("icacls").arg(path).arg("/inheritance:r").arg("/grant:r").args(&grants).arg("/Q").output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "icacls could not restrict access to {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stdout).trim()
        )))
    }
}

/// A directory elsewhere (no permission model to apply).
#[cfg(not(any(unix, windows)))]
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)
}

/// Creates a new file (failing if it exists) with mode 0600 from the start,
/// so it is never readable by others, not even briefly.
#[cfg(unix)]
pub fn create_private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// Creates a new file (failing if it exists); it inherits the ACL of the
/// directory made by [`create_private_dir`].
#[cfg(not(unix))]
pub fn create_private_file(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_files_and_dirs_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("roster-agent-platform-{}", uuid::Uuid::new_v4())).join("state");
        create_private_dir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let file = dir.join("agent.key");
        drop(create_private_file(&file).unwrap());
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(create_private_file(&file).is_err(), "an existing file is never reused");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn hostname_is_known() {
        assert!(hostname().is_some_and(|h| !h.contains('\n')));
    }
}
