//! AD's change notifications (`LDAP_SERVER_NOTIFICATION_OID`,
//! 1.2.840.113556.1.4.528): a search that never ends, over which the DC
//! sends an entry for every object that changes from then on (nothing for
//! what exists already). One subtree search of the domain's naming context
//! watches everything a job can read (AD allows subtree scope at a naming
//! context's root, and only there is a deleted object seen: it moves to
//! `CN=Deleted Objects`, so a search of its old OU never hears of it); the
//! show-deleted control makes deletions arrive, with `lastKnownParent`.
//! Which notices matter to a job is [`Notice::concerns`]'s to say.

use ldap3::controls::RawControl;
use ldap3::{Ldap, Scope, SearchEntry, SearchStream};
use roster_proto::dn::Dn;
use roster_proto::scope::ResolvedScope;

use super::entry;
use crate::error::Cause;

/// The change notification control's OID.
pub const NOTIFICATION_OID: &str = "1.2.840.113556.1.4.528";
/// `LDAP_SERVER_SHOW_DELETED_OID`: deleted objects are searched too.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// What the DC said changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The object's DN now (for a deleted one, under `CN=Deleted Objects`).
    pub dn: String,
    /// Whether the change deleted it.
    pub deleted: bool,
    /// Where a deleted object was (`lastKnownParent`), when the DC says.
    pub last_known_parent: Option<String>,
}

impl Notice {
    /// Whether the change can matter to a job reading `scope`: the object
    /// is in one of its user or group subtrees, or was deleted from one (or
    /// from somewhere the DC does not say). An object moved out of scope
    /// is not seen here (its DN is the new one): the agent's slower USN
    /// poll, and every later delta, picks such moves up.
    pub fn concerns(&self, scope: &ResolvedScope) -> bool {
        let within = |dn: &str| {
            Dn::parse(dn).is_ok_and(|dn| scope.user_bases.iter().chain(&scope.group_bases).any(|base| dn.is_within(&base.folded)))
        };
        within(&self.dn) || self.deleted && self.last_known_parent.as_deref().is_none_or(within)
    }
}

/// A running notification search.
pub struct Notices {
    stream: SearchStream<'static, String, Vec<String>>,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notices").finish_non_exhaustive()
    }
}

impl Notices {
    /// Starts the notification search of the subtree at `base` over
    /// `ldap` (no timeout: it is meant never to end).
    pub(super) async fn start(ldap: &Ldap, base: &str) -> Result<Notices, Cause> {
        let mut ldap = ldap.clone();
        ldap.with_controls(vec![
            RawControl { ctype: NOTIFICATION_OID.to_owned(), crit: true, val: None },
            RawControl { ctype: SHOW_DELETED_OID.to_owned(), crit: true, val: None },
        ]);
        let attrs = vec!["isDeleted".to_owned(), "lastKnownParent".to_owned()];
        let stream = ldap.streaming_search(base, Scope::Subtree, "(objectClass=*)", attrs).await?;
        Ok(Notices { stream })
    }

    /// The next change. An error when the search ended: the DC refused
    /// the control (not allowed for this account, too many notification
    /// searches), or the connection dropped.
    pub async fn next(&mut self) -> Result<Notice, Cause> {
        loop {
            match self.stream.next().await? {
                Some(entry) if entry.is_ref() || entry.is_intermediate() => continue,
                Some(entry) => {
                    let entry = SearchEntry::construct(entry);
                    return Ok(Notice {
                        deleted: entry::first(&entry, "isDeleted").is_some_and(|v| v.eq_ignore_ascii_case("TRUE")),
                        last_known_parent: entry::first(&entry, "lastKnownParent").map(str::to_owned),
                        dn: entry.dn,
                    });
                }
                None => {
                    let result = self.stream.finish().await;
                    let ended = match result.rc {
                        0 => "the DC ended the notification search".to_owned(),
                        rc => format!("the DC ended the notification search: LDAP result {rc}: {}", result.text),
                    };
                    return Err(Cause::Message(ended));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use roster_proto::scope::JobScope;

    use super::*;

    const BASE: &str = "DC=corp,DC=example,DC=test";

    fn scope(paths: &[&str], group_paths: &[&str]) -> ResolvedScope {
        let owned = |p: &[&str]| p.iter().map(|p| (*p).to_owned()).collect();
        JobScope { relative_paths: owned(paths), group_paths: owned(group_paths), user_filter: None }.resolve(BASE).unwrap()
    }

    fn notice(dn: &str, deleted: bool, parent: Option<&str>) -> Notice {
        Notice { dn: dn.into(), deleted, last_known_parent: parent.map(str::to_owned) }
    }

    #[test]
    fn a_notice_concerns_a_job_when_the_object_is_or_was_in_its_scope() {
        let job = scope(&["OU=In,OU=Staff"], &["OU=Groups"]);
        let gone = "CN=ann\\0ADEL:674337ca-ee4c-4e21-aef2-6229f472ca99,CN=Deleted Objects,DC=corp,DC=example,DC=test";
        let cases = [
            ("a user in a user subtree", notice("CN=ann,OU=In,OU=Staff,DC=corp,DC=example,DC=test", false, None), true),
            ("deeper down, case folded", notice("cn=bob,ou=Sub,ou=in,OU=Staff,dc=CORP,DC=example,DC=test", false, None), true),
            ("the subtree's own OU", notice("OU=In,OU=Staff,DC=corp,DC=example,DC=test", false, None), true),
            ("a group in a group subtree", notice("CN=Sales,OU=Groups,DC=corp,DC=example,DC=test", false, None), true),
            ("a sibling OU", notice("CN=cid,OU=Out,OU=Staff,DC=corp,DC=example,DC=test", false, None), false),
            ("an OU whose name ends like the scope's", notice("CN=dan,OU=NotIn,OU=Staff,DC=corp,DC=example,DC=test", false, None), false),
            ("deleted from the scope", notice(gone, true, Some("OU=In,OU=Staff,DC=corp,DC=example,DC=test")), true),
            ("deleted from elsewhere", notice(gone, true, Some("OU=Out,OU=Staff,DC=corp,DC=example,DC=test")), false),
            ("deleted, the DC does not say from where", notice(gone, true, None), true),
            ("a DN that does not parse", notice("not a DN", false, None), false),
        ];
        for (what, notice, expected) in cases {
            assert_eq!(notice.concerns(&job), expected, "{what}");
        }
        let everything = scope(&["*"], &[]);
        assert!(notice("CN=x,OU=Anywhere,DC=corp,DC=example,DC=test", false, None).concerns(&everything));
        assert!(!notice("CN=x,CN=Configuration,DC=other,DC=test", false, None).concerns(&everything));
    }
}
