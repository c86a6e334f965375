//! Console admins and their sign-ins: adding an admin (a one-time set-up
//! link), setting the password, signing in and out, removing an admin.
//! Secrets (set-up links, session cookies) are 256-bit random and stored
//! as sha256; passwords as argon2id, hashed off the async workers.

use std::net::IpAddr;
use std::time::Instant;

use roster_proto::ConsoleAdminId;
use roster_proto::admin::{ActorKind, AdminRole, AuditAction};

use super::audit::{self, Caller};
use super::passwords;
use crate::db::Db;
use crate::error::{AppError, ConsoleError, LimitError, Missing};
use crate::rate::RateLimiter;
use crate::store::console::{self as console_store, AddedAdmin, ConsoleAdmin, SessionUse};
use crate::store::{self, UnixMillis, hash_secret, new_secret};

/// How long a set-up link works.
pub const SETUP_LINK_TTL_MS: i64 = UnixMillis::DAY_MS;
/// Longest address accepted (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 254;

/// A set-up link's secret; the console's page is `/setup?token=<secret>`.
#[derive(Debug, Clone)]
pub struct SetupLink {
    pub admin: ConsoleAdmin,
    pub secret: String,
    pub expires_at: UnixMillis,
}

impl SetupLink {
    /// The link on a console at `base` (`https://roster.example.com`).
    pub fn url(&self, base: &str) -> String {
        format!("{}/setup?token={}", base.trim_end_matches('/'), self.secret)
    }
}

/// The caller a console admin acts as.
pub fn caller_of(admin: &ConsoleAdmin) -> Caller {
    Caller { tenant: admin.tenant_id, role: admin.role, kind: ActorKind::Admin, id: Some(admin.id.to_string()), name: admin.email.clone() }
}

/// An address, checked loosely (one `@` with text on both sides, no spaces
/// or controls, not too long): the set-up link proves it works.
fn checked_email(email: &str) -> Result<String, ConsoleError> {
    let email = email.trim();
    let fine = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.') && !domain.ends_with('.'));
    if fine { Ok(email.to_owned()) } else { Err(ConsoleError::Email(email.chars().take(80).collect())) }
}

/// Adds an admin to the caller's tenant (owners only), or gives an existing
/// one a new set-up link, and returns the link (shown once). The tenant's
/// last owner is not demoted: the owners are counted in the transaction
/// that writes the change and its audit entry, holding the tenant's admins
/// ([`console_store::lock_owners`]).
pub async fn add_admin(db: &Db, caller: &Caller, email: &str, role: AdminRole) -> Result<SetupLink, AppError> {
    caller.may(AdminRole::Owner)?;
    let email = checked_email(email)?;
    let secret = new_secret("rst_setup_")?;
    let expires_at = UnixMillis(UnixMillis::now().0 + SETUP_LINK_TTL_MS);
    let mut tx = db.begin_write().await?;
    if !console_store::lock_owners(&mut tx, db.dialect, caller.tenant).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Tenant));
    }
    if role != AdminRole::Owner
        && let Some(existing) = console_store::admin_with_email(&mut tx, &email).await?
        && existing.tenant_id == caller.tenant
        && existing.role == AdminRole::Owner
        && console_store::count_owners(&mut tx, caller.tenant).await? <= 1
    {
        tx.rollback().await?;
        return Err(ConsoleError::LastOwner(existing.email).into());
    }
    match console_store::add_admin(&mut tx, caller.tenant, &email, role, &caller.name, &hash_secret(&secret), expires_at).await? {
        AddedAdmin::Added { admin, existed } => {
            let summary = if existed {
                format!("gave {} (now {}) a new set-up link", admin.email, role.as_str())
            } else {
                format!("added {} as {}", admin.email, role.as_str())
            };
            audit::record_in(&mut tx, caller, AuditAction::AdminAdded, Some(admin.id.to_string()), &summary).await?;
            tx.commit().await?;
            Ok(SetupLink { admin, secret, expires_at })
        }
        AddedAdmin::EmailTaken => {
            tx.rollback().await?;
            Err(ConsoleError::EmailTaken(email).into())
        }
    }
}

/// The admin a set-up link is for, while it works.
pub async fn setup_link(db: &Db, secret: &str) -> Result<ConsoleAdmin, AppError> {
    console_store::admin_by_setup(db, &hash_secret(secret), UnixMillis::now()).await?.ok_or(ConsoleError::SetupLink.into())
}

