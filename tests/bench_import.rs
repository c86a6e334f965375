//! The import benchmark (`server/examples/bench-import/`, which
//! `scripts/bench-import.sh` runs at full size) at a small size, on both
//! engines: its checks passing (the full import creates exactly the linked
//! users, the count of rows written finds exactly those, a no-change
//! re-import writes no user row, each baseline sees every row) and every
//! line it reports present, including the API's answers from a real
//! `roster-server`. Its speed and memory targets are left to the
//! benchmark: a debug build on a busy machine says nothing about them.

use std::process::Command;

use roster_e2e::{binary, env};

/// Runs the bench on a few users; returns its report.
fn bench(engine: &[&str]) -> String {
    let server = binary("roster-server");
    let output = Command::new(binary("examples/bench-import"))
        .args(["--users", "600", "--groups", "6", "--runs", "1", "--server-bin"])
        .arg(&server)
        .args(engine)
        .output()
        .expect("run bench-import");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    // Without --strict a missed target still exits 0; a failed check exits 1.
    assert!(output.status.success(), "bench-import broke ({}):\n{report}", output.status);
    // 600 users, every 50th in no group, every 20th in two: 588 created with 618 accesses.
    assert!(
        stdout.contains("rows the full import writes     588 users, 618 user_accesses, 588 session_changes"),
        "the full import's rows:\n{report}"
    );
    let written = stdout.lines().find(|l| l.trim_start().starts_with("user rows written (no change)")).expect("a rows-written line");
    assert!(written.ends_with("PASS"), "{written}\n{report}");
    for line in [
        "full import ",
        "no-change re-import ",
        "peak RSS, full import",
        "peak RSS, no-change re-import",
        "API: structure, first answer",
        "API: structure ",
        "API: structure, recounted",
        "structure counted as staged",
        "API: explain (a user by name)",
        "API: explain (a stored user)",
        "API: a page of users",
        "database size after both imports",
    ] {
        let found = stdout.lines().find(|l| l.trim_start().starts_with(line)).unwrap_or_else(|| panic!("no {line:?} line:\n{report}"));
        assert!(found.ends_with("PASS") || found.ends_with("FAIL") || !found.contains("target"), "{found}\n{report}");
    }
    report
}

#[test]
fn the_import_bench_checks_pass_on_sqlite() {
    let report = bench(&[]);
    assert!(report.contains("(SQLite "), "{report}");
}

#[test]
fn the_import_bench_checks_pass_on_postgres() {
    let url = env("ROSTER_TEST_POSTGRES_URL");
    let report = bench(&["--engine", "postgres", "--postgres-url", &url]);
    assert!(report.contains("(PostgreSQL "), "{report}");
}
