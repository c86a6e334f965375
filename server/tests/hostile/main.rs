//! Attacks on a real server on 127.0.0.1, one module per part of issue 10,
//! each showing that the attack now fails harmlessly.

#[path = "../support/mod.rs"]
mod support;

mod writer;
