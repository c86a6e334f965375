//! The tenant's access catalogue as planning reads it: which accesses
//! exist, of what kind and name. Links naming an access not in it grant
//! nothing; only a basic access lets a user in.

use std::collections::HashMap;

use roster_proto::AccessId;
use roster_proto::admin::{Access, AccessKind};

/// The accesses of one tenant, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessCatalogue {
    /// Each access's kind and name.
    by_id: HashMap<AccessId, (AccessKind, String)>,
}

impl AccessCatalogue {
    /// True when the tenant has access `id`.
    pub fn contains(&self, id: &AccessId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Access `id`'s kind and name, if the tenant has it.
    pub fn get(&self, id: &AccessId) -> Option<(AccessKind, &str)> {
        self.by_id.get(id).map(|(kind, name)| (*kind, name.as_str()))
    }

    /// True when `id` is in the catalogue and a basic access.
    pub fn is_basic(&self, id: &AccessId) -> bool {
        self.get(id).is_some_and(|(kind, _)| kind.is_basic())
    }

    /// How many accesses the tenant has.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl FromIterator<(AccessId, (AccessKind, String))> for AccessCatalogue {
    fn from_iter<I: IntoIterator<Item = (AccessId, (AccessKind, String))>>(items: I) -> AccessCatalogue {
        AccessCatalogue { by_id: items.into_iter().collect() }
    }
}

impl FromIterator<Access> for AccessCatalogue {
    fn from_iter<I: IntoIterator<Item = Access>>(accesses: I) -> AccessCatalogue {
        accesses.into_iter().map(|a| (a.id, (a.kind, a.name))).collect()
    }
}

impl From<HashMap<AccessId, (AccessKind, String)>> for AccessCatalogue {
    fn from(by_id: HashMap<AccessId, (AccessKind, String)>) -> AccessCatalogue {
        AccessCatalogue { by_id }
    }
}