/// Spends a set-up link: checks the new password (typed twice), stores its
/// hash and ends the admin's other sessions, audited in the same
/// transaction (the password is hashed before it begins).
pub async fn set_password(db: &Db, limits: &SignInLimits, secret: &str, password: &str, repeated: &str) -> Result<ConsoleAdmin, AppError> {
    let admin = setup_link(db, secret).await?;
    passwords::check(password, repeated, &admin.email).map_err(ConsoleError::Password)?;
    let password = password.to_owned();
    let hashed = hashed(limits, move || passwords::hash(&password)).await??;
    let mut tx = db.begin_write().await?;
    let Some(admin) = console_store::set_password(&mut tx, &hash_secret(secret), &hashed, UnixMillis::now()).await? else {
        tx.rollback().await?;
        return Err(ConsoleError::SetupLink.into());
    };
    let summary = format!("{} set a password", admin.email);
    audit::record_in(&mut tx, &caller_of(&admin), AuditAction::AdminPasswordSet, Some(admin.id.to_string()), &summary).await?;
    tx.commit().await?;
    Ok(admin)
}

/// The sign-in limits: attempts per account from one address (strict),
/// per account from anywhere (loose, so one address cannot lock an admin
/// out), per client address, and how many password hashes run at once
/// (each takes 19 MiB and tens of milliseconds of a core).
#[derive(Debug)]
pub struct SignInLimits {
    pub per_account_and_address: RateLimiter<(String, IpAddr)>,
    pub per_account: RateLimiter<String>,
    pub per_address: RateLimiter<IpAddr>,
    pub hashing: tokio::sync::Semaphore,
}

/// Longest an attempt waits for a free password hasher before it is
/// answered 429 (the server is busy hashing others' attempts).
const HASHER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Default for SignInLimits {
    /// Per account and address: 10 at once, then one every 30 s. Per
    /// account: 100 at once, then 100 an hour. Per address (an IPv6 /64
    /// counts as one): 30 at once, then one every 2 s (an office behind one
    /// address signs in too). Two hashes at once.
    fn default() -> SignInLimits {
        SignInLimits {
            per_account_and_address: RateLimiter::new(1.0 / 30.0, 10.0),
            per_account: RateLimiter::new(100.0 / 3600.0, 100.0),
            per_address: RateLimiter::new(0.5, 30.0),
            hashing: tokio::sync::Semaphore::new(2),
        }
    }
}

/// The address a limit counts: an IPv6 address by its /64 (one customer's
/// network hands out as many as it likes), an IPv4 address whole.
fn limited_address(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
    }
}

/// Runs a password hash or check once a hasher is free (at most
/// [`HASHER_WAIT`]), off the async workers.
async fn hashed<T: Send + 'static>(limits: &SignInLimits, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    let _permit = match tokio::time::timeout(HASHER_WAIT, limits.hashing.acquire()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(LimitError::rate(1).into()),
    };
    super::off_the_workers(work).await
}

/// A new sign-in: the cookie's secret (shown once) and whose it is.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub secret: String,
    pub admin: ConsoleAdmin,
    pub expires_at: UnixMillis,
}

/// Signs in with an address and a password. Every attempt counts against
/// the account's and the address's limits (429 past them); an unknown
/// address costs as much time as a wrong password.
pub async fn sign_in(db: &Db, limits: &SignInLimits, email: &str, password: &str, from: IpAddr) -> Result<SignedIn, AppError> {
    let now = Instant::now();
    if email.chars().count() > MAX_EMAIL_CHARS || password.chars().count() > passwords::MAX_CHARS {
        return Err(ConsoleError::WrongCredentials.into());
    }
    let (address, account) = (limited_address(from), console_store::email_key(email));
    limits.per_address.check(address, now).map_err(LimitError::rate)?;
    limits.per_account_and_address.check((account.clone(), address), now).map_err(LimitError::rate)?;
    limits.per_account.check(account, now).map_err(LimitError::rate)?;
    let record = console_store::admin_for_sign_in(db, email).await?;
    let stored = record.as_ref().and_then(|r| r.password_hash.clone());
    let password = password.to_owned();
    let known = record.is_some();
    let matches = hashed(limits, move || match stored {
        Some(stored) => passwords::verify(&password, &stored),
        None => passwords::verify(&password, &passwords::DECOY_HASH).map(|_| false),
    })
    .await??;
    let Some(record) = record.filter(|_| matches) else {
        // Not the address typed: a password typed into the wrong field must not reach the log.
        tracing::info!(account_known = known, %from, "console sign-in refused");
        return Err(ConsoleError::WrongCredentials.into());
    };
    let secret = new_secret("rst_console_")?;
    let started = UnixMillis::now();
    let expires_at = UnixMillis(started.0 + console_store::SESSION_ABSOLUTE_MS);
    console_store::create_session(db, &hash_secret(&secret), record.admin.id, started, expires_at).await?;
    tracing::info!(admin = %record.admin.id, tenant = %record.admin.tenant_id, %from, "console sign-in");
    Ok(SignedIn { secret, admin: record.admin, expires_at })
}

