//! Import planning: from a directory snapshot, the job's scope, the
//! tenant's links and the service's current users, decide every change an
//! import makes. Pure functions over plain data; the server applies the
//! resulting [`Plan`] in one transaction.
//!
//! The rules, in one place:
//! - a user in scope is **imported** when a linked group — directly or
//!   through nested groups, cycles tolerated — grants at least one basic
//!   (`user`) access; it carries every access its linked groups grant;
//! - an imported user is **active** unless AD disables the account or it
//!   has expired (`accountExpires`);
//! - a user who leaves scope, loses the last basic access or vanishes from
//!   AD is **deactivated** (inactive, no accesses), never deleted;
//! - users outside the job's scope are never imported, whatever their groups.
//!
//! [`explain`] tells an admin why one user holds its accesses (or is not
//! imported, or not active) by those same rules, and [`structure()`] summarises
//! the OUs and groups a directory state holds. [`safeguard::judge`] says
//! whether a plan takes away so much that it must wait for an admin.

pub mod catalogue;
pub mod digest;
pub mod explain;
pub mod fields;
pub mod links;
pub mod pairing;
pub mod plan;
pub mod safeguard;
pub mod scope;
pub mod structure;

pub use catalogue::AccessCatalogue;
pub use digest::PlanDigest;
pub use explain::{AccountName, ExplainInput, Explainer, LookupKey, LookupKeys};
pub use fields::{FieldValue, InvalidField, StoredFieldError, USER_FIELDS, UserState};
pub use links::{GroupRef, LinkError, LinkRule};
pub use pairing::{Batches, Paired, StoredRange, UserKey};
pub use plan::{Action, CurrentUser, DeactivationReason, Plan, PlanInput, Planner, StoredUser, UserChange, plan};
pub use scope::{UserScope, user_in_scope};
pub use structure::{SnapshotSummariser, StructureInput, StructureSummary, Summariser, structure, summarise};
