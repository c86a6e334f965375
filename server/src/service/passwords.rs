//! Console passwords: the rules a new one must pass (a minimum length, not
//! one of the most common passwords, not the admin's own address), and
//! hashing and verifying them with argon2id. Hashing is slow on purpose
//! (tens of milliseconds), so callers run it off the async workers.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Fewest characters a password may have. NIST SP 800-63B asks for at
/// least 8 with a check against common passwords; admins of a directory
/// connector get more.
pub const MIN_CHARS: usize = 10;
/// Most characters: argon2 takes any length, but a megabyte "password" is
/// a way to make the server work, not a password.
pub const MAX_CHARS: usize = 256;

/// Why a new password is refused; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("the two passwords differ: type the same password in both fields")]
    Mismatch,
    #[error("the password has {0} characters: use at least {MIN_CHARS} (a few unrelated words make a good one)")]
    TooShort(usize),
    #[error("the password has {0} characters: use at most {MAX_CHARS}")]
    TooLong(usize),
    #[error("that is one of the most common passwords, which are tried first: choose another")]
    Common,
    #[error("the password contains your email address: choose another")]
    ContainsEmail,
    #[error("the password is one character repeated: choose another")]
    Repeated,
}

/// The common passwords, lower-cased.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("data/common-passwords.txt").lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect());

/// Checks a new password typed twice, for the admin with address `email`.
pub fn check(password: &str, repeated: &str, email: &str) -> Result<(), PasswordProblem> {
    if password != repeated {
        return Err(PasswordProblem::Mismatch);
    }
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordProblem::TooShort(chars));
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong(chars));
    }
    let lower = password.to_lowercase();
    let mut distinct = lower.chars();
    if let Some(first) = distinct.next()
        && distinct.all(|c| c == first)
    {
        return Err(PasswordProblem::Repeated);
    }
    // "Password2024!" is "password" with a suffix, and tried as early.
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace());
    if COMMON.contains(lower.as_str()) || (stem.chars().count() >= 4 && COMMON.contains(stem)) {
        return Err(PasswordProblem::Common);
    }
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if !email.is_empty() && (lower.contains(&email) || (local.chars().count() >= 4 && lower.contains(local))) {
        return Err(PasswordProblem::ContainsEmail);
    }
    Ok(())
}

/// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's
/// recommended minimum), spelled out so a crate upgrade cannot weaken it.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why hashing or verifying could not be done (not a wrong password).
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// The PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    argon2().hash_password(password.as_bytes()).map(|hash| hash.to_string()).map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the stored PHC string. A stored string that
/// does not parse is an error (the database is damaged), not a mismatch.
pub fn verify(password: &str, stored: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(stored).map_err(|e| HashError(e.to_string()))?;
    match argon2().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(HashError(e.to_string())),
    }
}

/// A hash to verify against when the address is unknown, so a sign-in
/// takes as long whether or not the account exists.
pub static DECOY_HASH: LazyLock<String> = LazyLock::new(|| hash("no account has this password").unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_are_judged() {
        let email = "Alice.Admin@corp.example";
        let cases: &[(&str, &str, Result<(), PasswordProblem>)] = &[
            ("correct horse battery staple", "correct horse battery staple", Ok(())),
            ("Tr0ub4dor&3xyz", "Tr0ub4dor&3xyz", Ok(())),
            ("correct horse battery staple", "correct horse battery stapl", Err(PasswordProblem::Mismatch)),
            ("short", "short", Err(PasswordProblem::TooShort(5))),
            ("ninechars", "ninechars", Err(PasswordProblem::TooShort(9))),
            // Counted in characters, not bytes.
            ("ééééééééé", "ééééééééé", Err(PasswordProblem::TooShort(9))),
            ("aaaaaaaaaaaa", "aaaaaaaaaaaa", Err(PasswordProblem::Repeated)),
            ("1234567890", "1234567890", Err(PasswordProblem::Common)),
            ("qwertyuiop", "qwertyuiop", Err(PasswordProblem::Common)),
            ("Password2024!", "Password2024!", Err(PasswordProblem::Common)),
            ("PASSWORD1234", "PASSWORD1234", Err(PasswordProblem::Common)),
            ("iloveyou!!!!", "iloveyou!!!!", Err(PasswordProblem::Common)),
            ("alice.admin-secret", "alice.admin-secret", Err(PasswordProblem::ContainsEmail)),
            ("my alice.admin@corp.example", "my alice.admin@corp.example", Err(PasswordProblem::ContainsEmail)),
        ];
        for (password, repeated, expected) in cases {
            assert_eq!(&check(password, repeated, email), expected, "{password:?}");
        }
        let long = "x".repeat(MAX_CHARS) + "y";
        assert_eq!(check(&long, &long, email), Err(PasswordProblem::TooLong(MAX_CHARS + 1)));
    }

    #[test]
    fn the_common_list_is_loaded() {
        assert!(COMMON.len() >= 9_900, "{}", COMMON.len());
        assert!(COMMON.contains("password") && COMMON.contains("dragon"));
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery staple").unwrap_or_default();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(matches!(verify("correct horse battery staple", &stored), Ok(true)));
        assert!(matches!(verify("correct horse battery stapler", &stored), Ok(false)));
        assert!(verify("anything", "not a phc string").is_err());
        // Salted: the same password hashes differently each time.
        assert_ne!(hash("same").unwrap_or_default(), hash("same").unwrap_or_default());
    }
}
