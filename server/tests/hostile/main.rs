//! Attacks on a real server on 127.0.0.1, each reproduced bounded in time
//! and size and shown to fail harmlessly (issue 10): one module per part.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod data;
mod writer;
