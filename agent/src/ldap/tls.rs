//! TLS for LDAPS and StartTLS: the operating system's trust store (on
//! Windows the OS chain engine, which knows the AD enterprise CA) plus an
//! optional PEM CA bundle, and the rule that refuses a simple bind over
//! plain `ldap://` unless explicitly allowed.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::{ConfigError, has_scheme};
use crate::error::{AgentError, Cause, Stage};

/// How the LDAP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://` upgraded with the StartTLS extended operation.
    StartTls,
    /// `ldap://` in clear text; allowed only when configured.
    Plain,
}

impl Transport {
    pub fn uses_tls(self) -> bool {
        self != Transport::Plain
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ldaps => "LDAPS",
            Transport::StartTls => "StartTLS",
            Transport::Plain => "plain LDAP (insecure, allowed by configuration)",
        }
    }
}

/// Decides the transport for `url`, refusing clear text unless
/// `allow_insecure` (the password would otherwise cross the wire readable).
pub fn choose_transport(url: &str, starttls: bool, allow_insecure: bool) -> Result<Transport, ConfigError> {
    if has_scheme(url, "ldaps") {
        Ok(Transport::Ldaps)
    } else if !has_scheme(url, "ldap") {
        Err(ConfigError::BadLdapUrl(url.to_owned()))
    } else if starttls {
        Ok(Transport::StartTls)
    } else if allow_insecure {
        Ok(Transport::Plain)
    } else {
        Err(ConfigError::Insecure { url: url.to_owned() })
    }
}

/// Reads every certificate of a PEM bundle.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = std::fs::read(path).map_err(|source| ConfigError::CaFile { path: path.to_owned(), source })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::BadCaFile { path: path.to_owned(), message: e.to_string() })?;
    if certs.is_empty() {
        return Err(ConfigError::EmptyCaFile(path.to_owned()));
    }
    Ok(certs)
}

/// A rustls client config trusting the system's roots and `ca_file`'s.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, AgentError> {
    let extra = match ca_file {
        Some(path) => read_ca_file(path).map_err(|e| Stage::Config.err(e))?,
        None => Vec::new(),
    };
    let provider = crate::crypto_provider();
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone()).map_err(|e| Stage::Config.err(Cause::Tls(e)))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Stage::Config.err(Cause::Tls(e)))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        let cases = [
            ("ldaps://dc01", false, false, Ok(Transport::Ldaps)),
            ("LDAPS://dc01:636", true, false, Ok(Transport::Ldaps)),
            ("ldap://dc01", true, false, Ok(Transport::StartTls)),
            ("ldap://dc01", false, true, Ok(Transport::Plain)),
            ("ldap://dc01", false, false, Err("insecure")),
            ("http://dc01", true, true, Err("url")),
        ];
        for (url, starttls, allow, expected) in cases {
            let got = choose_transport(url, starttls, allow).map_err(|e| match e {
                ConfigError::Insecure { .. } => "insecure",
                _ => "url",
            });
            assert_eq!(got, expected, "{url} starttls={starttls} allow={allow}");
        }
        let message = choose_transport("ldap://127.0.0.1", false, false).unwrap_err().to_string();
        assert!(message.contains("use ldaps:// or StartTLS"), "{message}");
        assert!(message.contains("ROSTER_LDAP_ALLOW_INSECURE=true"), "{message}");
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("roster-agent-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        assert!(matches!(read_ca_file(&empty), Err(ConfigError::EmptyCaFile(_))));
        assert!(matches!(read_ca_file(&dir.join("missing.pem")), Err(ConfigError::CaFile { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
