//! Writes one sample of each chart to a folder (default `/tmp/chart-samples`),
//! to look at by eye: `cargo run -p roster-chart --example samples -- DIR`.

use roster_chart::{
    AccessChange, AccessChangesChart, AgentHeartbeats, HeartbeatChart, Session, SessionsChart, Tick, access_changes_chart, heartbeat_chart,
    sessions_chart,
};

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp/chart-samples".to_owned());
    std::fs::create_dir_all(&dir)?;
    let day = 86_400_000i64;
    let start = 1_798_761_600_000i64; // 2027-01-01T00:00Z
    let sessions: Vec<Session> = (0..14u64)
        .map(|i| Session {
            at_unix_ms: start + day * i as i64,
            label: Some(format!("{} Jan", i + 1)),
            active_users: 1204 + i * 4 + (i % 3) * 2,
            created: [12, 3, 4, 0, 8, 2, 40, 5, 3, 1, 0, 6, 2, 9][i as usize],
            updated: [30, 12, 8, 5, 14, 9, 22, 17, 6, 4, 3, 11, 7, 10][i as usize],
            deactivated: [2, 0, 1, 3, 0, 0, 5, 1, 0, 2, 0, 1, 0, 3][i as usize],
            reactivated: [0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1][i as usize],
        })
        .collect();
    let many: Vec<Session> = (0..10_000u64)
        .map(|i| Session {
            at_unix_ms: start + 3_600_000 * i as i64,
            label: None,
            active_users: 50_000 + i * 3 - (i % 97) * 20,
            created: i % 7,
            updated: (i * 13) % 50,
            deactivated: i % 5,
            reactivated: i % 3,
        })
        .collect();
    let hours: Vec<Tick> = (0..=24).step_by(3).map(|h| Tick { bucket: h * 12, label: format!("{:02}:00", (h + 14) % 24) }).collect();
    let agents: Vec<AgentHeartbeats> =
        ["dc01.corp.example", "dc02.corp.example", "<img src=x onerror=alert(1)>", "branch-office-copenhagen-agent-with-a-long-name"]
            .iter()
            .enumerate()
            .map(|(k, name)| AgentHeartbeats {
                name: (*name).to_owned(),
                heard: (0..288)
                    .map(|b| match k {
                        0 => true,
                        1 => !(100..130).contains(&b) && b % 50 != 7,
                        2 => false,
                        _ => b > 200,
                    })
                    .collect(),
            })
            .chain((0..40).map(|i| AgentHeartbeats { name: format!("agent-{i}"), heard: vec![true; 288] }))
            .collect();
    let accesses = vec![
        AccessChange { name: "VPN".into(), gains: 30, losses: 2 },
        AccessChange { name: "Wiki editors".into(), gains: 4, losses: 5 },
        AccessChange { name: "Payroll & HR <admin>".into(), gains: 0, losses: 12 },
        AccessChange { name: "Office 365 E3".into(), gains: 120, losses: 0 },
        AccessChange { name: "Unchanged".into(), gains: 0, losses: 0 },
    ];
    let one =
        Session { at_unix_ms: start, label: None, active_users: 1_234_567, created: 1_234_567, updated: 0, deactivated: 0, reactivated: 0 };
    let silent = vec![AgentHeartbeats { name: "dc01".into(), heard: vec![false; 96] }];
    let quarters = vec![Tick { bucket: 0, label: "Mon 09:15".into() }, Tick { bucket: 96, label: "Tue 09:15".into() }];
    let files = [
        ("sessions", sessions_chart(&SessionsChart { id_prefix: "s1".into(), title: "Import sessions of job HR".into(), sessions })),
        ("sessions-many", sessions_chart(&SessionsChart { id_prefix: "s2".into(), title: String::new(), sessions: many })),
        ("sessions-empty", sessions_chart(&SessionsChart::default())),
        ("sessions-one", sessions_chart(&SessionsChart { id_prefix: "s3".into(), title: String::new(), sessions: vec![one] })),
        (
            "heartbeats-silent",
            heartbeat_chart(&HeartbeatChart { id_prefix: "h2".into(), title: String::new(), buckets: 96, agents: silent, ticks: quarters }),
        ),
        (
            "heartbeats",
            heartbeat_chart(&HeartbeatChart { id_prefix: "h1".into(), title: String::new(), buckets: 288, agents, ticks: hours }),
        ),
        ("accesses", access_changes_chart(&AccessChangesChart { id_prefix: "a1".into(), title: String::new(), accesses })),
    ];
    for (name, svg) in files {
        std::fs::write(format!("{dir}/{name}.svg"), svg)?;
    }
    Ok(())
}
