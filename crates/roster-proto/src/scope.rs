//! What an import job reads: the OUs whose users are in scope, and where
//! its groups may live, both relative to the directory's base DN.
//!
//! The agent uses [`ResolvedScope`] to decide which subtrees to search; the
//! server uses the same type to re-check every user it is about to import,
//! so a user outside the job's paths is never imported, whatever the agent
//! sent.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::dn::{self, Dn, DnError};

/// The path that stands for the whole domain.
pub const WHOLE_DOMAIN: &str = "*";

/// A job's scope as the admin sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobScope {
    /// OUs whose users are in scope, relative to the base DN
    /// (`OU=Copenhagen,OU=Staff`), or `*` for the whole domain.
    pub relative_paths: Vec<String>,
    /// Where groups are read from, same form; empty means the whole domain,
    /// so a linked group anywhere works for users in scope.
    #[serde(default)]
    pub group_paths: Vec<String>,
    /// An LDAP filter users must also match (e.g. `(employeeType=staff)`),
    /// ANDed to the agent's user search. The agent applies it; the server
    /// cannot evaluate arbitrary filters, so a delta flags changed users
    /// that no longer match (`UserRecord::outside_filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
}

/// Why a scope cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("a job needs at least one relative path (use \"*\" for the whole domain)")]
    NoPaths,
    #[error("relative path `{path}`: {source}")]
    BadPath { path: String, source: DnError },
    #[error("base DN: {0}")]
    BadBase(DnError),
    #[error("user filter `{filter}`: {reason}")]
    BadFilter { filter: String, reason: &'static str },
    #[error("{count} {field}: a job may have at most {limit}")]
    TooManyPaths { field: &'static str, count: usize, limit: usize },
}

/// Most relative paths, and most group paths, one job may have: a scope is
/// a handful of OUs, and each path is an LDAP search the agent runs.
pub const MAX_PATHS: usize = 1000;

/// Longest user filter accepted.
pub const MAX_FILTER_LEN: usize = 4096;

/// One subtree to search: the DN as sent to LDAP, and its folded form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchBase {
    /// The DN exactly as it will be sent to the directory.
    pub dn: String,
    /// The folded DN, for containment checks.
    pub folded: Dn,
}

/// A scope made absolute against a base DN, with nested paths dropped so
/// no subtree is read twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedScope {
    /// Subtrees whose users are in scope.
    pub user_bases: Vec<SearchBase>,
    /// Subtrees whose groups are read.
    pub group_bases: Vec<SearchBase>,
    /// The user filter, checked for shape.
    pub user_filter: Option<String>,
}

impl JobScope {
    /// A user filter as given, trimmed; a blank one is no filter.
    pub fn given_filter(filter: Option<&str>) -> Option<&str> {
        filter.map(str::trim).filter(|f| !f.is_empty())
    }

    /// Checks the paths' number and syntax without a base DN (used when a
    /// job is saved; the number first, so a huge list costs nothing more).
    pub fn validate(&self) -> Result<(), ScopeError> {
        for (field, paths) in [("relative_paths", &self.relative_paths), ("group_paths", &self.group_paths)] {
            if paths.len() > MAX_PATHS {
                return Err(ScopeError::TooManyPaths { field, count: paths.len(), limit: MAX_PATHS });
            }
        }
        self.resolve("DC=validate").map(|_| ())
    }

    /// Makes the scope absolute against `base_dn`.
    pub fn resolve(&self, base_dn: &str) -> Result<ResolvedScope, ScopeError> {
        if self.relative_paths.iter().all(|p| p.trim().is_empty()) {
            return Err(ScopeError::NoPaths);
        }
        Dn::parse(base_dn).map_err(ScopeError::BadBase)?;
        let user_filter = match Self::given_filter(self.user_filter.as_deref()) {
            Some(filter) => Some(check_filter(filter)?.to_owned()),
            None => None,
        };
        let user_bases = resolve_paths(&self.relative_paths, base_dn)?;
        let group_bases = if self.group_paths.iter().all(|p| p.trim().is_empty()) {
            resolve_paths(&[WHOLE_DOMAIN.to_owned()], base_dn)?
        } else {
            resolve_paths(&self.group_paths, base_dn)?
        };
        Ok(ResolvedScope { user_bases, group_bases, user_filter })
    }
}

impl ResolvedScope {
    /// True when a user at `dn` is in scope.
    pub fn contains_user(&self, dn: &Dn) -> bool {
        self.user_bases.iter().any(|b| dn.is_within(&b.folded))
    }

    /// True when a group at `dn` is read.
    pub fn contains_group(&self, dn: &Dn) -> bool {
        self.group_bases.iter().any(|b| dn.is_within(&b.folded))
    }
}

