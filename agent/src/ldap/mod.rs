//! Reading Active Directory over LDAP: connect (LDAPS, StartTLS or, when
//! allowed, plain LDAP), bind, read the rootDSE and the domain object, and
//! stream users, groups and OUs page by page into a [`RecordSink`].
//!
//! [`RecordSink`]: crate::spool::RecordSink

pub mod entry;
pub mod extdn;
pub mod paged;
pub mod range;
mod read;
pub mod sid;
pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use roster_proto::manifest::DirectoryIdentity;
use tracing::{debug, info};

pub use self::paged::PageCounter;
pub use self::read::{ObjectKind, ReadStats};
use self::tls::{Transport, choose_transport};
use crate::config::{ConfigError, DEFAULT_PAGE_SIZE};
use crate::error::{AgentError, Cause, Stage};
use crate::secret::Secret;

/// Everything needed to read the directory, checked and with the password
/// in hand. Built by `LdapConfig::into_settings`, or directly by tests.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// Bind account: a DN, `user@REALM` or `DOMAIN\user`.
    pub bind_dn: String,
    /// Bind password; redacted in every `Debug`.
    pub password: Secret,
    /// Base of all reads; `None` = the rootDSE's `defaultNamingContext`.
    pub base_dn: Option<String>,
    /// Entries per paged-results page.
    pub page_size: u32,
    /// Upgrade `ldap://` with StartTLS.
    pub starttls: bool,
    /// Allow a simple bind over plain `ldap://` without StartTLS.
    pub allow_insecure: bool,
    /// Extra CA bundle (PEM) trusted for the DC's certificate.
    pub ca_file: Option<PathBuf>,
    /// Bound on TCP connect + TLS handshake (+ StartTLS).
    pub connect_timeout: Duration,
    /// Bound on each LDAP operation, and on the wait for each entry of a search.
    pub op_timeout: Duration,
}

impl Default for LdapSettings {
    fn default() -> LdapSettings {
        LdapSettings {
            url: String::new(),
            bind_dn: String::new(),
            password: Secret::new(""),
            base_dn: None,
            page_size: DEFAULT_PAGE_SIZE,
            starttls: false,
            allow_insecure: false,
            ca_file: None,
            connect_timeout: Duration::from_secs(30),
            op_timeout: Duration::from_secs(120),
        }
    }
}

/// What the rootDSE says about the DC and its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootDse {
    /// The domain's naming context (`DC=corp,DC=example,DC=com`).
    pub default_naming_context: String,
    /// The DC that answered.
    pub dns_host_name: Option<String>,
    /// The DC's newest change; the starting point of later delta reads.
    pub highest_committed_usn: Option<u64>,
}

/// The directory a read is about: the rootDSE, the domain's SID and the
/// base DN the job's paths are resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryInfo {
    /// What the DC said about itself and its domain.
    pub root: RootDse,
    /// `S-1-5-21-...` from the domain object's `objectSid`, when readable.
    pub domain_sid: Option<String>,
    /// Configured base DN, or the default naming context.
    pub base_dn: String,
}

impl DirectoryInfo {
    /// The manifest's description of the directory.
    pub fn identity(&self) -> DirectoryIdentity {
        DirectoryIdentity {
            domain_dn: self.root.default_naming_context.clone(),
            domain_sid: self.domain_sid.clone(),
            dns_host_name: self.root.dns_host_name.clone(),
            base_dn: self.base_dn.clone(),
        }
    }
}

/// A bound LDAP connection.
#[derive(Debug)]
pub struct Directory {
    /// ldap3's operation handle.
    ldap: Ldap,
    /// The task driving the connection; aborted when the directory is dropped.
    driver: tokio::task::JoinHandle<()>,
    /// Entries per page.
    page_size: u32,
    /// Per-operation bound.
    timeout: Duration,
    /// Pages read over this connection, for the push report.
    counter: PageCounter,
    /// How the connection is protected, for messages.
    transport: Transport,
}

