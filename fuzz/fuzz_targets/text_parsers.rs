//! Fuzzes the parsers of text that admins and directories supply: DNs,
//! GUIDs, link groups and job scopes. None may panic; a GUID's string form
//! must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_proto::ObjectGuid;
use roster_proto::dn::Dn;
use roster_proto::scope::JobScope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(dn) = Dn::parse(text) {
        assert!(dn.is_within(&dn));
        let _ = dn.parent();
    }
    if let Ok(guid) = text.parse::<ObjectGuid>() {
        assert_eq!(guid.to_string().parse::<ObjectGuid>(), Ok(guid));
    }
    let _ = roster_import::GroupRef::parse(text);
    let (paths, filter) = text.split_once('\n').unwrap_or((text, ""));
    let scope = JobScope {
        relative_paths: paths.split(';').map(str::to_owned).collect(),
        group_paths: vec![],
        user_filter: Some(filter.to_owned()),
    };
    let _ = scope.resolve("DC=corp,DC=example,DC=test");
});
