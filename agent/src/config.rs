//! The agent's settings: the TOML config file layered under `ROSTER_*`
//! environment variables. [`parse`] is a pure function over the file's
//! text and an environment map, so every rule here is tested without
//! touching the machine; reading files happens in the callers.
//!
//! ```toml
//! [ldap]
//! url = "ldaps://dc01.corp.example.com"
//! bind_dn = "CORP\\svc-roster"
//! password_file = "ldap-password.txt"   # relative to this file
//! base_dn = "DC=corp,DC=example,DC=com" # default: rootDSE defaultNamingContext
//! page_size = 500
//! read_connections = 3                  # a full read's users on this many connections
//! starttls = false
//! allow_insecure = false
//! ca_file = "corp-root-ca.pem"
//!
//! [server]
//! ca_file = "roster-ca.pem"
//! max_retries = 7
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;

/// Environment variables by name (only the ones the agent reads matter).
pub type EnvMap = BTreeMap<String, String>;

pub const ENV_LDAP_URL: &str = "ROSTER_LDAP_URL";
pub const ENV_LDAP_BIND_DN: &str = "ROSTER_LDAP_BIND_DN";
pub const ENV_LDAP_PASSWORD: &str = "ROSTER_LDAP_PASSWORD";
pub const ENV_LDAP_PASSWORD_FILE: &str = "ROSTER_LDAP_PASSWORD_FILE";
pub const ENV_LDAP_BASE_DN: &str = "ROSTER_LDAP_BASE_DN";
pub const ENV_LDAP_PAGE_SIZE: &str = "ROSTER_LDAP_PAGE_SIZE";
pub const ENV_LDAP_READ_CONNECTIONS: &str = "ROSTER_LDAP_READ_CONNECTIONS";
pub const ENV_LDAP_STARTTLS: &str = "ROSTER_LDAP_STARTTLS";
pub const ENV_LDAP_CA_FILE: &str = "ROSTER_LDAP_CA_FILE";
pub const ENV_LDAP_ALLOW_INSECURE: &str = "ROSTER_LDAP_ALLOW_INSECURE";
pub const ENV_SERVER_CA_FILE: &str = "ROSTER_SERVER_CA_FILE";
pub const ENV_HTTP_MAX_RETRIES: &str = "ROSTER_HTTP_MAX_RETRIES";

/// LDAP page size unless configured.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// AD's MaxPageSize: larger pages are silently cut to this by Windows DCs.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Connections a full read's users are read over unless configured: the
/// DC answers them in parallel (see `ldap::read`).
pub const DEFAULT_READ_CONNECTIONS: u32 = 3;
/// More connections than this is load on the DC, not speed.
pub const MAX_READ_CONNECTIONS: u32 = 8;
/// HTTP retries after the first attempt unless configured (8 attempts in all).
pub const DEFAULT_MAX_RETRIES: u32 = 7;
/// More retries than this is a typo, not a policy.
const MAX_MAX_RETRIES: u32 = 100;

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file `{}` does not exist", .0.display())]
    MissingFile(PathBuf),
    #[error("cannot read config file `{}`: {source}", .path.display())]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("config file `{}`: {message}", .path.display())]
    FileSyntax { path: PathBuf, message: String },
    #[error("{name} must be true/false, 1/0 or yes/no, got `{value}`")]
    BadBool { name: String, value: String },
    #[error("{name} must be a whole number from 1 to {MAX_PAGE_SIZE}, got `{value}`")]
    BadPageSize { name: String, value: String },
    #[error("{name} must be a whole number from 1 to {MAX_READ_CONNECTIONS}, got `{value}`")]
    BadReadConnections { name: String, value: String },
    #[error("{name} must be a whole number from 0 to {MAX_MAX_RETRIES}, got `{value}`")]
    BadRetries { name: String, value: String },
    #[error("both {first} and {second} are set; set only one")]
    TwoPasswords { first: String, second: String },
    #[error("no LDAP URL: set {ENV_LDAP_URL} or `url` in the [ldap] section of the config file")]
    MissingLdapUrl,
    #[error("LDAP URL `{0}` must start with ldap:// or ldaps://")]
    BadLdapUrl(String),
    #[error("no LDAP bind account: set {ENV_LDAP_BIND_DN} (a DN, user@REALM or DOMAIN\\user) or `bind_dn` in the [ldap] section")]
    MissingBindDn,
    #[error("no LDAP password: set {ENV_LDAP_PASSWORD_FILE} (or {ENV_LDAP_PASSWORD}), or `password_file` in the [ldap] section")]
    MissingPassword,
    #[error("cannot read the LDAP password file `{}`: {source}", .path.display())]
    PasswordFile { path: PathBuf, source: std::io::Error },
    #[error("the LDAP password file `{}` is empty", .0.display())]
    EmptyPasswordFile(PathBuf),
    /// The rule that keeps the bind password off the wire in clear text.
    #[error(
        "refusing a simple bind over plain {url} without StartTLS: the password would cross the network in clear text; \
         use ldaps:// or StartTLS ({ENV_LDAP_STARTTLS}=true), or set {ENV_LDAP_ALLOW_INSECURE}=true to allow plain LDAP"
    )]
    Insecure { url: String },
    #[error("cannot read CA file `{}`: {source}", .path.display())]
    CaFile { path: PathBuf, source: std::io::Error },
    #[error("CA file `{}` holds no PEM certificate", .0.display())]
    EmptyCaFile(PathBuf),
    #[error("CA file `{}`: {message}", .path.display())]
    BadCaFile { path: PathBuf, message: String },
}

