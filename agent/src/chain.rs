//! One line of text for an error and its sources, for messages. A leaf
//! module, so `error`, `http` and `ldap` can all use it without depending
//! on each other.

/// An error and its sources, joined by `: ` (reqwest and ldap3 put the
/// useful part in the sources).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
