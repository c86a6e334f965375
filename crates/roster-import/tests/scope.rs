//! Table tests of the one scope rule: a user's DN below the job's paths,
//! and not flagged outside the job's user filter.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used)]

mod common;

use roster_import::{UserScope, user_in_scope};
use roster_proto::scope::JobScope;

use common::{BASE, user};

#[test]
fn a_user_is_in_scope_below_the_paths_and_inside_the_filter() {
    let scope = JobScope { relative_paths: vec!["OU=Staff".into()], group_paths: vec![], user_filter: None }.resolve(BASE).unwrap();
    // (container, DN instead, outside_filter) -> (in_paths, in scope)
    type Case = (&'static str, Option<&'static str>, bool, Option<bool>, bool);
    let cases: [Case; 6] = [
        ("OU=Staff", None, false, Some(true), true),
        ("OU=Copenhagen,OU=Staff", None, false, Some(true), true),
        ("OU=Staff", None, true, Some(true), false),
        ("OU=Other", None, false, Some(false), false),
        ("OU=Other", None, true, Some(false), false),
        ("OU=Staff", Some("not a DN"), false, None, false),
    ];
    for (container, dn, outside_filter, in_paths, in_scope) in cases {
        let mut record = user(1, container, 512);
        if let Some(dn) = dn {
            record.dn = dn.to_owned();
        }
        record.outside_filter = outside_filter;
        let place = UserScope::of(&scope, &record);
        let case = format!("{} outside_filter={outside_filter}", record.dn);
        assert_eq!((place.in_paths, place.in_scope(), place.unreadable_dn()), (in_paths, in_scope, in_paths.is_none()), "{case}");
        assert_eq!(user_in_scope(&scope, &record), in_scope, "{case}");
    }
}
