//! Attacks on a real server on 127.0.0.1 (issue 10), one module per part:
//! each reproduces an attack, bounded in time and size, and shows that it
//! now fails harmlessly.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod cpu;
