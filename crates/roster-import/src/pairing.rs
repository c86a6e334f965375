//! The pairing of directory users with stored users for an import that
//! reads both a batch at a time, in anchor order. Pure: the caller reads
//! each batch where [`Batches`] says and hands it back; memory is one
//! batch's, whatever the number of users.
//!
//! Each batch of directory users ends at some anchor, and the stored users
//! read with it are exactly those after the previous batch's last anchor
//! and up to this one (all the rest, after the last batch). Both sides are
//! cut by the store's own ordering of the same anchor text, so they always
//! agree.

use std::collections::HashMap;

use roster_proto::records::UserRecord;
use roster_proto::{ObjectGuid, UserId};

use crate::plan::{CurrentUser, Planner, StoredUser, UserChange};

/// Where a directory user stands in the walk's order: its anchor's and
/// its objectGUID's text, as the store orders them.
pub type UserKey = (String, String);

/// A walk over a job's users in anchor order, a batch at a time.
#[derive(Debug)]
pub struct Batches {
    /// Directory users a batch reads (at least 1).
    size: u32,
    /// The last directory user read so far; the next batch starts after it.
    after: Option<UserKey>,
    /// The anchor the previous batch's stored users went up to.
    lower: Option<String>,
    /// The anchor the previous batch ended with: more records of it in the
    /// next batch are duplicates already decided.
    last_anchor: Option<ObjectGuid>,
    /// Directory users skipped because another record has the same anchor.
    duplicates: u64,
    /// The last batch was read.
    done: bool,
}

/// The stored users to read with a batch: anchors after `after` and up to
/// `upto`, each bound open when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRange<'a> {
    pub after: Option<&'a str>,
    pub upto: Option<&'a str>,
}

/// One batch paired: what is left to plan once the stored users it needs
/// whole are read.
#[derive(Debug)]
pub struct Paired<'r> {
    /// Directory users to plan against their whole stored user (by id),
    /// if any, in order; those the fingerprint showed unchanged are not here.
    pub compare: Vec<(&'r UserRecord, Option<UserId>)>,
    /// Stored users of the batch's range that no directory user names:
    /// gone from the directory.
    pub gone: Vec<UserId>,
}

impl Batches {
    /// A walk reading `size` directory users at a time (at least 1).
    pub fn new(size: u32) -> Batches {
        Batches { size: size.max(1), after: None, lower: None, last_anchor: None, duplicates: 0, done: false }
    }

    /// True once every batch was read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next batch is the first `size` directory users after `after`
    /// (from the first when `None`), in [`UserKey`] order.
    pub fn after(&self) -> Option<&UserKey> {
        self.after.as_ref()
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// The stored users to read with `batch`, the directory users just read.
    pub fn stored_range<'a>(&'a self, batch: &'a [(UserKey, UserRecord)]) -> StoredRange<'a> {
        StoredRange { after: self.lower.as_deref(), upto: self.upto(batch) }
    }

    /// The stored users to read with `next`, the batch after `batch`, in a
    /// walk of `size` users a batch, once `batch` is paired: what
    /// [`Batches::stored_range`] will then say, for a reader that reads
    /// ahead while `batch` is paired (so without the walk at hand).
    pub fn stored_range_after<'a>(size: u32, batch: &'a [(UserKey, UserRecord)], next: &'a [(UserKey, UserRecord)]) -> StoredRange<'a> {
        StoredRange { after: upto(size, batch), upto: upto(size, next) }
    }

    fn upto<'a>(&self, batch: &'a [(UserKey, UserRecord)]) -> Option<&'a str> {
        upto(self.size, batch)
    }

    /// Pairs `batch` with `stored`, the stored users of its
    /// [`Batches::stored_range`], and moves the walk past it. Stored users
    /// whose fingerprint shows the import leaves them as they are are
    /// settled here ([`Planner::is_unchanged`]).
    pub fn pair<'r>(&mut self, planner: &mut Planner<'_>, batch: &'r [(UserKey, UserRecord)], stored: &[StoredUser]) -> Paired<'r> {
        let mut by_anchor: HashMap<ObjectGuid, &StoredUser> = stored.iter().map(|u| (u.anchor, u)).collect();
        let mut compare = Vec::new();
        // Records of one anchor are adjacent; the first in scope counts.
        let mut start = 0;
        while start < batch.len() {
            let anchor = batch[start].1.anchor();
            let end = batch[start..].iter().position(|(_, r)| r.anchor() != anchor).map_or(batch.len(), |n| start + n);
            if self.last_anchor == Some(anchor) {
                // The rest of an anchor the previous batch ended with.
                self.duplicates += (end - start) as u64;
            } else {
                self.duplicates += (end - start - 1) as u64;
                let picked = match &batch[start..end] {
                    [(_, only)] => Some(only),
                    several => planner.pick(&several.iter().map(|(_, r)| r).collect::<Vec<_>>()),
                };
                if let Some(record) = picked {
                    match by_anchor.remove(&anchor) {
                        Some(stored) if planner.is_unchanged(record, stored) => {}
                        Some(stored) => compare.push((record, Some(stored.id))),
                        None => compare.push((record, None)),
                    }
                }
                self.last_anchor = Some(anchor);
            }
            start = end;
        }
        let gone = stored.iter().filter(|u| by_anchor.contains_key(&u.anchor)).map(|u| u.id).collect();
        let upto = self.upto(batch).map(str::to_owned);
        self.done = upto.is_none();
        self.lower = upto;
        self.after = batch.last().map(|(key, _)| key.clone());
        Paired { compare, gone }
    }

    /// Directory users skipped because another record has the same anchor.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

/// Where a batch of `size` ends the stored range: a full batch at its last
/// anchor; a short one is the last, and takes all the rest.
fn upto(size: u32, batch: &[(UserKey, UserRecord)]) -> Option<&str> {
    if batch.len() == size as usize { batch.last().map(|(key, _)| key.0.as_str()) } else { None }
}

impl Paired<'_> {
    /// The stored users to read whole before [`Paired::plan`].
    pub fn wanted(&self) -> Vec<UserId> {
        self.compare.iter().filter_map(|(_, id)| *id).chain(self.gone.iter().copied()).collect()
    }

    /// The batch's changes, given the stored users [`Paired::wanted`] names, read whole.
    pub fn plan(self, planner: &mut Planner<'_>, whole: &HashMap<UserId, CurrentUser>) -> Vec<UserChange> {
        let mut changes = Vec::new();
        for (record, id) in self.compare {
            changes.extend(planner.user(record, id.and_then(|id| whole.get(&id))));
        }
        for id in self.gone {
            if let Some(user) = whole.get(&id) {
                changes.extend(planner.gone(user));
            }
        }
        changes
    }
}
