-- no-transaction
-- The cloud drives the agent (issue 11): schedules in the tenant's time
-- zone, scheduled runs claimed once, sessions that wait for fresh data,
-- commands to agents and their heartbeats.
-- Keep in step with ../postgres/0011_control_plane.sql.
--
-- A session waiting for its snapshot has none yet, so `sessions` is
-- rebuilt with `snapshot_id` and `manifest_sha256` nullable (SQLite cannot
-- relax NOT NULL). As in 0007: foreign keys off around one explicit
-- transaction, which commits only if `foreign_key_check` finds nothing.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

-- A job's schedule, the JSON of roster_proto::admin::Schedule. Existing
-- jobs keep their daily time, in UTC. `schedule_time` moves into it.
ALTER TABLE jobs ADD COLUMN schedule TEXT NOT NULL DEFAULT '';
UPDATE jobs SET schedule = json_object('enabled', json('true'), 'daily_at', schedule_time, 'time_zone', 'UTC',
                                       'interval_minutes', json('null'));
-- The next scheduled run: when it starts (Unix ms, its slot plus the job's
-- jitter; NULL while the schedule is disabled) and the local slot it runs
-- for (`YYYY-MM-DDTHH:MM`, see roster-schedule). Replaces next_import_at.
ALTER TABLE jobs ADD COLUMN next_run_at INTEGER;
ALTER TABLE jobs ADD COLUMN next_run_key TEXT;
UPDATE jobs SET next_run_at = next_import_at,
                next_run_key = strftime('%Y-%m-%dT', next_import_at / 1000, 'unixepoch') || schedule_time;
DROP INDEX jobs_next_import;
ALTER TABLE jobs DROP COLUMN next_import_at;
ALTER TABLE jobs DROP COLUMN schedule_time;
CREATE INDEX jobs_next_run ON jobs (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE sessions_waiting (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    -- NULL while the session waits for its snapshot (status 'waiting').
    snapshot_id TEXT,
    trigger_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    manifest_sha256 TEXT,
    created_count INTEGER NOT NULL DEFAULT 0,
    updated_count INTEGER NOT NULL DEFAULT 0,
    deactivated_count INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    not_linked_count INTEGER NOT NULL DEFAULT 0,
    reactivated_count INTEGER NOT NULL DEFAULT 0,
    lost_basic_count INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    held_reasons TEXT NOT NULL DEFAULT '[]',
    plan_digest TEXT,
    claim_token TEXT,
    approved_digest TEXT,
    decided_by TEXT,
    decided_at INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    duration_ms INTEGER,
    alive_at INTEGER,
    -- 1: a scheduled run the server missed and ran once when it was back.
    caught_up INTEGER NOT NULL DEFAULT 0,
    -- While waiting: when it fails if no fresh snapshot is committed.
    waiting_until INTEGER,
    FOREIGN KEY (job_id, snapshot_id) REFERENCES snapshots (job_id, id)
);
INSERT INTO sessions_waiting (id, tenant_id, job_id, snapshot_id, trigger_kind, status, manifest_sha256, created_count, updated_count,
                              deactivated_count, unchanged_count, not_linked_count, reactivated_count, lost_basic_count, notes, error,
                              held_reasons, plan_digest, claim_token, approved_digest, decided_by, decided_at, created_at, started_at,
                              finished_at, duration_ms, alive_at)
    SELECT id, tenant_id, job_id, snapshot_id, trigger_kind, status, manifest_sha256, created_count, updated_count,
           deactivated_count, unchanged_count, not_linked_count, reactivated_count, lost_basic_count, notes, error,
           held_reasons, plan_digest, claim_token, approved_digest, decided_by, decided_at, created_at, started_at,
           finished_at, duration_ms, alive_at
    FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_waiting RENAME TO sessions;
CREATE INDEX sessions_job ON sessions (job_id, created_at);
CREATE INDEX sessions_status ON sessions (status);
CREATE UNIQUE INDEX sessions_one_running_per_job ON sessions (job_id) WHERE status = 'running';
CREATE INDEX sessions_waiting_until ON sessions (waiting_until) WHERE status = 'waiting';

-- Every scheduled run started, one row per (job, local slot): the key
-- that makes a run start once however many replicas see it due.
CREATE TABLE schedule_runs (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    run_key TEXT NOT NULL,
    -- The run's due time (Unix ms, jitter included) and when it started,
    -- both by the database's clock.
    due_at INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    -- 1: started late, after the server missed it.
    caught_up INTEGER NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    PRIMARY KEY (job_id, run_key)
);

-- What an agent last said of itself (POST /agent/v1/heartbeat).
ALTER TABLE agents ADD COLUMN os TEXT;
ALTER TABLE agents ADD COLUMN dc_reachable INTEGER;
ALTER TABLE agents ADD COLUMN last_error TEXT;

-- Commands for a job's agent (GET /agent/v1/commands), in the order
-- issued. A command is delivered to one agent, answered again to that
-- agent until it reports the result, acknowledged once, and never
-- delivered after that or after it expires.
CREATE TABLE agent_commands (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    -- JSON of roster_proto::agent::CommandAction.
    action TEXT NOT NULL,
    -- The waiting session a push serves, if any.
    session_id TEXT REFERENCES sessions(id),
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    delivered_to TEXT REFERENCES agents(id),
    delivered_at INTEGER,
    acked_at INTEGER,
    -- 'succeeded' or 'failed', and the agent's words.
    outcome TEXT,
    message TEXT
);
CREATE INDEX agent_commands_open ON agent_commands (job_id, id) WHERE acked_at IS NULL;

CREATE TEMP TABLE foreign_keys_hold (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT OR ROLLBACK INTO foreign_keys_hold SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE foreign_keys_hold;

COMMIT;
PRAGMA foreign_keys = ON;
