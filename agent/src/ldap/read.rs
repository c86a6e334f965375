//! The read itself: users, groups (members resolved to GUIDs through the
//! extended-DN control, ranged answers followed) and OUs, one paged search
//! per search base, each entry handed to the sink as it arrives so memory
//! stays flat whatever the directory's size.

use std::collections::HashSet;

use ldap3::SearchEntry;
use ldap3::controls::RawControl;
use roster_proto::ObjectGuid;
use roster_proto::records::Record;
use roster_proto::scope::ResolvedScope;
use serde::Serialize;
use tracing::info;

use super::Directory;
use super::entry::{self, EntryError, GROUP_ATTRIBUTES, OU_ATTRIBUTES, USER_ATTRIBUTES};
use super::extdn::{EXTENDED_DN_OID, EXTENDED_DN_STRING_FORM};
use super::paged::{PageCounter, PagedStream, Query, paged_search};
use super::range::{RangeWalk, find_ranged};
use crate::error::{AgentError, Cause, Stage};
use crate::spool::RecordSink;

/// The three kinds of object a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Users,
    Groups,
    Ous,
}

impl ObjectKind {
    /// The LDAP filter that selects this kind.
    pub fn filter(self) -> &'static str {
        match self {
            ObjectKind::Users => "(&(objectCategory=person)(objectClass=user))",
            ObjectKind::Groups => "(objectClass=group)",
            ObjectKind::Ous => "(objectClass=organizationalUnit)",
        }
    }

    /// The stage a failure while searching this kind is reported under.
    pub fn stage(self) -> Stage {
        match self {
            ObjectKind::Users => Stage::SearchUsers,
            ObjectKind::Groups => Stage::SearchGroups,
            ObjectKind::Ous => Stage::SearchOus,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Users => "users",
            ObjectKind::Groups => "groups",
            ObjectKind::Ous => "ous",
        }
    }
}

/// What a read produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadStats {
    /// Users handed to the sink (deduplicated by objectGUID).
    pub users: u64,
    /// Groups handed to the sink.
    pub groups: u64,
    /// OUs handed to the sink.
    pub ous: u64,
    /// Paged-results pages read across all searches of this read.
    pub pages: u64,
}

impl From<EntryError> for Cause {
    fn from(error: EntryError) -> Cause {
        Cause::Record { dn: error.dn, reason: error.reason }
    }
}

/// The extended-DN control, asking for string GUIDs and SIDs.
fn extended_dn_control() -> RawControl {
    RawControl { ctype: EXTENDED_DN_OID.to_owned(), crit: false, val: Some(EXTENDED_DN_STRING_FORM.to_vec()) }
}

/// A running paged search that reports errors under its stage and notices
/// when a page has been finished.
struct Walk {
    /// The ldap3 stream (adapters: entries only, paged results, page counter).
    stream: PagedStream,
    /// The stage errors are reported under.
    stage: Stage,
    /// Shared page count, to notice page boundaries.
    counter: PageCounter,
    /// The count when last looked at.
    seen_pages: u64,
}

impl Walk {
    async fn next(&mut self) -> Result<Option<SearchEntry>, AgentError> {
        let item = self.stream.next().await.map_err(|e| self.stage.err(e))?;
        Ok(item.map(SearchEntry::construct))
    }

    /// True once per page boundary passed since the last call.
    fn page_finished(&mut self) -> bool {
        let pages = self.counter.pages();
        let finished = pages != self.seen_pages;
        self.seen_pages = pages;
        finished
    }

    async fn finish(mut self) -> Result<(), AgentError> {
        let result = self.stream.finish().await;
        result.success().map(|_| ()).map_err(|e| self.stage.err(e))
    }
}

impl Directory {
    async fn walk(&self, kind: ObjectKind, base: &str, attrs: &[&str], controls: Vec<RawControl>) -> Result<Walk, AgentError> {
        let query = Query { base, filter: kind.filter(), attrs, controls };
        let stream = paged_search(&self.ldap, &self.counter, self.page_size, self.timeout, query).await.map_err(|e| kind.stage().err(e))?;
        Ok(Walk { stream, stage: kind.stage(), counter: self.counter.clone(), seen_pages: self.counter.pages() })
    }

    /// Counts the objects of `kind` under `base` (paged, no attributes).
    pub async fn count(&mut self, kind: ObjectKind, base: &str) -> Result<u64, AgentError> {
        let mut walk = self.walk(kind, base, &["1.1"], Vec::new()).await?;
        let mut count = 0;
        while walk.next().await?.is_some() {
            count += 1;
        }
        walk.finish().await?;
        Ok(count)
    }

    /// Reads everything in `scope` into `sink`: users under the user bases,
    /// groups under the group bases, OUs under `base_dn`.
    pub async fn read(&mut self, scope: &ResolvedScope, base_dn: &str, sink: &mut dyn RecordSink) -> Result<ReadStats, AgentError> {
        let pages_before = self.pages();
        let mut stats = ReadStats::default();
        let mut seen = HashSet::new();
        for base in &scope.user_bases {
            stats.users += self.read_users(&base.dn, &mut seen, sink).await?;
        }
        seen.clear();
        for base in &scope.group_bases {
            stats.groups += self.read_groups(&base.dn, &mut seen, sink).await?;
        }
        stats.ous = self.read_ous(base_dn, sink).await?;
        stats.pages = self.pages() - pages_before;
        info!(users = stats.users, groups = stats.groups, ous = stats.ous, pages = stats.pages, "directory read");
        Ok(stats)
    }

