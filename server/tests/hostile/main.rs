//! Attacks on a real server on 127.0.0.1 (issue 10), each bounded in time
//! and size, each shown to fail harmlessly. One module per part of the
//! issue; the shared harness is the API tests' own (`tests/support`).

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod admin_tokens;
mod cpu;
mod data;
mod tokens;
mod writer;
