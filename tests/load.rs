//! The load driver (`tests/bench/load.rs`, which `scripts/load.sh` runs at
//! full size) at a small size: two replicas on PostgreSQL, one killed and
//! restarted half-way, and the driver's correctness checks passing (no
//! failed import or push, no snapshot lost or applied twice). Its latency
//! target is left to the benchmark: a debug build on a busy machine says
//! nothing about it.

use std::process::Command;

use roster_e2e::binary;

#[test]
fn the_load_driver_finds_nothing_lost_with_a_replica_killed_half_way() {
    let output = Command::new(binary("examples/load"))
        .args(["--agents", "6", "--tenants", "2", "--users", "300", "--seconds", "8", "--delta-every", "1", "--changes", "2", "--restart"])
        .output()
        .expect("run the load driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    // 0: every target passed; 3: one missed (here only the timing may).
    assert!(matches!(output.status.code(), Some(0 | 3)), "the load driver broke ({}):\n{report}", output.status);
    for target in ["failed or held imports", "failed pushes", "lost or doubly applied"] {
        let line = stdout.lines().find(|l| l.trim_start().starts_with(target)).unwrap_or_else(|| panic!("no {target:?} line:\n{report}"));
        assert!(line.ends_with("PASS"), "{line}\n{report}");
    }
    assert!(stdout.contains("replica 2 killed (SIGKILL)"), "the replica was not restarted:\n{report}");
    // Every agent pushed its full snapshot and deltas after it.
    let pushes = stdout.lines().find_map(|l| l.trim_start().strip_prefix("pushes")).expect("a pushes line");
    let count: u64 = pushes.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a push count");
    assert!(count > 6 * 2, "only {count} pushes:\n{report}");
}