    async fn read_users(&mut self, base: &str, seen: &mut HashSet<ObjectGuid>, sink: &mut dyn RecordSink) -> Result<u64, AgentError> {
        let kind = ObjectKind::Users;
        let mut walk = self.walk(kind, base, &USER_ATTRIBUTES, Vec::new()).await?;
        let mut count = 0;
        while let Some(entry) = walk.next().await? {
            if walk.page_finished() {
                progress(kind, base, count, self.pages());
            }
            let user = entry::user_record(&entry).map_err(|e| kind.stage().err(e))?;
            if seen.insert(user.object_guid) {
                sink.accept(Record::User(user)).map_err(|e| Stage::Spool.err(e))?;
                count += 1;
            }
        }
        walk.finish().await?;
        progress(kind, base, count, self.pages());
        Ok(count)
    }

    async fn read_groups(&mut self, base: &str, seen: &mut HashSet<ObjectGuid>, sink: &mut dyn RecordSink) -> Result<u64, AgentError> {
        let kind = ObjectKind::Groups;
        let mut walk = self.walk(kind, base, &GROUP_ATTRIBUTES, vec![extended_dn_control()]).await?;
        let mut count = 0;
        while let Some(entry) = walk.next().await? {
            if walk.page_finished() {
                progress(kind, base, count, self.pages());
            }
            let members = self.group_members(&entry).await?;
            let group = entry::group_record(&entry, members).map_err(|e| kind.stage().err(e))?;
            if seen.insert(group.object_guid) {
                let dn = group.dn.clone();
                sink.accept(Record::Group(group)).map_err(|e| Stage::Spool.err(Cause::Record { dn, reason: e.to_string() }))?;
                count += 1;
            }
        }
        walk.finish().await?;
        progress(kind, base, count, self.pages());
        Ok(count)
    }

    /// A group's direct members as GUIDs: plain `member` when the DC gave
    /// all values at once (Samba, small groups on Windows), otherwise the
    /// ranged slices, fetched one base search at a time.
    async fn group_members(&mut self, group: &SearchEntry) -> Result<Vec<ObjectGuid>, AgentError> {
        let stage = Stage::SearchGroups;
        let dn = entry::plain_dn(group).to_owned();
        let record_error = |reason: String| stage.err(Cause::Record { dn: dn.clone(), reason });
        let mut members = Vec::new();
        entry::member_guids(&dn, entry::values(group, "member").unwrap_or(&[]), &mut members).map_err(|e| stage.err(e))?;
        if find_ranged("member", &group.attrs).map_err(|e| record_error(e.to_string()))?.is_none() {
            return Ok(members);
        }
        let mut walk = RangeWalk::new("member");
        let (values, mut next) = walk.step(&group.attrs).map_err(|e| record_error(e.to_string()))?;
        entry::member_guids(&dn, values, &mut members).map_err(|e| stage.err(e))?;
        while let Some(attribute) = next {
            let mut ldap = self.ldap.clone();
            ldap.with_timeout(self.timeout).with_controls(extended_dn_control());
            let answer = ldap
                .search(&dn, ldap3::Scope::Base, "(objectClass=*)", vec![attribute.as_str()])
                .await
                .and_then(|r| r.success())
                .map_err(|e| stage.err(e))?;
            let slice = answer
                .0
                .into_iter()
                .next()
                .map(SearchEntry::construct)
                .ok_or_else(|| record_error(format!("asked for {attribute}, got no entry")))?;
            let (values, following) = walk.step(&slice.attrs).map_err(|e| record_error(e.to_string()))?;
            entry::member_guids(&dn, values, &mut members).map_err(|e| stage.err(e))?;
            next = following;
        }
        info!(group = %dn, members = members.len(), "followed ranged member values");
        Ok(members)
    }

    async fn read_ous(&mut self, base: &str, sink: &mut dyn RecordSink) -> Result<u64, AgentError> {
        let kind = ObjectKind::Ous;
        let mut walk = self.walk(kind, base, &OU_ATTRIBUTES, Vec::new()).await?;
        let mut count = 0;
        while let Some(entry) = walk.next().await? {
            if walk.page_finished() {
                progress(kind, base, count, self.pages());
            }
            let ou = entry::ou_record(&entry).map_err(|e| kind.stage().err(e))?;
            sink.accept(Record::Ou(ou)).map_err(|e| Stage::Spool.err(e))?;
            count += 1;
        }
        walk.finish().await?;
        progress(kind, base, count, self.pages());
        Ok(count)
    }
}

fn progress(kind: ObjectKind, base: &str, so_far: u64, pages: u64) {
    info!(kind = kind.as_str(), base, so_far, pages, "page read");
}