/// Everything the agent was configured with, after layering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// How to reach and read the directory.
    pub ldap: LdapConfig,
    /// How to talk to the Roster server.
    pub server: ServerConfig,
    /// Things that work but should be changed (logged at start).
    pub warnings: Vec<String>,
}

/// LDAP settings as configured; [`LdapConfig::into_settings`] checks them
/// and reads the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`; only `register` works without it.
    pub url: Option<String>,
    /// Bind account: a DN, `user@REALM` or `DOMAIN\user`.
    pub bind_dn: Option<String>,
    /// Where the bind password comes from.
    pub password: Option<PasswordSource>,
    /// Base of all reads; `None` means the rootDSE's `defaultNamingContext`.
    pub base_dn: Option<String>,
    /// Entries per paged-results page (1..=1000).
    pub page_size: u32,
    /// Connections a full read's users are read over (1..=8).
    pub read_connections: u32,
    /// Upgrade `ldap://` with StartTLS.
    pub starttls: bool,
    /// Allow a simple bind over plain `ldap://` (tests, lab networks).
    pub allow_insecure: bool,
    /// PEM CA bundle trusted for LDAPS/StartTLS in addition to the system's.
    pub ca_file: Option<PathBuf>,
}

/// Everything needed to read the directory, checked and with the password
/// in hand: what the `ldap` module reads with. Built by
/// [`LdapConfig::into_settings`], or directly by tests. It lives here, with
/// the settings it is made from, so `ldap` depends on `config` and not the
/// other way round.
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
    /// Connections a full read's users are read over, each bound alike.
    pub read_connections: u32,
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
            read_connections: DEFAULT_READ_CONNECTIONS,
            starttls: false,
            allow_insecure: false,
            ca_file: None,
            connect_timeout: Duration::from_secs(30),
            op_timeout: Duration::from_secs(120),
        }
    }
}

/// Where the LDAP password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Given directly (environment or, discouraged, the config file).
    Value(Secret),
    /// A file holding it; one trailing newline is trimmed.
    File(PathBuf),
}

/// Settings for the HTTPS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// PEM CA bundle trusted for the server in addition to the system's.
    pub ca_file: Option<PathBuf>,
    /// Retries after the first attempt for connection errors, 5xx and 429.
    pub max_retries: u32,
}

