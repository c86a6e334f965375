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