/// The sign-in a cookie's secret names, if it is still in force (not past
/// its absolute expiry, not idle too long); its use is recorded.
pub async fn session(db: &Db, secret: &str) -> Result<Option<SessionUse>, AppError> {
    let hash = hash_secret(secret);
    let Some(session) = console_store::session(db, &hash).await? else { return Ok(None) };
    let now = UnixMillis::now();
    if now >= session.expires_at || now.millis_since(session.last_seen_at) >= console_store::SESSION_IDLE_MS {
        console_store::delete_session(db, &hash).await?;
        return Ok(None);
    }
    if now.millis_since(session.last_seen_at) >= console_store::SESSION_TOUCH_MS {
        console_store::touch_session(db, &hash, now, console_store::SESSION_TOUCH_MS).await?;
    }
    Ok(Some(session))
}

/// Signs out this browser.
pub async fn sign_out(db: &Db, secret: &str) -> Result<(), AppError> {
    Ok(console_store::delete_session(db, &hash_secret(secret)).await?)
}

/// Ends every sign-in of the admin, this one included, audited in the same
/// transaction.
pub async fn sign_out_everywhere(db: &Db, admin: &ConsoleAdmin) -> Result<u64, AppError> {
    let mut tx = db.begin_write().await?;
    let ended = console_store::delete_sessions_of(&mut tx, admin.id).await?;
    let summary = format!("{} signed out everywhere ({ended} sessions)", admin.email);
    audit::record_in(&mut tx, &caller_of(admin), AuditAction::AdminSignedOutEverywhere, Some(admin.id.to_string()), &summary).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Removes an admin of the caller's tenant (owners only); the last owner
/// stays. The admin is read and the owners counted in the transaction that
/// removes it and writes its audit entry, holding the tenant's admins
/// ([`console_store::lock_owners`]): two owners removing each other at
/// once leave one.
pub async fn remove_admin(db: &Db, caller: &Caller, id: ConsoleAdminId) -> Result<(), AppError> {
    caller.may(AdminRole::Owner)?;
    let mut tx = db.begin_write().await?;
    let admin = match console_store::lock_owners(&mut tx, db.dialect, caller.tenant).await? {
        true => console_store::get_admin(&mut tx, caller.tenant, id).await?,
        false => None,
    };
    let Some(admin) = admin else {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Admin));
    };
    if admin.role == AdminRole::Owner && console_store::count_owners(&mut tx, caller.tenant).await? <= 1 {
        tx.rollback().await?;
        return Err(ConsoleError::LastOwner(admin.email).into());
    }
    if !console_store::remove_admin(&mut tx, caller.tenant, id, UnixMillis::now()).await? {
        tx.rollback().await?;
        return Err(AppError::NotFound(Missing::Admin));
    }
    audit::record_in(&mut tx, caller, AuditAction::AdminRemoved, Some(id.to_string()), &format!("removed {}", admin.email)).await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's admins, for the settings page.
pub async fn list_admins(db: &Db, caller: &Caller) -> Result<Vec<ConsoleAdmin>, AppError> {
    Ok(console_store::list_admins(db, caller.tenant, 1000).await?)
}

/// Adds an admin from the server's command line (`roster-server admin add`).
pub async fn add_admin_as_operator(db: &Db, tenant: roster_proto::TenantId, email: &str, role: AdminRole) -> Result<SetupLink, AppError> {
    if !store::tenants::exists(db, tenant).await? {
        return Err(AppError::NotFound(Missing::Tenant));
    }
    add_admin(db, &Caller::operator(tenant), email, role).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        let cases = [
            ("192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
            ("2001:db8:1:2::1", "2001:db8:1:2::"),
            ("2001:db8:1:3::1", "2001:db8:1:3::"),
        ];
        for (given, counted) in cases {
            let given: IpAddr = given.parse().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            assert_eq!(limited_address(given).to_string(), counted, "{given}");
        }
    }

    #[test]
    fn addresses_are_checked_loosely() {
        for fine in ["ann@corp.example", " Ann.Admin+roster@sub.corp.example ", "a@b"] {
            assert!(checked_email(fine).is_ok(), "{fine}");
        }
        for refused in ["", "ann", "@corp", "ann@", "ann@@corp", "ann smith@corp", "ann@corp.", "ann@.corp", "a\u{7}@b"] {
            assert!(checked_email(refused).is_err(), "{refused:?}");
        }
        assert!(checked_email(&format!("{}@corp.example", "a".repeat(250))).is_err());
    }
}