/// The config file's text and where it lives (relative paths in it are
/// taken relative to its folder).
#[derive(Debug, Clone, Copy)]
pub struct ConfigFile<'a> {
    /// For error messages and to resolve relative paths.
    pub path: &'a Path,
    /// The TOML itself.
    pub text: &'a str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// The `[ldap]` section.
    #[serde(default)]
    ldap: FileLdap,
    /// The `[server]` section.
    #[serde(default)]
    server: FileServer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLdap {
    /// See [`LdapConfig::url`].
    url: Option<String>,
    /// See [`LdapConfig::bind_dn`].
    bind_dn: Option<String>,
    /// The password in clear: allowed, but a warning says to use a file.
    password: Option<String>,
    /// See [`PasswordSource::File`]; relative to the config file.
    password_file: Option<PathBuf>,
    /// See [`LdapConfig::base_dn`].
    base_dn: Option<String>,
    /// Signed so that `0` and negatives reach the range check, not a type error.
    page_size: Option<i64>,
    /// See [`LdapConfig::read_connections`]; signed for the same reason as `page_size`.
    read_connections: Option<i64>,
    /// See [`LdapConfig::allow_insecure`].
    allow_insecure: Option<bool>,
    /// See [`LdapConfig::starttls`].
    starttls: Option<bool>,
    /// See [`LdapConfig::ca_file`]; relative to the config file.
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    /// See [`ServerConfig::ca_file`]; relative to the config file.
    ca_file: Option<PathBuf>,
    /// See [`ServerConfig::max_retries`]; signed for the same reason as `page_size`.
    max_retries: Option<i64>,
}

/// The `ROSTER_*` variables of this process. Values that are not UTF-8 are
/// skipped rather than allowed to panic.
pub fn process_env() -> EnvMap {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("ROSTER_"))
        .collect()
}

/// Layers `file` (if any) under `env`. Empty environment values count as unset.
pub fn parse(file: Option<ConfigFile<'_>>, env: &EnvMap) -> Result<AgentConfig, ConfigError> {
    let (parsed, dir) = match file {
        Some(file) => {
            let parsed: FileConfig = toml::from_str(file.text).map_err(|e| ConfigError::FileSyntax {
                path: file.path.to_owned(),
                message: e.message().to_owned() + &location(file.text, &e),
            })?;
            (parsed, file.path.parent().map(Path::to_owned).unwrap_or_default())
        }
        None => (FileConfig::default(), PathBuf::new()),
    };
    let env_value = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned);
    let relative_to_file = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
    let mut warnings = Vec::new();
    let file_ldap = parsed.ldap;

    let password = match (env.get(ENV_LDAP_PASSWORD).filter(|v| !v.is_empty()), env_value(ENV_LDAP_PASSWORD_FILE)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::TwoPasswords { first: ENV_LDAP_PASSWORD.into(), second: ENV_LDAP_PASSWORD_FILE.into() });
        }
        (Some(value), None) => Some(PasswordSource::Value(Secret::new(value.clone()))),
        (None, Some(path)) => Some(PasswordSource::File(PathBuf::from(path))),
        (None, None) => match (file_ldap.password, file_ldap.password_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::TwoPasswords { first: "`password` in [ldap]".into(), second: "`password_file` in [ldap]".into() });
            }
            (Some(value), None) => {
                warnings.push(format!(
                    "the config file holds the LDAP password in clear text; prefer `password_file` or {ENV_LDAP_PASSWORD_FILE}"
                ));
                Some(PasswordSource::Value(Secret::new(value)))
            }
            (None, Some(path)) => Some(PasswordSource::File(relative_to_file(path))),
            (None, None) => None,
        },
    };

    let page_size = match env_value(ENV_LDAP_PAGE_SIZE) {
        Some(text) => parse_page_size(ENV_LDAP_PAGE_SIZE, &text, text.parse::<i64>().ok())?,
        None => match file_ldap.page_size {
            Some(n) => parse_page_size("`page_size` in [ldap]", &n.to_string(), Some(n))?,
            None => DEFAULT_PAGE_SIZE,
        },
    };
    let read_connections = match env_value(ENV_LDAP_READ_CONNECTIONS) {
        Some(text) => parse_read_connections(ENV_LDAP_READ_CONNECTIONS, &text, text.parse::<i64>().ok())?,
        None => match file_ldap.read_connections {
            Some(n) => parse_read_connections("`read_connections` in [ldap]", &n.to_string(), Some(n))?,
            None => DEFAULT_READ_CONNECTIONS,
        },
    };
    let flag = |name: &str, file_value: Option<bool>| -> Result<bool, ConfigError> {
        match env_value(name) {
            Some(text) => parse_bool(name, &text),
            None => Ok(file_value.unwrap_or(false)),
        }
    };
    let starttls = flag(ENV_LDAP_STARTTLS, file_ldap.starttls)?;
    let allow_insecure = flag(ENV_LDAP_ALLOW_INSECURE, file_ldap.allow_insecure)?;
    let url = env_value(ENV_LDAP_URL).or(file_ldap.url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()));
    if starttls && url.as_deref().is_some_and(|u| has_scheme(u, "ldaps")) {
        warnings.push("StartTLS is ignored for ldaps:// (the connection is TLS from the start)".to_owned());
    }

    let ldap = LdapConfig {
        url,
        bind_dn: env_value(ENV_LDAP_BIND_DN).or(file_ldap.bind_dn.filter(|v| !v.trim().is_empty())),
        password,
        base_dn: env_value(ENV_LDAP_BASE_DN).or(file_ldap.base_dn.filter(|v| !v.trim().is_empty())),
        page_size,
        read_connections,
        starttls,
        allow_insecure,
        ca_file: env_value(ENV_LDAP_CA_FILE).map(PathBuf::from).or(file_ldap.ca_file.map(relative_to_file)),
    };

    let max_retries = match env_value(ENV_HTTP_MAX_RETRIES) {
        Some(text) => parse_retries(ENV_HTTP_MAX_RETRIES, &text, text.parse::<i64>().ok())?,
        None => match parsed.server.max_retries {
            Some(n) => parse_retries("`max_retries` in [server]", &n.to_string(), Some(n))?,
            None => DEFAULT_MAX_RETRIES,
        },
    };
    let server = ServerConfig {
        ca_file: env_value(ENV_SERVER_CA_FILE).map(PathBuf::from).or(parsed.server.ca_file.map(relative_to_file)),
        max_retries,
    };
    Ok(AgentConfig { ldap, server, warnings })
}

