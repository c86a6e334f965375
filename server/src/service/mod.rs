//! The APIs' operations as functions, one per operation: each checks its
//! input, runs its transaction and gathers its answer, so the handlers in
//! `http::admin` and `http::agent` only parse, authorise, call and answer. They return
//! [`crate::error::AppError`], whose causes say why an operation refused.

pub mod agents;
pub mod imports;
pub mod jobs;
pub mod links;
pub mod sessions;
pub mod tenants;
pub mod uploads;

/// Runs heavy pure work (structure, explain over a whole directory state)
/// on tokio's blocking pool, so an expensive request of one tenant never
/// holds an async worker that other tenants' requests need.
pub async fn off_the_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, crate::error::AppError> {
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// Runs a whole read (a future: the queries, the decoding of every stored
/// record, building the plan context, and the planning between its
/// awaits) on tokio's blocking pool, driven there by `Handle::block_on`.
/// A preview or a view of a big directory is CPU-bound between its
/// awaits; polled on an async worker it would hold that worker for
/// seconds, however briefly each query waits.
pub async fn read_off_the_workers<T: Send + 'static>(
    read: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, crate::error::AppError> {
    let runtime = tokio::runtime::Handle::current();
    off_the_workers(move || runtime.block_on(read)).await
}
