//! The read itself: users, groups (members resolved to GUIDs through the
//! extended-DN control, ranged answers followed), OUs and, for deltas,
//! tombstones; one paged search per search base, each entry handed to the
//! sink as it arrives so memory stays flat whatever the directory's size.
//!
//! A full read searches the job's scope. A delta read searches the whole
//! base DN for objects whose `uSNChanged` is at least the base's USN + 1
//! (a user moved out of scope must be seen with its new DN; the server
//! filters by scope), plus tombstones through the Show Deleted control.
//! Renaming or moving an OU changes the DN of everything below it without
//! changing those objects, so a delta also reads again everything below
//! each OU that changed.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use ldap3::SearchEntry;
use ldap3::controls::RawControl;
use roster_proto::ObjectGuid;
use roster_proto::dn::Dn;
use roster_proto::manifest::Watermark;
use roster_proto::records::{MAX_MEMBERS_PER_RECORD, Record, UserRecord};
use roster_proto::scope::ResolvedScope;
use serde::Serialize;
use tracing::{info, warn};

use super::entry::{self, EntryError, GROUP_ATTRIBUTES, OU_ATTRIBUTES, TOMBSTONE_ATTRIBUTES, USER_ATTRIBUTES};
use super::extdn::{EXTENDED_DN_OID, EXTENDED_DN_STRING_FORM};
use super::paged::{PageCounter, PagedStream, Query, paged_search};
use super::range::{RangeWalk, find_ranged};
use super::{Directory, DirectoryInfo};
use crate::error::{AgentError, Cause, Stage};
use crate::spool::RecordSink;

/// OID of the Show Deleted control: searches return tombstones too.
pub const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// The kinds of object a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Users,
    Groups,
    Ous,
    /// Tombstones of deleted objects (deltas only; needs Show Deleted).
    Deleted,
}

impl ObjectKind {
    /// The filter's conditions, ANDed.
    fn conditions(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Users => &["(objectCategory=person)", "(objectClass=user)"],
            ObjectKind::Groups => &["(objectClass=group)"],
            ObjectKind::Ous => &["(objectClass=organizationalUnit)"],
            ObjectKind::Deleted => &["(isDeleted=TRUE)"],
        }
    }

    /// The LDAP filter that selects this kind; with `since_usn`, only the
    /// objects changed at or after that USN.
    pub fn filter(self, since_usn: Option<u64>) -> String {
        let mut conditions: Vec<String> = self.conditions().iter().map(|c| (*c).to_owned()).collect();
        if let Some(usn) = since_usn {
            conditions.push(format!("(uSNChanged>={usn})"));
        }
        match conditions.as_slice() {
            [one] => one.clone(),
            all => format!("(&{})", all.concat()),
        }
    }

    /// The user filter, optionally narrowed to changes since `since_usn`,
    /// and to users that match the job's `job_filter` (`matching`) or that
    /// do not (`!matching`, for deltas: they left the job's scope).
    pub fn users_filter(since_usn: Option<u64>, job_filter: Option<&str>, matching: bool) -> String {
        let mut filter = ObjectKind::Users.filter(since_usn);
        if let Some(job_filter) = job_filter {
            let condition = if matching { job_filter.to_owned() } else { format!("(!{job_filter})") };
            filter = format!("(&{filter}{condition})");
        }
        filter
    }

    /// The stage a failure while searching this kind is reported under.
    pub fn stage(self) -> Stage {
        match self {
            ObjectKind::Users => Stage::SearchUsers,
            ObjectKind::Groups => Stage::SearchGroups,
            ObjectKind::Ous => Stage::SearchOus,
            ObjectKind::Deleted => Stage::SearchDeleted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Users => "users",
            ObjectKind::Groups => "groups",
            ObjectKind::Ous => "ous",
            ObjectKind::Deleted => "deleted",
        }
    }
}

/// Which objects a read takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Everything in the job's scope.
    Full,
    /// Everything under the base DN changed (or deleted) at or after
    /// `since_usn`, i.e. the base watermark's USN + 1.
    Delta { since_usn: u64 },
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
    /// Tombstones handed to the sink (deltas only).
    pub deleted: u64,
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