impl LdapConfig {
    /// Checks that the settings needed to read the directory are there and
    /// well-formed. Pure: the password file is not read here.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.as_deref().ok_or(ConfigError::MissingLdapUrl)?;
        if !has_scheme(url, "ldap") && !has_scheme(url, "ldaps") {
            return Err(ConfigError::BadLdapUrl(url.to_owned()));
        }
        if self.bind_dn.is_none() {
            return Err(ConfigError::MissingBindDn);
        }
        if self.password.is_none() {
            return Err(ConfigError::MissingPassword);
        }
        Ok(())
    }

    /// Validates and reads the password (from its file, if it has one).
    pub fn into_settings(self) -> Result<LdapSettings, ConfigError> {
        self.validate()?;
        let password = match self.password {
            Some(PasswordSource::Value(secret)) => secret,
            Some(PasswordSource::File(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::PasswordFile { path: path.clone(), source })?;
                let password = trim_newline(&text);
                if password.is_empty() {
                    return Err(ConfigError::EmptyPasswordFile(path));
                }
                Secret::new(password)
            }
            None => return Err(ConfigError::MissingPassword),
        };
        Ok(LdapSettings {
            url: self.url.unwrap_or_default(),
            bind_dn: self.bind_dn.unwrap_or_default(),
            password,
            base_dn: self.base_dn,
            page_size: self.page_size,
            read_connections: self.read_connections,
            starttls: self.starttls,
            allow_insecure: self.allow_insecure,
            ca_file: self.ca_file,
            ..LdapSettings::default()
        })
    }
}

/// Reads the config file: a missing file is fine when it is the default
/// one (`explicit == false`), an error when the user named it.
pub fn read_config_file(path: &Path, explicit: bool) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError::MissingFile(path.to_owned())),
        Err(source) => Err(ConfigError::ReadFile { path: path.to_owned(), source }),
    }
}

/// Parses a boolean as the environment spells it.
pub fn parse_bool(name: &str, text: &str) -> Result<bool, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::BadBool { name: name.to_owned(), value: text.to_owned() }),
    }
}

/// True when `url` starts with `scheme://` (case-insensitively).
pub(crate) fn has_scheme(url: &str, scheme: &str) -> bool {
    url.len() > scheme.len() + 3
        && url.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        && url.get(scheme.len()..scheme.len() + 3) == Some("://")
}

