//! Roster's cloud API as a library: [`app::Application`] builds the whole
//! server (database, import worker, HTTP) from [`settings::Settings`], so
//! tests start exactly what `roster-server serve` starts, on port 0.

pub mod app;
pub mod db;
pub mod demo;
pub mod error;
pub mod fault;
pub mod http;
pub mod import;
pub mod ingest;
pub mod lease;
pub mod listen;
pub mod rate;
pub mod schedule;
pub mod service;
pub mod settings;
pub mod state;
pub mod store;
pub mod turns;