impl Drop for Directory {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Adds what to do to the errors an admin will meet first.
fn explain_connect_error(error: ldap3::LdapError) -> Cause {
    let text = crate::error::chain(&error);
    if text.contains("invalid peer certificate") {
        let hint = if text.contains("UnknownIssuer") {
            "the DC's certificate is not issued by a trusted CA: set ROSTER_LDAP_CA_FILE (or `ca_file` in [ldap]) to the issuing CA's PEM, or install that CA in the system's trust store"
        } else {
            "the DC's certificate does not match the URL or is not valid: use the host name (or address) the certificate names"
        };
        return Cause::Message(format!("{text} ({hint})"));
    }
    if matches!(error, ldap3::LdapError::Timeout { .. }) {
        return Cause::Message(format!("{text} (no answer from the DC: check the host, port and firewall)"));
    }
    Cause::from(error)
}

impl Directory {
    /// Connects and binds. Refuses plain `ldap://` without StartTLS unless
    /// `allow_insecure` (stage `connect`), and an empty password (which LDAP
    /// would treat as an anonymous bind that "succeeds").
    pub async fn connect(settings: &LdapSettings) -> Result<Directory, AgentError> {
        let transport = choose_transport(&settings.url, settings.starttls, settings.allow_insecure).map_err(|e| Stage::Connect.err(e))?;
        if settings.password.is_empty() {
            return Err(Stage::Config.err(ConfigError::MissingPassword));
        }
        let mut conn_settings = LdapConnSettings::new().set_conn_timeout(settings.connect_timeout);
        if transport.uses_tls() {
            conn_settings =
                conn_settings.set_config(tls::client_config(settings.ca_file.as_deref())?).set_starttls(transport == Transport::StartTls);
        }
        let (conn, ldap) =
            LdapConnAsync::with_settings(conn_settings, &settings.url).await.map_err(|e| Stage::Connect.err(explain_connect_error(e)))?;
        let driver = tokio::spawn(async move {
            if let Err(error) = conn.drive().await {
                debug!(%error, "LDAP connection ended with an error");
            }
        });
        let mut directory = Directory {
            ldap,
            driver,
            page_size: settings.page_size.max(1),
            timeout: settings.op_timeout,
            counter: PageCounter::default(),
            transport,
        };
        info!(url = %settings.url, transport = transport.as_str(), "connected to the directory");
        directory.ldap.with_timeout(settings.op_timeout);
        let result = directory.ldap.simple_bind(&settings.bind_dn, settings.password.expose()).await.map_err(|e| Stage::Bind.err(e))?;
        result.success().map_err(|e| Stage::Bind.err(e))?;
        info!(bind_dn = %settings.bind_dn, "bound to the directory");
        Ok(directory)
    }

    /// How the connection is protected.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Result pages read so far over this connection.
    pub fn pages(&self) -> u64 {
        self.counter.pages()
    }

    /// Reads the rootDSE.
    pub async fn root_dse(&mut self) -> Result<RootDse, AgentError> {
        let entry = self
            .base_entry("", &["defaultNamingContext", "dnsHostName", "highestCommittedUSN"])
            .await
            .map_err(|e| Stage::RootDse.err(e))?
            .ok_or_else(|| Stage::RootDse.err("the server returned no rootDSE".to_owned()))?;
        let default_naming_context = entry::first(&entry, "defaultNamingContext")
            .ok_or_else(|| Stage::RootDse.err("the rootDSE has no defaultNamingContext (is this an Active Directory DC?)".to_owned()))?
            .to_owned();
        let highest_committed_usn = match entry::first(&entry, "highestCommittedUSN") {
            Some(v) => Some(v.parse::<u64>().map_err(|_| Stage::RootDse.err(format!("highestCommittedUSN `{v}` is not a number")))?),
            None => None,
        };
        Ok(RootDse { default_naming_context, dns_host_name: entry::first(&entry, "dnsHostName").map(str::to_owned), highest_committed_usn })
    }

    /// Reads the rootDSE and the domain's SID, and settles the base DN.
    pub async fn directory_info(&mut self, base_dn: Option<&str>) -> Result<DirectoryInfo, AgentError> {
        let root = self.root_dse().await?;
        let domain = self.base_entry(&root.default_naming_context, &["objectSid"]).await.map_err(|e| Stage::RootDse.err(e))?;
        let domain_sid = match domain.as_ref().and_then(|e| entry::first_binary(e, "objectSid")) {
            Some(bytes) => Some(
                sid::sid_to_string(bytes)
                    .map_err(|e| Stage::RootDse.err(format!("objectSid of `{}`: {e}", root.default_naming_context)))?,
            ),
            None => None,
        };
        let base_dn = base_dn.map(str::trim).filter(|b| !b.is_empty()).map_or_else(|| root.default_naming_context.clone(), str::to_owned);
        Ok(DirectoryInfo { root, domain_sid, base_dn })
    }

    /// Ends the session politely; errors are irrelevant at this point.
    pub async fn close(mut self) {
        if let Err(error) = self.ldap.unbind().await {
            debug!(%error, "unbind failed");
        }
    }

    /// One entry by DN (scope base), or `None` if the search found nothing.
    async fn base_entry(&mut self, dn: &str, attrs: &[&str]) -> Result<Option<SearchEntry>, Cause> {
        let mut ldap = self.ldap.clone();
        ldap.with_timeout(self.timeout);
        let (entries, _) = ldap.search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec()).await?.success()?;
        Ok(entries.into_iter().find(|e| !e.is_ref() && !e.is_intermediate()).map(SearchEntry::construct))
    }
}
