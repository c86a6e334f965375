//! Reading Active Directory over LDAP: connect (LDAPS, StartTLS or, when
//! allowed, plain LDAP), bind, read the rootDSE, the DC's watermark
//! (`dnsHostName`, `highestCommittedUSN`, the NTDS Settings'
//! `invocationId`) and the domain object, and stream users, groups, OUs
//! and (for deltas) tombstones page by page into a [`RecordSink`].
//!
//! [`RecordSink`]: crate::spool::RecordSink

pub mod entry;
pub mod extdn;
pub mod notify;
pub mod paged;
pub mod range;
mod read;
pub mod sid;
pub mod tls;

use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use roster_proto::ObjectGuid;
use roster_proto::manifest::{DirectoryIdentity, Watermark};
use tracing::{debug, info};

pub use self::paged::PageCounter;
pub use self::read::{ObjectKind, ReadMode, ReadStats};
use self::tls::{Transport, choose_transport};
use crate::config::ConfigError;
pub use crate::config::LdapSettings;
use crate::error::{AgentError, Cause, Stage};

/// What the rootDSE says about the DC and its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootDse {
    /// The domain's naming context (`DC=corp,DC=example,DC=com`).
    pub default_naming_context: String,
    /// The DC that answered; USNs are only comparable on the same DC.
    pub dns_host_name: Option<String>,
    /// The DC's newest change; the starting point of later delta reads.
    pub highest_committed_usn: Option<u64>,
    /// The DN of the DC's NTDS Settings object (plain, without any
    /// extended-DN prefix), which holds its `invocationId`.
    pub ds_service_name: Option<String>,
}

/// The directory a read is about: the rootDSE, the domain's SID, the base
/// DN the job's paths are resolved against, and how far its changes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryInfo {
    /// What the DC said about itself and its domain.
    pub root: RootDse,
    /// `S-1-5-21-...` from the domain object's `objectSid`, when readable.
    pub domain_sid: Option<String>,
    /// Configured base DN, or the default naming context.
    pub base_dn: String,
    /// The DC, its database and its USN, read before any object: the
    /// manifest's `watermark` and the next delta's base.
    pub watermark: Watermark,
}

/// The rootDSE attributes a read needs.
const ROOT_DSE_ATTRIBUTES: [&str; 4] = ["defaultNamingContext", "dnsHostName", "highestCommittedUSN", "dsServiceName"];

/// Builds the watermark from the rootDSE and the `invocationId` bytes of
/// the NTDS Settings object; every part is required (stage `rootdse`).
pub fn watermark(root: &RootDse, invocation_id: Option<&[u8]>) -> Result<Watermark, Cause> {
    let needed = |what: &str| {
        Cause::Message(format!(
            "{what}; Roster needs the DC's dnsHostName, highestCommittedUSN and its NTDS Settings invocationId to know what it has read (is this an Active Directory DC, and may the bind account read them?)"
        ))
    };
    let dns_host_name =
        root.dns_host_name.as_deref().map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| needed("the rootDSE has no dnsHostName"))?;
    let usn = root.highest_committed_usn.ok_or_else(|| needed("the rootDSE has no highestCommittedUSN"))?;
    let service = root.ds_service_name.as_deref().ok_or_else(|| needed("the rootDSE has no dsServiceName"))?;
    let bytes = invocation_id.ok_or_else(|| needed(&format!("`{service}` has no invocationId")))?;
    let invocation_id = ObjectGuid::from_ldap_bytes(bytes).map_err(|e| Cause::Message(format!("invocationId of `{service}`: {e}")))?;
    Ok(Watermark { dns_host_name: dns_host_name.to_owned(), invocation_id, usn })
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
    /// What it was made with, for more connections like it.
    settings: LdapSettings,
}

