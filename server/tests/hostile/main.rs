//! Attacks on a real server on 127.0.0.1, one module per part of issue 10,
//! each showing that the attack now fails harmlessly.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod writer;
