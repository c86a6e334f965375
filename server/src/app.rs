//! Builds and runs the server: opens the database (running migrations),
//! binds the listener, starts the import worker, serves HTTP or HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::db::Db;
use crate::import::{run_scheduler, run_worker};
use crate::listen;
use crate::settings::Settings;
use crate::state::AppState;

/// A non-blocking listener on `address`. With `SO_REUSEADDR`, a restarted
/// server gets its port back at once, even while connections of the
/// previous process linger in `TIME_WAIT`.
fn listen(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)?.into_std()
}

/// Gives names stored before migration 0003 their key, saying what it did.
async fn rekey_names(db: &Db) -> anyhow::Result<()> {
    let done = crate::store::name_keys::rekey_names(db).await.context("re-keying names stored before migration 0003")?;
    if done.rekeyed > 0 {
        tracing::info!(names = done.rekeyed, "re-keyed job and access names stored before migration 0003");
    }
    for collision in &done.collisions {
        tracing::warn!(
            table = collision.table,
            id = %collision.id,
            held_by = %collision.held_by,
            "a name stored before migration 0003 looks the same as another's: it keeps its old key, and look-ups by that name find the other"
        );
    }
    Ok(())
}

/// A server, bound and ready to run.
#[derive(Debug)]
pub struct Application {
    state: AppState,
    listener: std::net::TcpListener,
    address: SocketAddr,
    tls: Option<crate::settings::TlsFiles>,
}

impl Application {
    /// Connects to the database, migrates it, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = Db::connect(&settings.database_url)
            .await
            .with_context(|| format!("opening {}", crate::db::redact_url(&settings.database_url)))?;
        rekey_names(&db).await?;
        let listener = listen(settings.listen).with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr()?;
        let console = crate::settings::ConsoleSettings::new(settings.public_url.as_deref(), address, settings.tls.is_some());
        let state = AppState::new(db, settings.limits.clone(), console).await?;
        Ok(Application { state, listener, address, tls: settings.tls })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process ends.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tokio::spawn(run_worker(self.state.db.clone(), self.state.imports.clone(), Arc::clone(&self.state.limits)));
        tokio::spawn(run_scheduler(self.state.db.clone(), Arc::clone(&self.state.limits), self.state.commands.clone()));
        let limits = Arc::clone(&self.state.limits);
        let service = crate::http::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            None => listen::http(self.listener, &limits)?.serve(service).await?,
            Some(tls) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                    .await
                    .with_context(|| format!("loading TLS certificate {} and key {}", tls.cert.display(), tls.key.display()))?;
                listen::https(self.listener, config, &limits)?.serve(service).await?;
            }
        }
        Ok(())
    }
}
