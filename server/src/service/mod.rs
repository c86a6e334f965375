//! The APIs' operations as functions, one per operation: each checks its
//! input, runs its transaction and gathers its answer, so the handlers in
//! `http::admin` and `http::agent` only parse, authorise, call and answer. They return
//! [`crate::error::AppError`], whose causes say why an operation refused.

pub mod admins;
pub mod agents;
pub mod audit;
pub mod commands;
pub mod imports;
pub mod jobs;
pub mod leases;
pub mod links;
pub mod passwords;
pub mod sessions;
pub mod tenants;
pub mod uploads;

/// Runs heavy pure work on tokio's blocking pool, so an expensive request
/// of one tenant never holds an async worker that other tenants' requests
/// need.
async fn off_the_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, crate::error::AppError> {
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// Runs a whole read (a future: the queries, the decoding of every stored
/// record, building the plan context, and the planning between its
/// awaits) on tokio's blocking pool, driven there by `Handle::block_on`.
/// A preview or a view of a big directory is CPU-bound between its
/// awaits; polled on an async worker it would hold that worker for
/// seconds, however briefly each query waits. A request dropped meanwhile
/// (its client gone, its deadline passed) stops the read at its next
/// await, so an abandoned preview does not keep a pooled connection and
/// its transaction to the end.
pub async fn read_off_the_workers<T: Send + 'static>(
    read: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, crate::error::AppError> {
    let runtime = tokio::runtime::Handle::current();
    // Dropped with this future: then `abandoned` resolves.
    let (_wanted, abandoned) = tokio::sync::oneshot::channel::<std::convert::Infallible>();
    let read = off_the_workers(move || {
        runtime.block_on(async move {
            tokio::select! {
                biased;
                value = read => Some(value),
                _ = abandoned => None,
            }
        })
    });
    match read.await? {
        Some(value) => Ok(value),
        // `None` comes only once this future (and `_wanted` with it) was
        // dropped, so no one is here to see it.
        None => std::future::pending().await,
    }
}
