//! `roster-agent run` under the Windows service manager (Windows only).
//!
//! The service manager starts the process and waits for it to connect
//! (`StartServiceCtrlDispatcher`) on its main thread; [`run_if_service`]
//! tries that first. Started from a console instead, the connection fails
//! at once and the command line runs as usual. As a service, `run` runs on
//! the dispatcher's thread in its own tokio runtime; the manager's Stop and
//! Shutdown end it the way SIGTERM does elsewhere (`platform::stop_requested`),
//! and it reports Running, StopPending with a wait hint, then Stopped with
//! an exit code the service's recovery actions see (1 on failure).
//!
//! Not compiled on the project's Linux machines (no Windows target there):
//! written against windows-service 0.8's documented API and its
//! `ping_service` example; see the session note of issue 11.

use std::ffi::OsString;
use std::sync::Mutex;
use std::time::Duration;

use windows_service::service::{ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult, ServiceStatusHandle};
use windows_service::{define_windows_service, service_dispatcher};

use crate::cli::{Cli, Command, run_until};

/// The service's name, as `scripts/Start-RosterAgent.ps1` installs it (an
/// own-process service: the manager does not look at it, but says it).
pub const SERVICE_NAME: &str = "RosterAgent";

/// How long the manager is told a stop may take.
const STOP_WAIT_HINT: Duration = Duration::from_secs(20);

/// The command line, handed from `main` to the service's thread.
static PENDING: Mutex<Option<Cli>> = Mutex::new(None);
/// The exit status, handed back.
static OUTCOME: Mutex<Option<u8>> = Mutex::new(None);

define_windows_service!(ffi_service_main, service_main);

/// Runs `cli` as the service when it is `run` and the service manager
/// started the process, and returns its exit status; otherwise gives the
/// command line back to run as usual.
pub fn run_if_service(cli: Cli) -> Result<u8, Box<Cli>> {
    if !matches!(cli.command, Command::Run(_)) {
        return Err(Box::new(cli));
    }
    if let Ok(mut pending) = PENDING.lock() {
        *pending = Some(cli);
    }
    let dispatched = service_dispatcher::start(SERVICE_NAME, ffi_service_main);
    let left = PENDING.lock().ok().and_then(|mut pending| pending.take());
    match (dispatched, left) {
        // Not started by the service manager: the service never ran.
        (Err(_), Some(cli)) => Err(Box::new(cli)),
        _ => Ok(OUTCOME.lock().ok().and_then(|mut outcome| outcome.take()).unwrap_or(1)),
    }
}

fn service_main(_arguments: Vec<OsString>) {
    serve();
}

/// Runs `run` until the manager stops it, and hands back its exit status.
fn serve() {
    let Some(cli) = PENDING.lock().ok().and_then(|mut pending| pending.take()) else { return };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Mutex::new(Some(stop_tx));
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(stop) = stop_tx.lock().ok().and_then(|mut stop| stop.take()) {
                let _ = stop.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = match service_control_handler::register(SERVICE_NAME, handler) {
        Ok(handle) => handle,
        Err(error) => {
            tracing::error!(error = ?error, "cannot register with the service manager");
            return;
        }
    };
    report(&handle, ServiceState::Running, ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN, 0, Duration::ZERO);
    let status = match crate::runtime() {
        Ok(runtime) => {
            let stopped = async {
                let _ = stop_rx.await;
                report(&handle, ServiceState::StopPending, ServiceControlAccept::empty(), 0, STOP_WAIT_HINT);
            };
            match runtime.block_on(run_until(cli, crate::config::process_env(), stopped)) {
                Ok(status) => status,
                Err(error) => {
                    tracing::error!(%error, "roster-agent failed");
                    1
                }
            }
        }
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            1
        }
    };
    // Handed back before Stopped is reported: the dispatcher may return to `main` at once after it.
    if let Ok(mut outcome) = OUTCOME.lock() {
        *outcome = Some(status);
    }
    report(&handle, ServiceState::Stopped, ServiceControlAccept::empty(), u32::from(status), Duration::ZERO);
}

/// Tells the manager the service's state; a non-zero `exit_code` is a
/// service-specific error, which the service's recovery actions act on.
fn report(handle: &ServiceStatusHandle, state: ServiceState, accepted: ServiceControlAccept, exit_code: u32, wait_hint: Duration) {
    let exit_code = match exit_code {
        0 => ServiceExitCode::Win32(0),
        code => ServiceExitCode::ServiceSpecific(code),
    };
    let status = ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accepted,
        exit_code,
        checkpoint: 0,
        wait_hint,
        process_id: None,
    };
    if let Err(error) = handle.set_service_status(status) {
        tracing::warn!(error = ?error, ?state, "cannot tell the service manager");
    }
}
