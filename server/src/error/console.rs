//! Why the console refuses a sign-in, a set-up link, a password or an
//! admin. Each message says what to do next.

use crate::service::passwords::PasswordProblem;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Unknown address, no password yet, or a wrong password: one answer
    /// for all, so the sign-in page does not tell who has an account.
    #[error("the email address or the password is wrong")]
    WrongCredentials,
    #[error("this set-up link is unknown, used or expired: ask an owner of your tenant (or the operator) for a new one")]
    SetupLink,
    #[error("{0}")]
    Password(#[from] PasswordProblem),
    #[error("`{0}` is not an email address (name@domain, at most 254 characters)")]
    Email(String),
    #[error("`{0}` is already an admin of another tenant: each address signs in to one tenant")]
    EmailTaken(String),
    #[error("{0} is the tenant's last owner: make another admin an owner first")]
    LastOwner(String),
}
