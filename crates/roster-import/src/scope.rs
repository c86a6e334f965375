//! Whether a directory user is in a job's scope: the one rule the planner,
//! explain and the server's snapshot commit all ask.

use roster_proto::dn::Dn;
use roster_proto::records::UserRecord;
use roster_proto::scope::ResolvedScope;

/// Where a directory user stands against a job's scope. A user is in scope
/// when its DN lies below one of the job's user paths and a delta did not
/// flag it as no longer matching the job's user filter; a DN that cannot
/// be read is out of scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserScope {
    /// Below one of the job's user paths; `None` when the DN cannot be read.
    pub in_paths: Option<bool>,
    /// A delta's flag: the user no longer matches the job's user filter.
    pub outside_filter: bool,
}

impl UserScope {
    /// Where `user` stands against `scope`.
    pub fn of(scope: &ResolvedScope, user: &UserRecord) -> UserScope {
        UserScope { in_paths: Dn::parse(&user.dn).ok().map(|dn| scope.contains_user(&dn)), outside_filter: user.outside_filter }
    }

    /// True when the job imports the user (if its groups grant it a basic access).
    pub fn in_scope(self) -> bool {
        self.in_paths == Some(true) && !self.outside_filter
    }

    /// True when the user's DN cannot be read (and so it is out of scope).
    pub fn unreadable_dn(self) -> bool {
        self.in_paths.is_none()
    }
}

/// True when `user` is in `scope` (see [`UserScope`]).
pub fn user_in_scope(scope: &ResolvedScope, user: &UserRecord) -> bool {
    UserScope::of(scope, user).in_scope()
}
