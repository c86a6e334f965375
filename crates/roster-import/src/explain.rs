//! Explain one user: which accesses the links grant it and through which
//! memberships, and why it is not imported or not active. The rules are the
//! planner's ([`plan()`](crate::plan())): the same link resolution
//! (`links::expand`), the same scope check, the same notion of a
//! basic access and of a disabled or expired account.
//!
//! An [`Explainer`] is built once per directory state (it indexes who is a
//! member of which group, in reverse) and then asked about any number of
//! users; each question walks only the groups above that one user. So an
//! explanation depends only on every group's identity (GUID, DN and name:
//! links resolve against all of them) and on the memberships of the user
//! and of the groups above it: a store may hand the explainer every group
//! with only those members, and the answer is the same (tested).

use std::collections::{BTreeSet, HashMap, VecDeque};

use roster_proto::admin::AccessKind;
use roster_proto::dn::Dn;
use roster_proto::insight::{AccessGrant, Explanation, GrantChain, GroupStep, Reason, ReasonCode};
use roster_proto::records::{GroupRecord, UserRecord};
use roster_proto::scope::ResolvedScope;
use roster_proto::{AccessId, ObjectGuid};

use crate::catalogue::AccessCatalogue;
use crate::links::{self, LinkRule};
use crate::scope::UserScope;

/// How an admin names the AD user to explain: by objectGUID (or
/// consistency GUID), by DN, or by sAMAccountName, told apart as
/// [`AccountName::parse`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountName {
    Guid(ObjectGuid),
    /// A DN of at least two RDNs, compared as AD compares DNs.
    Dn(Dn),
    /// A sAMAccountName, compared case-insensitively (ASCII, as AD compares
    /// it) with the name as the import stores it (cleaned, which is also
    /// how an explanation shows it).
    Account(String),
}

/// The key under which a store indexes users to find them by an
/// [`AccountName`] without reading every user: a user matches a DN or an
/// account name only if its key of that kind is the name's
/// ([`LookupKeys::of`], [`AccountName::key`]). Keys may collide (a folded
/// DN loses its escapes; a long key is hashed); a store checks what it
/// finds with [`AccountName::matches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupKey {
    Dn(String),
    Account(String),
}

/// A user record's keys of each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupKeys {
    /// The cleaned sAMAccountName, ASCII-lowercased.
    pub account: String,
    /// The folded DN, when the DN can be read.
    pub dn: Option<String>,
}

/// The longest key kept as it is; a longer one is kept as its SHA-256, so
/// that any key fits an index entry (PostgreSQL's hold ~2,700 bytes).
pub const MAX_LOOKUP_KEY_BYTES: usize = 256;

fn bounded(key: String) -> String {
    if key.len() <= MAX_LOOKUP_KEY_BYTES {
        return key;
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
    format!("#{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl LookupKeys {
    pub fn of(user: &UserRecord) -> LookupKeys {
        LookupKeys {
            account: bounded(crate::fields::clean_record(user).sam_account_name.to_ascii_lowercase()),
            dn: Dn::parse(&user.dn).ok().map(|dn| bounded(dn.to_string())),
        }
    }
}

impl AccountName {
    /// An objectGUID if it reads as one, else a DN if it reads as one of
    /// two RDNs or more, else an account name.
    pub fn parse(text: &str) -> AccountName {
        if let Ok(guid) = text.parse::<ObjectGuid>() {
            return AccountName::Guid(guid);
        }
        match Dn::parse(text) {
            Ok(dn) if dn.depth() > 1 => AccountName::Dn(dn),
            _ => AccountName::Account(text.to_owned()),
        }
    }

    /// Whether `user` is the user this names.
    pub fn matches(&self, user: &UserRecord) -> bool {
        match self {
            AccountName::Guid(guid) => user.object_guid == *guid || user.anchor() == *guid,
            AccountName::Dn(dn) => Dn::parse(&user.dn).is_ok_and(|d| d == *dn),
            AccountName::Account(name) => crate::fields::clean_record(user).sam_account_name.eq_ignore_ascii_case(name),
        }
    }

    /// The key of the users this may name; `None` for a GUID, which is a
    /// key itself (of the objectGUID or the anchor).
    pub fn key(&self) -> Option<LookupKey> {
        match self {
            AccountName::Guid(_) => None,
            AccountName::Dn(dn) => Some(LookupKey::Dn(bounded(dn.to_string()))),
            AccountName::Account(name) => Some(LookupKey::Account(bounded(name.to_ascii_lowercase()))),
        }
    }
}

/// Most chains shown for one access.
pub const MAX_CHAINS_PER_ACCESS: usize = roster_proto::insight::MAX_CHAINS_PER_GRANT;

/// Everything an explanation looks at: what the planner looks at, minus
/// the users (they are asked about one at a time) and the current users.
#[derive(Debug, Clone, Copy)]
pub struct ExplainInput<'a> {
    /// The directory state's groups, with their direct members.
    pub groups: &'a [GroupRecord],
    /// The job's scope.
    pub scope: &'a ResolvedScope,
    /// The job's links.
    pub links: &'a [LinkRule],
    /// The tenant's access catalogue: id → (kind, name).
    pub accesses: &'a AccessCatalogue,
    /// The time `accountExpires` is judged against (Unix seconds).
    pub now_unix: i64,
}

/// Explains users of one directory state. Built once, then asked about
/// many users.
#[derive(Debug)]
pub struct Explainer<'a> {
    input: ExplainInput<'a>,
    /// The groups links traverse, one per objectGUID (the last record wins,
    /// as in `links::expand`), sorted by name (case-insensitive), then GUID.
    groups: Vec<&'a GroupRecord>,
    /// For every object named as a member, the groups (indexes into
    /// `groups`) that name it directly, in `groups` order.
    parents: HashMap<ObjectGuid, Vec<usize>>,
    /// Accesses granted to each member by the links, as the planner
    /// computes them (catalogue not yet applied).
    granted: links::Grants,
    /// For every access of the catalogue, the distinct linked groups
    /// (indexes into `groups`) that grant it.
    granting_groups: HashMap<AccessId, Vec<usize>>,
}