fn parse_page_size(name: &str, text: &str, value: Option<i64>) -> Result<u32, ConfigError> {
    match value {
        Some(n) if (1..=i64::from(MAX_PAGE_SIZE)).contains(&n) => u32::try_from(n).map_err(|_| bad_page_size(name, text)),
        _ => Err(bad_page_size(name, text)),
    }
}

fn bad_page_size(name: &str, text: &str) -> ConfigError {
    ConfigError::BadPageSize { name: name.to_owned(), value: text.to_owned() }
}

fn parse_read_connections(name: &str, text: &str, value: Option<i64>) -> Result<u32, ConfigError> {
    let bad = || ConfigError::BadReadConnections { name: name.to_owned(), value: text.to_owned() };
    match value {
        Some(n) if (1..=i64::from(MAX_READ_CONNECTIONS)).contains(&n) => u32::try_from(n).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn parse_retries(name: &str, text: &str, value: Option<i64>) -> Result<u32, ConfigError> {
    let bad = || ConfigError::BadRetries { name: name.to_owned(), value: text.to_owned() };
    match value {
        Some(n) if (0..=i64::from(MAX_MAX_RETRIES)).contains(&n) => u32::try_from(n).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Drops one trailing `\n` or `\r\n` (what editors and `echo` add).
fn trim_newline(text: &str) -> String {
    text.strip_suffix("\r\n").or_else(|| text.strip_suffix('\n')).unwrap_or(text).to_owned()
}

/// ` at line L, column C` for a TOML error, when it has a position.
fn location(text: &str, error: &toml::de::Error) -> String {
    let Some(span) = error.span() else { return String::new() };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" (line {line}, column {column})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn file(text: &str) -> Option<ConfigFile<'_>> {
        Some(ConfigFile { path: Path::new("/etc/roster/roster-agent.toml"), text })
    }

    #[test]
    fn defaults_without_file_or_env() {
        let config = parse(None, &env(&[])).unwrap();
        assert_eq!(config.ldap.url, None);
        assert_eq!(config.ldap.page_size, DEFAULT_PAGE_SIZE);
        assert!(!config.ldap.starttls && !config.ldap.allow_insecure);
        assert_eq!(config.server.max_retries, DEFAULT_MAX_RETRIES);
        assert!(config.warnings.is_empty());
        assert!(matches!(config.ldap.validate(), Err(ConfigError::MissingLdapUrl)));
    }

    #[test]
    fn file_values_with_relative_paths_resolved_against_the_file() {
        let text = r#"
            [ldap]
            url = "ldaps://dc01.corp.example.com"
            bind_dn = 'CORP\svc-roster'
            password_file = "secret.txt"
            base_dn = "DC=corp,DC=example,DC=com"
            page_size = 250
            starttls = false
            ca_file = "/opt/ca.pem"
            [server]
            ca_file = "roster-ca.pem"
            max_retries = 2
        "#;
        let config = parse(file(text), &env(&[])).unwrap();
        assert_eq!(config.ldap.url.as_deref(), Some("ldaps://dc01.corp.example.com"));
        assert_eq!(config.ldap.bind_dn.as_deref(), Some("CORP\\svc-roster"));
        assert_eq!(config.ldap.password, Some(PasswordSource::File("/etc/roster/secret.txt".into())));
        assert_eq!(config.ldap.base_dn.as_deref(), Some("DC=corp,DC=example,DC=com"));
        assert_eq!(config.ldap.page_size, 250);
        assert_eq!(config.ldap.ca_file, Some(PathBuf::from("/opt/ca.pem")));
        assert_eq!(config.server.ca_file, Some(PathBuf::from("/etc/roster/roster-ca.pem")));
        assert_eq!(config.server.max_retries, 2);
        config.ldap.validate().unwrap();
    }

    #[test]
    fn environment_overrides_the_file() {
        let text = "[ldap]\nurl = \"ldaps://file\"\nbind_dn = \"file\"\npassword_file = \"f\"\npage_size = 250\nstarttls = true\n";
        let vars = env(&[
            (ENV_LDAP_URL, "ldap://127.0.0.1"),
            (ENV_LDAP_BIND_DN, "Administrator@CORP.EXAMPLE.TEST"),
            (ENV_LDAP_PASSWORD, "Passw0rd!Passw0rd"),
            (ENV_LDAP_PAGE_SIZE, "100"),
            (ENV_LDAP_STARTTLS, "no"),
            (ENV_LDAP_ALLOW_INSECURE, "YES"),
            (ENV_LDAP_CA_FILE, "ca.pem"),
            (ENV_SERVER_CA_FILE, "server-ca.pem"),
            (ENV_HTTP_MAX_RETRIES, "0"),
            (ENV_LDAP_BASE_DN, ""),
        ]);
        let config = parse(file(text), &vars).unwrap();
        assert_eq!(config.ldap.url.as_deref(), Some("ldap://127.0.0.1"));
        assert_eq!(config.ldap.bind_dn.as_deref(), Some("Administrator@CORP.EXAMPLE.TEST"));
        assert_eq!(config.ldap.password, Some(PasswordSource::Value(Secret::new("Passw0rd!Passw0rd"))));
        assert_eq!(config.ldap.page_size, 100);
        assert!(!config.ldap.starttls);
        assert!(config.ldap.allow_insecure);
        assert_eq!(config.ldap.base_dn, None, "an empty variable counts as unset");
        // Paths from the environment are taken as given (relative to the working directory).
        assert_eq!(config.ldap.ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(config.server.ca_file, Some(PathBuf::from("server-ca.pem")));
        assert_eq!(config.server.max_retries, 0);
    }

    #[test]
    fn booleans() {
        for (text, value) in
            [("true", true), ("1", true), ("yes", true), ("True", true), ("false", false), ("0", false), ("no", false), (" NO ", false)]
        {
            assert_eq!(parse_bool("X", text).unwrap(), value, "{text:?}");
        }
        for bad in ["", "on", "2", "y"] {
            let e = parse(None, &env(&[(ENV_LDAP_STARTTLS, bad)]));
            if bad.is_empty() {
                assert!(e.is_ok(), "an empty variable is unset");
                continue;
            }
            let message = e.unwrap_err().to_string();
            assert!(message.contains(ENV_LDAP_STARTTLS) && message.contains(bad), "{message}");
        }
        let e = parse(None, &env(&[(ENV_LDAP_ALLOW_INSECURE, "maybe")])).unwrap_err();
        assert_eq!(e.to_string(), "ROSTER_LDAP_ALLOW_INSECURE must be true/false, 1/0 or yes/no, got `maybe`");
    }

    #[test]
    fn page_size_bounds() {
        for (text, ok) in
            [("1", true), ("1000", true), ("500", true), ("0", false), ("1001", false), ("-5", false), ("abc", false), ("1.5", false)]
        {
            let result = parse(None, &env(&[(ENV_LDAP_PAGE_SIZE, text)]));
            assert_eq!(result.is_ok(), ok, "{text}: {result:?}");
            if !ok {
                assert!(result.unwrap_err().to_string().starts_with("ROSTER_LDAP_PAGE_SIZE must be a whole number from 1 to 1000"));
            }
        }
        assert!(matches!(parse(file("[ldap]\npage_size = 5000"), &env(&[])), Err(ConfigError::BadPageSize { .. })));
        assert!(matches!(parse(None, &env(&[(ENV_HTTP_MAX_RETRIES, "lots")])), Err(ConfigError::BadRetries { .. })));
    }

    #[test]
    fn read_connections_bounds() {
        for (text, ok) in [("1", true), ("8", true), ("3", true), ("0", false), ("9", false), ("-1", false), ("many", false)] {
            let result = parse(None, &env(&[(ENV_LDAP_READ_CONNECTIONS, text)]));
            assert_eq!(result.as_ref().map(|c| c.ldap.read_connections).ok(), ok.then(|| text.parse().unwrap()), "{text}: {result:?}");
            if !ok {
                assert!(result.unwrap_err().to_string().starts_with("ROSTER_LDAP_READ_CONNECTIONS must be a whole number from 1 to 8"));
            }
        }
        assert_eq!(parse(None, &env(&[])).unwrap().ldap.read_connections, DEFAULT_READ_CONNECTIONS);
        assert_eq!(parse(file("[ldap]\nread_connections = 1"), &env(&[])).unwrap().ldap.read_connections, 1);
        let both = parse(file("[ldap]\nread_connections = 1"), &env(&[(ENV_LDAP_READ_CONNECTIONS, "5")])).unwrap();
        assert_eq!(both.ldap.read_connections, 5, "the environment overrides the file");
        assert!(matches!(parse(file("[ldap]\nread_connections = 0"), &env(&[])), Err(ConfigError::BadReadConnections { .. })));
    }

    #[test]
    fn password_sources() {
        let both_env = env(&[(ENV_LDAP_PASSWORD, "a"), (ENV_LDAP_PASSWORD_FILE, "/p")]);
        assert!(matches!(parse(None, &both_env), Err(ConfigError::TwoPasswords { .. })));
        assert!(matches!(parse(file("[ldap]\npassword = \"a\"\npassword_file = \"p\""), &env(&[])), Err(ConfigError::TwoPasswords { .. })));

        let inline = parse(file("[ldap]\npassword = \"in-file\""), &env(&[])).unwrap();
        assert_eq!(inline.ldap.password, Some(PasswordSource::Value(Secret::new("in-file"))));
        assert_eq!(inline.warnings.len(), 1, "a password in the file is allowed but discouraged");
        assert!(!inline.warnings[0].contains("in-file"));

        let from_env_file = parse(file("[ldap]\npassword = \"in-file\""), &env(&[(ENV_LDAP_PASSWORD_FILE, "/run/pw")])).unwrap();
        assert_eq!(from_env_file.ldap.password, Some(PasswordSource::File("/run/pw".into())));
        assert!(from_env_file.warnings.is_empty());
        // A password of spaces is still a password.
        let spaces = parse(None, &env(&[(ENV_LDAP_PASSWORD, "  ")])).unwrap();
        assert_eq!(spaces.ldap.password, Some(PasswordSource::Value(Secret::new("  "))));
    }

    #[test]
    fn the_debug_form_never_shows_the_password() {
        let config = parse(None, &env(&[(ENV_LDAP_PASSWORD, "Passw0rd!Passw0rd")])).unwrap();
        assert!(!format!("{config:?}").contains("Passw0rd"));
    }

    #[test]
    fn bad_files_are_refused_with_their_position() {
        let e = parse(file("[ldap]\nurl = \"ldap://x\"\npasword = \"typo\"\n"), &env(&[])).unwrap_err();
        let message = e.to_string();
        assert!(message.starts_with("config file `/etc/roster/roster-agent.toml`: "), "{message}");
        assert!(message.contains("pasword") && message.contains("line 3"), "{message}");
        assert!(parse(file("[ldap\n"), &env(&[])).is_err());
        assert!(parse(file("[ldap]\nstarttls = \"yes\"\n"), &env(&[])).is_err());
    }

    #[test]
    fn validation() {
        let base =
            |url: &str| parse(None, &env(&[(ENV_LDAP_URL, url), (ENV_LDAP_BIND_DN, "CORP\\svc"), (ENV_LDAP_PASSWORD, "pw")])).unwrap().ldap;
        base("ldaps://dc01").validate().unwrap();
        base("LDAP://dc01:389").validate().unwrap();
        for bad in ["http://dc01", "dc01", "ldap:/dc01", "ldap://"] {
            assert!(matches!(base(bad).validate(), Err(ConfigError::BadLdapUrl(_))), "{bad}");
        }
        let mut no_bind = base("ldaps://dc01");
        no_bind.bind_dn = None;
        assert!(matches!(no_bind.validate(), Err(ConfigError::MissingBindDn)));
        let mut no_password = base("ldaps://dc01");
        no_password.password = None;
        assert!(matches!(no_password.validate(), Err(ConfigError::MissingPassword)));
        let warned = parse(None, &env(&[(ENV_LDAP_URL, "ldaps://dc01"), (ENV_LDAP_STARTTLS, "true")])).unwrap();
        assert_eq!(warned.warnings.len(), 1);
    }

    #[test]
    fn password_files_lose_one_trailing_newline() {
        assert_eq!(trim_newline("pw\n"), "pw");
        assert_eq!(trim_newline("pw\r\n"), "pw");
        assert_eq!(trim_newline("pw \n\n"), "pw \n");
        assert_eq!(trim_newline("pw"), "pw");
    }
}
