//! The digest of a plan: what it does, user by user, as data. An admin's
//! approval names the digest of the held plan it saw; a later run applies
//! past the safeguard only a plan with the same digest. Details are hashed
//! as data (fields, access ids, reason codes), never as words, so
//! rewording how a change reads never invalidates an approval.

use roster_proto::admin::{ChangeAction, ChangeDetail};
use sha2::Digest as _;

use crate::plan::UserChange;

/// A digest of a plan, fed one change at a time, in the plan's order: two
/// plans with the same digest make the same changes.
#[derive(Debug, Default)]
pub struct PlanDigest(sha2::Sha256);

impl PlanDigest {
    pub fn add(&mut self, change: &UserChange) {
        self.text(&change.target.anchor.to_string());
        self.text(ChangeAction::from(change.action).as_str());
        for detail in &change.details {
            self.detail(detail);
        }
        self.0.update([b'.']);
    }

    pub fn finish(self) -> String {
        self.0.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// One detail: a tag, then its data, each text length-prefixed.
    fn detail(&mut self, detail: &ChangeDetail) {
        match detail {
            ChangeDetail::Field { field, old, new } => {
                self.0.update([b'f']);
                self.text(field);
                self.optional(old.as_deref());
                self.optional(new.as_deref());
            }
            // The access's id is what the plan grants; its name may be reworded.
            ChangeDetail::AccessGained(access) => {
                self.0.update([b'+']);
                self.0.update(access.id.as_uuid().as_bytes());
            }
            ChangeDetail::AccessLost(access) => {
                self.0.update([b'-']);
                self.0.update(access.id.as_uuid().as_bytes());
            }
            ChangeDetail::Deactivated { reason } => {
                self.0.update([b'd']);
                self.text(reason.as_str());
            }
            ChangeDetail::Inactive { reason } => {
                self.0.update([b'i']);
                self.text(reason.as_str());
            }
            ChangeDetail::Reactivated => self.0.update([b'r']),
            ChangeDetail::Note { text } => {
                self.0.update([b'n']);
                self.text(text);
            }
        }
    }

    fn text(&mut self, text: &str) {
        self.0.update((text.len() as u64).to_le_bytes());
        self.0.update(text.as_bytes());
    }

    fn optional(&mut self, text: Option<&str>) {
        match text {
            None => self.0.update([0]),
            Some(text) => {
                self.0.update([1]);
                self.text(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::plan::Action;
    use crate::{InvalidField, UserState};
    use roster_proto::AccessId;
    use roster_proto::admin::{AccessChange, AccessKind, DeactivationReason};
    use uuid::Uuid;

    fn change(details: Vec<ChangeDetail>) -> UserChange {
        let guid = "07070707-0707-0707-0707-070707070707";
        let target = UserState::from_stored(guid.parse().unwrap(), false, |column| {
            Ok::<_, InvalidField>(Some(if column == "object_guid" { guid.to_owned() } else { column.to_owned() }))
        })
        .unwrap();
        UserChange { action: Action::Deactivate, existing_id: None, target, gained: Vec::new(), lost: Vec::new(), details }
    }

    fn digest(changes: &[UserChange]) -> String {
        let mut digest = PlanDigest::default();
        changes.iter().for_each(|c| digest.add(c));
        digest.finish()
    }

    #[test]
    fn the_digest_hashes_data_not_words() {
        let access = |name: Option<&str>, id: u128| {
            ChangeDetail::AccessLost(AccessChange {
                id: AccessId::from(Uuid::from_u128(id)),
                kind: name.map(|_| AccessKind::User),
                name: name.map(str::to_owned),
            })
        };
        let gone = ChangeDetail::Deactivated { reason: DeactivationReason::GoneFromDirectory };
        let base = digest(&[change(vec![gone.clone(), access(Some("Copenhagen"), 1)])]);
        assert_eq!(base, digest(&[change(vec![gone.clone(), access(Some("København"), 1)])]), "an access renamed in the catalogue");
        assert_eq!(base, digest(&[change(vec![gone.clone(), access(None, 1)])]), "an access no longer in the catalogue");
        let others = [
            digest(&[change(vec![gone.clone(), access(Some("Copenhagen"), 2)])]),
            digest(&[change(vec![ChangeDetail::Deactivated { reason: DeactivationReason::LeftScope }, access(Some("Copenhagen"), 1)])]),
            digest(&[change(vec![gone.clone()])]),
            digest(&[change(vec![gone.clone()]), change(vec![access(Some("Copenhagen"), 1)])]),
            digest(&[change(vec![ChangeDetail::Field { field: "dn".into(), old: None, new: Some("x".into()) }])]),
            digest(&[change(vec![ChangeDetail::Field { field: "dn".into(), old: Some("x".into()), new: None }])]),
            digest(&[]),
        ];
        let distinct: BTreeSet<&String> = others.iter().chain([&base]).collect();
        assert_eq!(distinct.len(), others.len() + 1, "{others:?}");
    }
}