impl<'a> Explainer<'a> {
    /// Resolves the links and indexes the groups' memberships in reverse.
    pub fn new(input: ExplainInput<'a>) -> Self {
        let expanded = links::expand(input.links, input.groups);

        let mut by_guid: HashMap<ObjectGuid, &'a GroupRecord> = HashMap::with_capacity(input.groups.len());
        for group in input.groups {
            by_guid.insert(group.object_guid, group);
        }
        let mut groups: Vec<&'a GroupRecord> = by_guid.into_values().collect();
        groups.sort_by_cached_key(|g| (g.name.to_lowercase(), g.name.clone(), g.object_guid));
        let index: HashMap<ObjectGuid, usize> = groups.iter().enumerate().map(|(i, g)| (g.object_guid, i)).collect();

        let mut parents: HashMap<ObjectGuid, Vec<usize>> = HashMap::new();
        for (i, group) in groups.iter().enumerate() {
            for member in &group.members {
                let list = parents.entry(*member).or_default();
                // Groups are visited in order, so a repeated member repeats the last entry.
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }

        let mut granting_groups: HashMap<AccessId, Vec<usize>> = HashMap::new();
        for (link, resolved) in input.links.iter().zip(&expanded.resolved) {
            let Some(group) = resolved.and_then(|guid| index.get(&guid).copied()) else { continue };
            if !input.accesses.contains(&link.access_id) {
                continue;
            }
            let list = granting_groups.entry(link.access_id).or_default();
            if !list.contains(&group) {
                list.push(group);
            }
        }

        Explainer { input, groups, parents, granted: expanded, granting_groups }
    }

    /// Explains one user of the directory state, as the import would
    /// store it: cleaned by `fields::clean_record`, as the planner cleans it.
    pub fn explain(&self, user: &UserRecord) -> Explanation {
        let cleaned = crate::fields::clean_record(user);
        let user = &*cleaned;
        let mut reasons = Vec::new();
        let place = UserScope::of(self.input.scope, user);
        let in_paths = place.in_paths;
        if in_paths == Some(false) {
            reasons.push(self.out_of_scope(user));
        }
        if user.outside_filter {
            reasons.push(self.outside_filter());
        }
        if in_paths.is_none() {
            reasons.push(Reason {
                code: ReasonCode::UnreadableDn,
                text: format!("the DN `{}` cannot be read, so the user is treated as out of scope", user.dn),
            });
        }
        let in_scope = place.in_scope();

        let reached = self.granted.of(&user.object_guid);
        let grants = reached.map(|ids| self.grants(user, ids)).unwrap_or_default();
        let has_basic = grants.iter().any(|g| g.kind.is_basic());
        if reached.is_none() {
            reasons.push(Reason {
                code: ReasonCode::NoLinkedGroup,
                text: "no linked group contains the user, directly or through nested groups".to_owned(),
            });
        } else if !has_basic {
            reasons.push(no_basic_access(&grants));
        }
        let imported = in_scope && has_basic;

        let disabled = user.is_disabled();
        let expired = user.is_expired(self.input.now_unix);
        if disabled {
            reasons.push(Reason { code: ReasonCode::Disabled, text: "the account is disabled in AD".to_owned() });
        }
        if expired {
            reasons.push(Reason { code: ReasonCode::Expired, text: "the account has expired in AD".to_owned() });
        }

        Explanation {
            object_guid: user.object_guid,
            anchor: user.anchor(),
            username: user.sam_account_name.clone(),
            dn: user.dn.clone(),
            in_scope,
            imported,
            active: imported && !disabled && !expired,
            grants,
            reasons,
        }
    }

    fn out_of_scope(&self, user: &UserRecord) -> Reason {
        let paths: Vec<&str> = self.input.scope.user_bases.iter().map(|b| b.dn.as_str()).collect();
        let text = if paths.is_empty() {
            format!("`{}` is outside the job's paths (the job has none)", user.dn)
        } else {
            format!("`{}` is not below any of the job's paths: {}", user.dn, paths.join("; "))
        };
        Reason { code: ReasonCode::OutOfScope, text }
    }

    fn outside_filter(&self) -> Reason {
        let text = match &self.input.scope.user_filter {
            Some(filter) => format!("the user no longer matches the job's user filter `{filter}`"),
            None => "the user no longer matches the job's user filter".to_owned(),
        };
        Reason { code: ReasonCode::OutsideFilter, text }
    }

    /// The catalogue's accesses among `ids`, each with its chains, sorted by kind, then name.
    fn grants(&self, user: &UserRecord, ids: &[AccessId]) -> Vec<AccessGrant> {
        let mut known: Vec<(AccessId, AccessKind, &str)> =
            ids.iter().filter_map(|id| self.input.accesses.get(id).map(|(kind, name)| (*id, kind, name))).collect();
        if known.is_empty() {
            return Vec::new();
        }
        known.sort_by(|a, b| (a.1, a.2, a.0).cmp(&(b.1, b.2, b.0)));

        let targets: BTreeSet<usize> =
            known.iter().flat_map(|(id, _, _)| self.granting_groups.get(id).into_iter().flatten()).copied().collect();
        let walk = self.walk_up(user.object_guid, &targets);

        known
            .into_iter()
            .map(|(access_id, kind, name)| {
                let mut reached: Vec<(usize, usize)> = self
                    .granting_groups
                    .get(&access_id)
                    .into_iter()
                    .flatten()
                    .filter_map(|group| walk.get(group).map(|step| (step.depth, *group)))
                    .collect();
                // Shortest first; `groups` is sorted by name, then GUID, so the index breaks ties.
                reached.sort_unstable();
                let chains =
                    reached.into_iter().take(MAX_CHAINS_PER_ACCESS).map(|(_, linked)| self.chain(&walk, linked, kind, name)).collect();
                AccessGrant { access_id, kind, name: name.to_owned(), chains }
            })
            .collect()
    }

    /// Breadth-first walk from `member` up through the groups that contain
    /// it, until every group of `targets` is reached (or none is left).
    /// Each group reached maps to how it was first reached.
    fn walk_up(&self, member: ObjectGuid, targets: &BTreeSet<usize>) -> HashMap<usize, Step> {
        let mut reached: HashMap<usize, Step> = HashMap::new();
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut missing = targets.len();
        for group in self.parents.get(&member).into_iter().flatten() {
            if reached.insert(*group, Step { depth: 0, child: None }).is_none() {
                queue.push_back(*group);
                if targets.contains(group) {
                    missing -= 1;
                }
            }
        }
        while missing > 0 {
            let Some(group) = queue.pop_front() else { break };
            let depth = reached.get(&group).map_or(0, |step| step.depth) + 1;
            for parent in self.parents.get(&self.groups[group].object_guid).into_iter().flatten() {
                if reached.contains_key(parent) {
                    continue;
                }
                reached.insert(*parent, Step { depth, child: Some(group) });
                queue.push_back(*parent);
                if targets.contains(parent) {
                    missing -= 1;
                }
            }
        }
        reached
    }

    /// The chain from the user's own group up to `linked`, as `walk` found it.
    fn chain(&self, walk: &HashMap<usize, Step>, linked: usize, kind: AccessKind, access_name: &str) -> GrantChain {
        let mut path = vec![linked];
        let mut current = linked;
        while let Some(child) = walk.get(&current).and_then(|step| step.child) {
            path.push(child);
            current = child;
        }
        path.reverse();
        let groups: Vec<GroupStep> = path
            .iter()
            .map(|i| {
                let group = self.groups[*i];
                GroupStep {
                    object_guid: group.object_guid,
                    name: group.name.clone(),
                    dn: roster_proto::dn::escape_invisible(&group.dn).unwrap_or_else(|| group.dn.clone()),
                }
            })
            .collect();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let text = format!("{} (linked: {} @ {access_name})", names.join(" → "), kind.as_str());
        GrantChain { groups, text }
    }
}

/// How the upward walk first reached a group.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// 0 for a group the user is directly in.
    depth: usize,
    /// The group one step closer to the user; `None` for the user's own groups.
    child: Option<usize>,
}

fn no_basic_access(grants: &[AccessGrant]) -> Reason {
    let text = if grants.is_empty() {
        "linked groups contain the user, but the accesses they grant are no longer in the catalogue".to_owned()
    } else {
        let held: Vec<String> = grants.iter().map(|g| format!("{} @ {}", g.kind.as_str(), g.name)).collect();
        format!("linked groups grant the user only {}, and no basic (user) access", held.join(", "))
    };
    Reason { code: ReasonCode::NoBasicAccess, text }
}