/// Checks an LDAP filter's shape (RFC 4515): one parenthesised filter with
/// balanced parentheses. Parentheses inside values are escaped (`\28`,
/// `\29`), so every raw one is structure. The DC judges the rest.
fn check_filter(filter: &str) -> Result<&str, ScopeError> {
    let bad = |reason| ScopeError::BadFilter { filter: filter.to_owned(), reason };
    if filter.len() > MAX_FILTER_LEN {
        return Err(bad("longer than 4096 characters"));
    }
    if !filter.starts_with('(') || !filter.ends_with(')') {
        return Err(bad("must be enclosed in parentheses, e.g. (department=Sales)"));
    }
    let mut depth = 0usize;
    for (i, c) in filter.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1).ok_or_else(|| bad("has a `)` without its `(`"))?;
                if depth == 0 && i + 1 != filter.len() {
                    return Err(bad("must be one filter; combine several with (&...) or (|...)"));
                }
            }
            '\0' => return Err(bad("contains a NUL character")),
            _ => {}
        }
    }
    if depth != 0 {
        return Err(bad("has a `(` without its `)`"));
    }
    if filter.len() < 3 || !filter.contains(['=', '~', '<', '>']) && !filter.contains(":=") {
        return Err(bad("has no condition"));
    }
    Ok(filter)
}

