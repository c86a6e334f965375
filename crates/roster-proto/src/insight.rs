//! Insight into a job's directory state, for admins: why a user holds its
//! accesses (or is not imported, or not active), and the AD structure the
//! state holds. `roster_import::explain` and `roster_import::structure`
//! compute these; `proto-schemas/json/insight.schema.json` describes them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ObjectGuid;
use crate::admin::AccessKind;
use crate::id::AccessId;

/// Why a user holds its accesses, or why it is not imported / not active.
/// `imported` implies `in_scope`, `active` implies `imported`, and
/// `reasons` is empty exactly when the user is imported and active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = explanation_rules)]
pub struct Explanation {
    /// The AD object's GUID.
    pub object_guid: ObjectGuid,
    /// What the user is matched by across imports (`UserRecord::anchor`).
    pub anchor: ObjectGuid,
    /// `sAMAccountName`.
    pub username: String,
    /// Where the user lives in AD.
    pub dn: String,
    /// In the job's paths and not flagged `outside_filter`.
    pub in_scope: bool,
    /// In scope, and some linked group grants a basic access.
    pub imported: bool,
    /// Imported, and neither disabled nor expired in AD.
    pub active: bool,
    /// Every access the links grant this user (even if it is not in scope),
    /// sorted by kind, then name.
    pub grants: Vec<AccessGrant>,
    /// Why the user is not imported or not active, in [`ReasonCode`] order;
    /// empty when it is imported and active.
    pub reasons: Vec<Reason>,
}

/// The flags' implications, which no field's type can say.
fn explanation_rules(schema: &mut schemars::Schema) {
    schema.insert(
        "allOf".into(),
        serde_json::json!([
            {
                "if": { "properties": { "imported": { "const": true } }, "required": ["imported"] },
                "then": { "properties": { "in_scope": { "const": true } } }
            },
            {
                "if": { "properties": { "active": { "const": true } }, "required": ["active"] },
                "then": { "properties": { "imported": { "const": true }, "reasons": { "maxItems": 0 } } },
                "else": { "properties": { "reasons": { "minItems": 1 } } }
            }
        ]),
    );
}

/// Most chains an [`AccessGrant`] lists (one per linked group).
pub const MAX_CHAINS_PER_GRANT: usize = 5;

/// One access a user holds, and the memberships that give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessGrant {
    /// The access in the tenant's catalogue.
    pub access_id: AccessId,
    /// The access's kind.
    pub kind: AccessKind,
    /// The access's name (a location, a department, ...).
    pub name: String,
    /// The memberships that grant it: at most five, one per linked group,
    /// shortest first.
    #[schemars(length(min = 1, max = MAX_CHAINS_PER_GRANT))]
    pub chains: Vec<GrantChain>,
}

/// One path of membership, from the group the user is directly in up to the linked group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GrantChain {
    /// The groups, the user's own group first, the linked group last; a
    /// single group when the user is directly in the linked group.
    #[schemars(length(min = 1))]
    pub groups: Vec<GroupStep>,
    /// The chain in words: group names joined by ` → `, then the access as `kind @ name`.
    #[schemars(example = &"Sales-DK → Staff-DK → All-Staff (linked: user @ Copenhagen)", example = &"All-Staff (linked: user @ Copenhagen)")]
    pub text: String,
}

/// One group of a [`GrantChain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupStep {
    /// The group's objectGUID.
    pub object_guid: ObjectGuid,
    /// The group's `cn`.
    pub name: String,
    /// The group's DN.
    pub dn: String,
}

/// One reason a user is not imported or not active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    /// What kind of reason, for programs.
    pub code: ReasonCode,
    /// The reason in words, for people.
    pub text: String,
}

/// The kinds of [`Reason`], in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The user's DN is not below any of the job's paths.
    OutOfScope,
    /// The user no longer matches the job's user filter.
    OutsideFilter,
    /// The user's DN cannot be parsed, so it is treated as out of scope.
    UnreadableDn,
    /// No link reaches the user, directly or through nested groups.
    NoLinkedGroup,
    /// Links reach the user, but none grants a basic access.
    NoBasicAccess,
    /// The account is disabled in AD.
    Disabled,
    /// The account has expired in AD.
    Expired,
    /// The user is no longer in the job's directory state (deleted in AD,
    /// or moved where the agent does not read); only for a stored user.
    GoneFromDirectory,
}

impl ReasonCode {
    /// Every code, in the order reasons are listed.
    pub const ALL: [ReasonCode; 8] = [
        ReasonCode::OutOfScope,
        ReasonCode::OutsideFilter,
        ReasonCode::UnreadableDn,
        ReasonCode::NoLinkedGroup,
        ReasonCode::NoBasicAccess,
        ReasonCode::Disabled,
        ReasonCode::Expired,
        ReasonCode::GoneFromDirectory,
    ];

    /// The code as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::OutOfScope => "out_of_scope",
            ReasonCode::OutsideFilter => "outside_filter",
            ReasonCode::UnreadableDn => "unreadable_dn",
            ReasonCode::NoLinkedGroup => "no_linked_group",
            ReasonCode::NoBasicAccess => "no_basic_access",
            ReasonCode::Disabled => "disabled",
            ReasonCode::Expired => "expired",
            ReasonCode::GoneFromDirectory => "gone_from_directory",
        }
    }
}

/// The AD structure a job's stored state holds ("Load AD structure"). With
/// a search, only matching groups are listed and the OU tree keeps matching
/// OUs and their ancestors; counts are always the unfiltered ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Structure {
    /// Users in the state (the total, whatever the search).
    pub users: u64,
    /// Tree roots: OUs whose parent DN is not an OU of the state, sorted by name.
    pub ous: Vec<OuNode>,
    /// Groups, sorted by name (case-insensitive), then DN.
    pub groups: Vec<GroupSummary>,
}

/// An organizational unit and the OUs below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OuNode {
    /// The OU's objectGUID.
    pub object_guid: ObjectGuid,
    /// The OU's DN.
    pub dn: String,
    /// The OU's name.
    pub name: String,
    /// Users whose parent DN is this OU.
    pub users: u64,
    /// Users of this OU and of all OUs below it.
    pub users_below: u64,
    /// The OUs directly below, sorted by name.
    pub children: Vec<OuNode>,
}

/// A group, its members counted, and the accesses linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupSummary {
    /// The group's objectGUID.
    pub object_guid: ObjectGuid,
    /// The group's DN.
    pub dn: String,
    /// The group's `cn`.
    pub name: String,
    /// Every direct member, of any kind, including references to objects
    /// the state does not hold.
    pub direct_members: u64,
    /// Direct members that are users of the state.
    pub direct_users: u64,
    /// Distinct users of the state reachable through nesting, direct ones included.
    /// A lower bound when `nested_users_exact` is false.
    pub nested_users: u64,
    /// False when counting distinct users through heavily shared nesting
    /// would cost more than the server spends on one answer
    /// (`roster_import::structure::NESTED_COUNT_BUDGET`): `nested_users` is
    /// then a lower bound (the largest of the group's own users and its
    /// nested groups' counts), never an overcount.
    pub nested_users_exact: bool,
    /// Accesses linked to this group, sorted, each once.
    #[schemars(extend("uniqueItems" = true))]
    pub linked_accesses: Vec<AccessId>,
}