/// The Show Deleted control: critical (a DC that ignored it would make a
/// delta silently miss every deletion), no value.
fn show_deleted_control() -> RawControl {
    RawControl { ctype: SHOW_DELETED_OID.to_owned(), crit: true, val: None }
}

/// The outermost of `dns`: those with no other of them above them, each
/// once. Reading these subtrees covers all of them.
pub fn outermost(dns: &[String]) -> Result<Vec<String>, EntryError> {
    let parsed = dns
        .iter()
        .map(|dn| Dn::parse(dn).map_err(|e| EntryError { dn: dn.clone(), reason: e.to_string() }))
        .collect::<Result<Vec<Dn>, EntryError>>()?;
    let mut kept: Vec<usize> = Vec::new();
    for (i, dn) in parsed.iter().enumerate() {
        let covered = parsed.iter().enumerate().any(|(j, other)| j != i && dn.is_within(other) && (dn != other || j < i));
        if !covered {
            kept.push(i);
        }
    }
    Ok(kept.into_iter().map(|i| dns[i].clone()).collect())
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
    /// Starts a paged search for `kind` (adding Show Deleted for tombstones).
    async fn walk(
        &self,
        kind: ObjectKind,
        base: &str,
        filter: &str,
        attrs: &[&str],
        mut controls: Vec<RawControl>,
    ) -> Result<Walk, AgentError> {
        if kind == ObjectKind::Deleted {
            controls.push(show_deleted_control());
        }
        let query = Query { base, filter, attrs, controls };
        let stream = paged_search(&self.ldap, &self.counter, self.page_size, self.timeout, query).await.map_err(|e| kind.stage().err(e))?;
        Ok(Walk { stream, stage: kind.stage(), counter: self.counter.clone(), seen_pages: self.counter.pages() })
    }

    /// Counts the objects of `kind` under `base` (paged, no attributes).
    pub async fn count(&mut self, kind: ObjectKind, base: &str) -> Result<u64, AgentError> {
        self.count_matching(kind, base, &kind.filter(None)).await
    }

    /// Counts the objects `filter` selects under `base` (paged, no attributes).
    pub async fn count_matching(&mut self, kind: ObjectKind, base: &str, filter: &str) -> Result<u64, AgentError> {
        let mut walk = self.walk(kind, base, filter, &["1.1"], Vec::new()).await?;
        let mut count = 0;
        while walk.next().await?.is_some() {
            count += 1;
        }
        walk.finish().await?;
        Ok(count)
    }

    /// Reads into `sink`. Full: users under the scope's user bases, groups
    /// under its group bases, OUs under the base DN. Delta: see the module
    /// documentation.
    pub async fn read(
        &mut self,
        info: &DirectoryInfo,
        scope: &ResolvedScope,
        mode: ReadMode,
        sink: &mut dyn RecordSink,
    ) -> Result<ReadStats, AgentError> {
        let pages_before = self.pages();
        let mut stats = match mode {
            ReadMode::Full => self.read_full(scope, info, sink).await?,
            ReadMode::Delta { since_usn } => self.read_delta(info, since_usn, scope.user_filter.as_deref(), sink).await?,
        };
        stats.pages = self.pages() - pages_before;
        info!(users = stats.users, groups = stats.groups, ous = stats.ous, deleted = stats.deleted, pages = stats.pages, "directory read");
        Ok(stats)
    }

    async fn read_full(&mut self, scope: &ResolvedScope, info: &DirectoryInfo, sink: &mut dyn RecordSink) -> Result<ReadStats, AgentError> {
        let base_dn = info.base_dn.as_str();
        let mut stats = ReadStats::default();
        let mut seen = HashSet::new();
        let bases: Vec<&str> = scope.user_bases.iter().map(|base| base.dn.as_str()).collect();
        stats.users = self.read_all_users(&bases, scope.user_filter.as_deref(), &info.watermark, &mut seen, sink).await?;
        seen.clear();
        let groups = ObjectKind::Groups.filter(None);
        for base in &scope.group_bases {
            stats.groups += self.read_groups(&base.dn, &groups, &mut seen, sink).await?;
        }
        seen.clear();
        stats.ous = self.read_ous(base_dn, &ObjectKind::Ous.filter(None), &mut seen, sink, None).await?;
        Ok(stats)
    }

    async fn read_delta(
        &mut self,
        info: &DirectoryInfo,
        since_usn: u64,
        job_filter: Option<&str>,
        sink: &mut dyn RecordSink,
    ) -> Result<ReadStats, AgentError> {
        let base_dn = info.base_dn.as_str();
        let mut stats = ReadStats::default();
        let mut seen = HashSet::new();
        let mut changed_ous = Vec::new();
        stats.ous = self.read_ous(base_dn, &ObjectKind::Ous.filter(Some(since_usn)), &mut seen, sink, Some(&mut changed_ous)).await?;
        let subtrees = outermost(&changed_ous).map_err(|e| ObjectKind::Ous.stage().err(e))?;
        if !subtrees.is_empty() {
            info!(
                ous = ?subtrees,
                "OUs changed since the base: everything below them is read again (a rename or move changes their DNs without changing them)"
            );
        }
        let all_ous = ObjectKind::Ous.filter(None);
        for subtree in &subtrees {
            stats.ous += self.read_ous(subtree, &all_ous, &mut seen, sink, None).await?;
        }

        seen.clear();
        // With a job filter, changed users that no longer match it are sent
        // flagged: the server cannot evaluate the filter itself.
        let splits: &[bool] = if job_filter.is_some() { &[true, false] } else { &[true] };
        for &matching in splits {
            let changed = ObjectKind::users_filter(Some(since_usn), job_filter, matching);
            stats.users += self.read_users(base_dn, &changed, &mut seen, sink, !matching).await?;
            let all = ObjectKind::users_filter(None, job_filter, matching);
            for subtree in &subtrees {
                stats.users += self.read_users(subtree, &all, &mut seen, sink, !matching).await?;
            }
        }

        seen.clear();
        stats.groups = self.read_groups(base_dn, &ObjectKind::Groups.filter(Some(since_usn)), &mut seen, sink).await?;
        let all_groups = ObjectKind::Groups.filter(None);
        for subtree in &subtrees {
            stats.groups += self.read_groups(subtree, &all_groups, &mut seen, sink).await?;
        }

        // Tombstones live under `CN=Deleted Objects,<domain>`, outside any
        // narrower base DN: search the whole domain.
        stats.deleted = self.read_deleted(&info.root.default_naming_context, since_usn, sink).await?;
        Ok(stats)
    }

    /// Every user under `bases` (that the job's filter selects), each
    /// once. Over one connection, a search per base. Over more
    /// (`read_connections`, which the DC answers in parallel), each base's
    /// users are cut into `uSNChanged` slices of `[0, watermark]`
    /// ([`usn_slices`]) that the connections take in turn; then each base
    /// is searched once more for the users changed since the watermark
    /// (unless the DC's `highestCommittedUSN` is still the watermark's). A
    /// user changed during the read leaves its slice for a USN above the
    /// watermark, so it is read by its slice or by that last search; one
    /// created meanwhile by the last search. Extra connections that reach
    /// another DC (whose USNs mean something else), or that cannot be
    /// opened, are not used.
    async fn read_all_users(
        &mut self,
        bases: &[&str],
        job_filter: Option<&str>,
        watermark: &Watermark,
        seen: &mut HashSet<ObjectGuid>,
        sink: &mut dyn RecordSink,
    ) -> Result<u64, AgentError> {
        let all = ObjectKind::users_filter(None, job_filter, true);
        let connections = self.settings.read_connections.max(1);
        let mut others = Vec::new();
        if !bases.is_empty() {
            for _ in 1..connections {
                match self.another(watermark).await {
                    Ok(Some(other)) => others.push(other),
                    Ok(None) => break,
                    // The first connection works: a DC refusing more of them is read over fewer.
                    Err(error) => {
                        warn!(%error, connections = others.len() + 1, "could not open another connection to the DC: reading over fewer");
                        break;
                    }
                }
            }
        }
        let mut count = 0;
        if others.is_empty() {
            for base in bases {
                count += self.read_users(base, &all, seen, sink, false).await?;
            }
            return Ok(count);
        }
        let slices = usn_slices(watermark.usn, connections);
        let all = all.as_str();
        let queue: Mutex<VecDeque<(&str, String)>> = Mutex::new(
            bases
                .iter()
                .flat_map(|base| slices.iter().map(move |(low, high)| (*base, format!("(&{all}(uSNChanged>={low})(uSNChanged<={high}))"))))
                .collect(),
        );
        info!(connections = others.len() + 1, slices = slices.len(), bases = bases.len(), "reading users over several connections");
        let shared = Mutex::new(Taken { seen: &mut *seen, sink: &mut *sink, count: 0 });
        let readers = std::iter::once(&*self).chain(others.iter()).map(|directory| directory.read_user_slices(&queue, &shared));
        let read = futures_util::future::try_join_all(readers).await;
        for other in others {
            other.close().await;
        }
        read?;
        count += shared.into_inner().unwrap_or_else(PoisonError::into_inner).count;
        // Nothing written on the DC since the watermark: no user left its slice.
        if self.highest_committed_usn().await? == watermark.usn {
            return Ok(count);
        }
        let since = ObjectKind::users_filter(Some(watermark.usn.saturating_add(1)), job_filter, true);
        for base in bases {
            count += self.read_users(base, &since, seen, sink, false).await?;
        }
        Ok(count)
    }

    /// Takes slices of users from `queue` until it is empty, handing each
    /// user not taken before to `shared`'s sink.
    async fn read_user_slices(&self, queue: &Mutex<VecDeque<(&str, String)>>, shared: &Mutex<Taken<'_>>) -> Result<(), AgentError> {
        let kind = ObjectKind::Users;
        loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
            let Some((base, filter)) = next else { return Ok(()) };
            let mut walk = self.walk(kind, base, &filter, &USER_ATTRIBUTES, Vec::new()).await?;
            while let Some(entry) = walk.next().await? {
                let user = entry::user_record(&entry).map_err(|e| kind.stage().err(e))?;
                let mut taken = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if taken.seen.insert(user.object_guid) {
                    taken.sink.accept(Record::User(user)).map_err(|e| Stage::Spool.err(e))?;
                    taken.count += 1;
                }
            }
            walk.finish().await?;
            let so_far = shared.lock().unwrap_or_else(PoisonError::into_inner).count;
            progress(kind, base, so_far, self.pages());
        }
    }

    async fn read_users(
        &mut self,
        base: &str,
        filter: &str,
        seen: &mut HashSet<ObjectGuid>,
        sink: &mut dyn RecordSink,
        outside_filter: bool,
    ) -> Result<u64, AgentError> {
        let kind = ObjectKind::Users;
        let mut walk = self.walk(kind, base, filter, &USER_ATTRIBUTES, Vec::new()).await?;
        let mut count = 0;
        while let Some(entry) = walk.next().await? {
            if walk.page_finished() {
                progress(kind, base, count, self.pages());
            }
            let user = UserRecord { outside_filter, ..entry::user_record(&entry).map_err(|e| kind.stage().err(e))? };
            if seen.insert(user.object_guid) {
                sink.accept(Record::User(user)).map_err(|e| Stage::Spool.err(e))?;
                count += 1;
            }
        }
        walk.finish().await?;
        progress(kind, base, count, self.pages());
        Ok(count)
    }

    async fn read_groups(
        &mut self,
        base: &str,
        filter: &str,
        seen: &mut HashSet<ObjectGuid>,
        sink: &mut dyn RecordSink,
    ) -> Result<u64, AgentError> {
        let kind = ObjectKind::Groups;
        let mut walk = self.walk(kind, base, filter, &GROUP_ATTRIBUTES, vec![extended_dn_control()]).await?;
        let mut count = 0;
        while let Some(entry) = walk.next().await? {
            if walk.page_finished() {
                progress(kind, base, count, self.pages());
            }
            let members = self.group_members(&entry).await?;
            let group = entry::group_record(&entry, members).map_err(|e| kind.stage().err(e))?;
            if seen.insert(group.object_guid) {
                let dn = group.dn.clone();
                let spool_error = |e: Cause| Stage::Spool.err(Cause::Record { dn: dn.clone(), reason: e.to_string() });
                // A group of any size: its member list continues in records of its own.
                let (group, more) = group.split(MAX_MEMBERS_PER_RECORD);
                sink.accept(Record::Group(group)).map_err(spool_error)?;
                for members in more {
                    sink.accept(Record::GroupMembers(members)).map_err(spool_error)?;
                }
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

    /// Reads OUs; their DNs are also pushed to `dns` when given.
    async fn read_ous(
        &mut self,
        base: &str,
        filter: &str,
        seen: &mut HashSet<ObjectGuid>,
        sink: &mut dyn RecordSink,
        mut dns: Option<&mut Vec<String>>,
    ) -> Result<u64, AgentError> {
        let kind = ObjectKind::Ous;
        let mut walk = self.walk(kind, base, filter, &OU_ATTRIBUTES, Vec::new()).await?;
        let mut count = 0;
        while let Some(entry) = walk.next().await? {
            if walk.page_finished() {
                progress(kind, base, count, self.pages());
            }
            let ou = entry::ou_record(&entry).map_err(|e| kind.stage().err(e))?;
            if seen.insert(ou.object_guid) {
                if let Some(dns) = dns.as_deref_mut() {
                    dns.push(ou.dn.clone());
                }
                sink.accept(Record::Ou(ou)).map_err(|e| Stage::Spool.err(e))?;
                count += 1;
            }
        }
        walk.finish().await?;
        progress(kind, base, count, self.pages());
        Ok(count)
    }

    /// Reads the tombstones of users, groups and OUs deleted at or after
    /// `since_usn` under `domain_dn`.
    async fn read_deleted(&mut self, domain_dn: &str, since_usn: u64, sink: &mut dyn RecordSink) -> Result<u64, AgentError> {
        let kind = ObjectKind::Deleted;
        let mut walk = self.walk(kind, domain_dn, &kind.filter(Some(since_usn)), &TOMBSTONE_ATTRIBUTES, Vec::new()).await?;
        let (mut count, mut skipped) = (0, 0);
        while let Some(entry) = walk.next().await? {
            if walk.page_finished() {
                progress(kind, domain_dn, count, self.pages());
            }
            match entry::deleted_record(&entry).map_err(|e| kind.stage().err(e))? {
                Some(deleted) => {
                    sink.accept(Record::Deleted(deleted)).map_err(|e| Stage::Spool.err(e))?;
                    count += 1;
                }
                None => skipped += 1,
            }
        }
        walk.finish().await?;
        progress(kind, domain_dn, count, self.pages());
        if skipped > 0 {
            info!(skipped, "tombstones of other kinds of object (computers, contacts, ...) skipped");
        }
        Ok(count)
    }
}

/// What the connections of a parallel read of users share: the users
/// taken so far and where they go.
struct Taken<'a> {
    seen: &'a mut HashSet<ObjectGuid>,
    sink: &'a mut dyn RecordSink,
    count: u64,
}

/// Slices per connection in a parallel read. More would even out slices
/// of uneven size, but a DC may test a slice's USN range on every object
/// of the base rather than seek it in an index (Samba does: an empty slice
/// of a 3,000-user OU took 40 ms, a tenth of reading them all), so each
/// slice costs a pass over the base; with four per connection a 20,000-user
/// read was slower than over one connection, with one it was 1.2 x faster.
const SLICES_PER_CONNECTION: u64 = 1;

/// `[0, highest]` cut into contiguous `uSNChanged` ranges of equal width,
/// [`SLICES_PER_CONNECTION`] for each of `connections` (fewer when there
/// are fewer USNs than that), in order.
pub fn usn_slices(highest: u64, connections: u32) -> Vec<(u64, u64)> {
    let count = u64::from(connections.max(1)) * SLICES_PER_CONNECTION;
    // `highest + 1` USNs (2^64 at most) over `count` slices, rounded up.
    let width = u64::try_from((u128::from(highest) + 1).div_ceil(u128::from(count))).unwrap_or(u64::MAX);
    let mut slices = Vec::new();
    let mut low = 0u64;
    loop {
        let high = low.saturating_add(width - 1).min(highest);
        slices.push((low, high));
        if high == highest {
            return slices;
        }
        low = high + 1;
    }
}

fn progress(kind: ObjectKind, base: &str, so_far: u64, pages: u64) {
    info!(kind = kind.as_str(), base, so_far, pages, "page read");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let cases = [
            (ObjectKind::Users, None, "(&(objectCategory=person)(objectClass=user))"),
            (ObjectKind::Users, Some(1001), "(&(objectCategory=person)(objectClass=user)(uSNChanged>=1001))"),
            (ObjectKind::Groups, None, "(objectClass=group)"),
            (ObjectKind::Groups, Some(7), "(&(objectClass=group)(uSNChanged>=7))"),
            (ObjectKind::Ous, Some(7), "(&(objectClass=organizationalUnit)(uSNChanged>=7))"),
            (ObjectKind::Deleted, Some(7), "(&(isDeleted=TRUE)(uSNChanged>=7))"),
        ];
        for (kind, since, expected) in cases {
            assert_eq!(kind.filter(since), expected);
        }
        assert_eq!(ObjectKind::Deleted.stage().as_str(), "search deleted");
        let users = [
            (None, None, true, "(&(objectCategory=person)(objectClass=user))"),
            (None, Some("(department=Sales)"), true, "(&(&(objectCategory=person)(objectClass=user))(department=Sales))"),
            (
                Some(9),
                Some("(department=Sales)"),
                false,
                "(&(&(objectCategory=person)(objectClass=user)(uSNChanged>=9))(!(department=Sales)))",
            ),
        ];
        for (since, job_filter, matching, expected) in users {
            assert_eq!(ObjectKind::users_filter(since, job_filter, matching), expected);
        }
    }

    #[test]
    fn usn_slices_cover_zero_to_the_watermark_in_order() {
        for (highest, connections, expected) in [
            (0, 3, 1),
            (1, 3, 2),
            (5, 3, 3),
            (12, 3, 3),
            (8252, 3, 3),
            (1_000_000, 1, 1),
            (1_000_000, 8, 8),
            (u64::MAX, 3, 3),
            (u64::MAX - 1, 8, 8),
        ] {
            let slices = usn_slices(highest, connections);
            assert_eq!(slices.len(), expected, "{highest} over {connections}");
            assert_eq!(slices.first().map(|s| s.0), Some(0), "{highest}");
            assert_eq!(slices.last().map(|s| s.1), Some(highest), "{highest}");
            for pair in slices.windows(2) {
                assert_eq!(pair[1].0, pair[0].1 + 1, "contiguous: {highest} over {connections}");
            }
            assert!(slices.iter().all(|(low, high)| low <= high), "{slices:?}");
            let widths: Vec<u64> = slices.iter().map(|(low, high)| high - low).collect();
            assert!(widths[..widths.len() - 1].windows(2).all(|w| w[0] == w[1]), "equal widths but the last: {widths:?}");
        }
    }

    #[test]
    fn outermost_subtrees_cover_the_rest() {
        let dns = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases: Vec<(Vec<String>, Vec<String>)> = vec![
            (dns(&[]), dns(&[])),
            (dns(&["OU=A,DC=corp", "OU=B,DC=corp"]), dns(&["OU=A,DC=corp", "OU=B,DC=corp"])),
            (dns(&["OU=Inner,OU=A,DC=corp", "OU=A,DC=corp", "OU=Deeper,OU=Inner,OU=A,DC=corp"]), dns(&["OU=A,DC=corp"])),
            // Equal DNs in another spelling count once.
            (dns(&["OU=A,DC=corp", "ou=a, dc=CORP"]), dns(&["OU=A,DC=corp"])),
            // A sibling whose name merely ends the same is not inside.
            (dns(&["OU=XA,DC=corp", "OU=A,DC=corp"]), dns(&["OU=XA,DC=corp", "OU=A,DC=corp"])),
        ];
        for (input, expected) in cases {
            assert_eq!(outermost(&input).unwrap(), expected, "{input:?}");
        }
        assert!(outermost(&dns(&["not a dn"])).is_err());
    }
}