impl Drop for Directory {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Adds what to do to the errors an admin will meet first.
fn explain_connect_error(error: ldap3::LdapError) -> Cause {
    let text = crate::chain::chain(&error);
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
            settings: settings.clone(),
        };
        info!(url = %settings.url, transport = transport.as_str(), "connected to the directory");
        directory.ldap.with_timeout(settings.op_timeout);
        let result = directory.ldap.simple_bind(&settings.bind_dn, settings.password.expose()).await.map_err(|e| Stage::Bind.err(e))?;
        result.success().map_err(|e| Stage::Bind.err(e))?;
        info!(bind_dn = %settings.bind_dn, "bound to the directory");
        Ok(directory)
    }

    /// Another connection made and bound as this one was, counting its
    /// pages with this one's; `None` when it reached another DC than the
    /// one `watermark` names (a name several DCs answer to), whose USNs
    /// mean something else.
    async fn another(&self, watermark: &Watermark) -> Result<Option<Directory>, AgentError> {
        let mut other = Directory::connect(&self.settings).await?;
        other.counter = self.counter.clone();
        let dc = other.root_dse().await?.dns_host_name;
        if dc.as_deref().is_some_and(|dc| dc.eq_ignore_ascii_case(&watermark.dns_host_name)) {
            return Ok(Some(other));
        }
        info!(expected = %watermark.dns_host_name, reached = ?dc, "another connection reached another DC: not reading over it");
        other.close().await;
        Ok(None)
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
            .base_entry("", &ROOT_DSE_ATTRIBUTES)
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
        let ds_service_name = match entry::first(&entry, "dsServiceName") {
            Some(value) => {
                Some(extdn::parse_extended_dn(value).map_err(|e| Stage::RootDse.err(format!("dsServiceName: {e}")))?.dn.to_owned())
                    .filter(|dn| !dn.is_empty())
            }
            None => None,
        };
        Ok(RootDse {
            default_naming_context,
            dns_host_name: entry::first(&entry, "dnsHostName").map(str::to_owned),
            highest_committed_usn,
            ds_service_name,
        })
    }

    /// The DC's `highestCommittedUSN`, alone: the one cheap read an idle
    /// watch makes per poll.
    pub async fn highest_committed_usn(&mut self) -> Result<u64, AgentError> {
        let entry = self.base_entry("", &["highestCommittedUSN"]).await.map_err(|e| Stage::RootDse.err(e))?;
        let value = entry.as_ref().and_then(|e| entry::first(e, "highestCommittedUSN"));
        let value = value.ok_or_else(|| Stage::RootDse.err("the rootDSE has no highestCommittedUSN".to_owned()))?;
        value.parse().map_err(|_| Stage::RootDse.err(format!("highestCommittedUSN `{value}` is not a number")))
    }

    /// Starts AD's change notifications over the subtree at `base` (the
    /// domain's naming context), on this connection (stage `watch`).
    pub async fn notices(&self, base: &str) -> Result<notify::Notices, AgentError> {
        notify::Notices::start(&self.ldap, base).await.map_err(|e| Stage::Watch.err(e))
    }

    /// Reads the rootDSE and the DC's `invocationId`: where the DC's
    /// changes stand now. Fails at stage `rootdse` if any part is missing.
    pub async fn watermark(&mut self) -> Result<(RootDse, Watermark), AgentError> {
        let root = self.root_dse().await?;
        let invocation_entry = match &root.ds_service_name {
            Some(service) => self
                .base_entry(service, &["invocationId"])
                .await
                .map_err(|e| Stage::RootDse.err(format!("cannot read the DC's NTDS Settings object `{service}` (dsServiceName): {e}")))?,
            None => None,
        };
        let invocation_id = invocation_entry.as_ref().and_then(|e| entry::first_binary(e, "invocationId"));
        let watermark = watermark(&root, invocation_id).map_err(|e| Stage::RootDse.err(e))?;
        Ok((root, watermark))
    }

    /// Reads the watermark (rootDSE and `invocationId`) and the domain's
    /// SID, and settles the base DN.
    pub async fn directory_info(&mut self, base_dn: Option<&str>) -> Result<DirectoryInfo, AgentError> {
        let (root, watermark) = self.watermark().await?;
        let domain = self.base_entry(&root.default_naming_context, &["objectSid"]).await.map_err(|e| Stage::RootDse.err(e))?;
        let domain_sid = match domain.as_ref().and_then(|e| entry::first_binary(e, "objectSid")) {
            Some(bytes) => Some(
                sid::sid_to_string(bytes)
                    .map_err(|e| Stage::RootDse.err(format!("objectSid of `{}`: {e}", root.default_naming_context)))?,
            ),
            None => None,
        };
        let base_dn = base_dn.map(str::trim).filter(|b| !b.is_empty()).map_or_else(|| root.default_naming_context.clone(), str::to_owned);
        Ok(DirectoryInfo { root, domain_sid, base_dn, watermark })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_needs_every_part() {
        let invocation = [0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90];
        let root = RootDse {
            default_naming_context: "DC=corp".into(),
            dns_host_name: Some("dc1.corp.example.test".into()),
            highest_committed_usn: Some(4123),
            ds_service_name: Some("CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp".into()),
        };
        let mark = watermark(&root, Some(&invocation)).unwrap();
        assert_eq!(mark.dns_host_name, "dc1.corp.example.test");
        assert_eq!(mark.invocation_id.to_string(), "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90");
        assert_eq!(mark.usn, 4123);

        let without = |change: fn(&mut RootDse)| {
            let mut root = root.clone();
            change(&mut root);
            watermark(&root, Some(&invocation)).unwrap_err().to_string()
        };
        assert!(without(|r| r.dns_host_name = None).starts_with("the rootDSE has no dnsHostName; Roster needs"));
        assert!(without(|r| r.dns_host_name = Some(" ".into())).starts_with("the rootDSE has no dnsHostName"));
        assert!(without(|r| r.highest_committed_usn = None).starts_with("the rootDSE has no highestCommittedUSN"));
        assert!(without(|r| r.ds_service_name = None).starts_with("the rootDSE has no dsServiceName"));
        let no_id = watermark(&root, None).unwrap_err().to_string();
        assert!(no_id.starts_with("`CN=NTDS Settings,CN=DC1,") && no_id.contains("has no invocationId"), "{no_id}");
        let short = watermark(&root, Some(&invocation[..4])).unwrap_err().to_string();
        assert!(short.contains("invocationId of `CN=NTDS Settings") && short.contains("16 bytes, got 4"), "{short}");
        let error = Stage::RootDse.err(watermark(&root, None).unwrap_err());
        assert!(error.to_string().starts_with("rootdse failed: "), "{error}");
    }
}