fn resolve_paths(paths: &[String], base_dn: &str) -> Result<Vec<SearchBase>, ScopeError> {
    let mut bases: Vec<SearchBase> = Vec::new();
    for path in paths.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        // The path must be a DN by itself: joined first, a trailing `\`
        // would escape the comma before the base DN and swallow it.
        if path != WHOLE_DOMAIN {
            Dn::parse(path).map_err(|source| ScopeError::BadPath { path: path.to_owned(), source })?;
        }
        let absolute = if path == WHOLE_DOMAIN { base_dn.trim().to_owned() } else { dn::join(path, base_dn) };
        let folded = Dn::parse(&absolute).map_err(|source| ScopeError::BadPath { path: path.to_owned(), source })?;
        bases.push(SearchBase { dn: absolute, folded });
    }
    // Keep the outermost paths only: a path inside another adds nothing,
    // and of equal paths the first. Looking up each path's ancestors costs
    // its depth, not the number of paths.
    let mut first: HashMap<&Dn, usize> = HashMap::with_capacity(bases.len());
    for (i, base) in bases.iter().enumerate() {
        first.entry(&base.folded).or_insert(i);
    }
    let covered = |i: usize, base: &SearchBase| {
        first.get(&base.folded).is_some_and(|j| *j != i)
            || std::iter::successors(base.folded.parent(), Dn::parent).any(|ancestor| first.contains_key(&ancestor))
    };
    Ok(bases.iter().enumerate().filter(|(i, base)| !covered(*i, base)).map(|(_, base)| base.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "DC=corp,DC=example,DC=test";

    fn scope(users: &[&str], groups: &[&str]) -> JobScope {
        JobScope {
            relative_paths: users.iter().map(|s| s.to_string()).collect(),
            group_paths: groups.iter().map(|s| s.to_string()).collect(),
            user_filter: None,
        }
    }

    #[test]
    fn user_filters_must_be_one_balanced_filter() {
        let with = |filter: &str| JobScope { user_filter: Some(filter.to_owned()), ..scope(&["*"], &[]) }.validate();
        for ok in [
            "(department=Sales)",
            "(&(department=Sales)(!(title=Intern)))",
            "(cn=a\\28b\\29)",
            " (title=*) ",
            "(memberOf:1.2.840.113556.1.4.1941:=CN=x)",
        ] {
            assert!(with(ok).is_ok(), "{ok}: {:?}", with(ok));
        }
        for bad in ["department=Sales", "(department=Sales", "(a=b))", "(a=b)(c=d)", "()", "(abc)", "(a=b\0)"] {
            assert!(matches!(with(bad), Err(ScopeError::BadFilter { .. })), "{bad:?} accepted");
        }
        assert!(with(&format!("(a={})", "x".repeat(MAX_FILTER_LEN))).is_err());
        let resolved = JobScope { user_filter: Some(" ".into()), ..scope(&["*"], &[]) }.resolve(BASE).unwrap();
        assert_eq!(resolved.user_filter, None, "a blank filter is no filter");
    }

    fn bases(b: &[SearchBase]) -> Vec<&str> {
        b.iter().map(|b| b.dn.as_str()).collect()
    }

    #[test]
    fn resolves_paths_against_the_base() {
        let r = scope(&["OU=Copenhagen,OU=Staff", "OU=Aarhus,OU=Staff"], &[]).resolve(BASE).unwrap();
        assert_eq!(
            bases(&r.user_bases),
            ["OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test", "OU=Aarhus,OU=Staff,DC=corp,DC=example,DC=test"]
        );
        assert_eq!(bases(&r.group_bases), [BASE]);
    }

    #[test]
    fn star_is_the_whole_domain_and_swallows_other_paths() {
        let r = scope(&["OU=Staff", "*"], &["OU=Groups"]).resolve(BASE).unwrap();
        assert_eq!(bases(&r.user_bases), [BASE]);
        assert_eq!(bases(&r.group_bases), ["OU=Groups,DC=corp,DC=example,DC=test"]);
    }

    #[test]
    fn nested_and_duplicate_paths_are_read_once() {
        let r = scope(&["OU=Copenhagen,OU=Staff", "ou=staff", "OU=Staff "], &[]).resolve(BASE).unwrap();
        assert_eq!(bases(&r.user_bases), ["ou=staff,DC=corp,DC=example,DC=test"]);
    }

    /// The reference: a path is dropped when another one contains it (or
    /// equals it and comes first).
    fn naive(paths: &[&str]) -> Vec<String> {
        let bases: Vec<Dn> = paths.iter().map(|p| Dn::parse(&dn::join(p, BASE)).unwrap()).collect();
        (0..bases.len())
            .filter(|i| !(0..bases.len()).any(|j| j != *i && bases[*i].is_within(&bases[j]) && (bases[*i] != bases[j] || j < *i)))
            .map(|i| dn::join(paths[i], BASE))
            .collect()
    }

    #[test]
    fn dropping_nested_paths_agrees_with_comparing_every_pair() {
        let cases: &[&[&str]] = &[
            &["OU=A", "OU=B,OU=A", "OU=C,OU=B,OU=A", "ou=a ", "OU=D"],
            &["OU=C,OU=B,OU=A", "OU=B,OU=A", "OU=A"],
            &["OU=X,OU=A", "OU=X,OU=B", "OU=X,OU=A", "OU=B"],
            &["CN=a+UID=b,OU=A", "UID=B+CN=A,ou=A", "OU=Z"],
            &["OU=A"],
        ];
        for paths in cases {
            let owned: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            let kept: Vec<String> = resolve_paths(&owned, BASE).unwrap().into_iter().map(|b| b.dn).collect();
            assert_eq!(kept, naive(paths), "{paths:?}");
        }
    }

    #[test]
    fn many_paths_are_refused_by_number_and_resolved_in_linear_time() {
        let many = |n: usize| (0..n).map(|i| format!("OU=P{i},OU=Staff")).collect::<Vec<_>>();
        let ok = JobScope { relative_paths: many(MAX_PATHS), group_paths: many(MAX_PATHS), user_filter: None };
        assert!(ok.validate().is_ok());
        for (relative, group, field, count) in [(MAX_PATHS + 1, 0, "relative_paths", MAX_PATHS + 1), (1, 20_000, "group_paths", 20_000)] {
            let scope = JobScope { relative_paths: many(relative), group_paths: many(group), user_filter: None };
            assert_eq!(scope.validate(), Err(ScopeError::TooManyPaths { field, count, limit: MAX_PATHS }));
        }
        // A stored scope past the cap (saved before it) still resolves, quickly.
        let started = std::time::Instant::now();
        let resolved = JobScope { relative_paths: many(20_000), group_paths: vec![], user_filter: None }.resolve(BASE).unwrap();
        assert_eq!(resolved.user_bases.len(), 20_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    #[test]
    fn containment() {
        let r = scope(&["OU=Staff"], &[]).resolve(BASE).unwrap();
        let inside = Dn::parse("CN=Ann,OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test").unwrap();
        let outside = Dn::parse("CN=Bob,OU=External,DC=corp,DC=example,DC=test").unwrap();
        assert!(r.contains_user(&inside));
        assert!(!r.contains_user(&outside));
        assert!(r.contains_group(&outside));
    }

    #[test]
    fn rejects_empty_and_malformed_scopes() {
        assert_eq!(scope(&[], &[]).resolve(BASE), Err(ScopeError::NoPaths));
        assert_eq!(scope(&[" "], &[]).validate(), Err(ScopeError::NoPaths));
        assert!(matches!(scope(&["Staff"], &[]).validate(), Err(ScopeError::BadPath { .. })));
        // A dangling escape would swallow the comma before the base DN.
        assert!(matches!(scope(&["OU=Staff\\"], &[]).validate(), Err(ScopeError::BadPath { .. })));
        assert!(matches!(scope(&["*"], &[]).resolve("not a dn"), Err(ScopeError::BadBase(_))));
    }
}
