-- The cloud drives the agent (issue 11): schedules in the tenant's time
-- zone, scheduled runs claimed once, sessions that wait for fresh data,
-- commands to agents and their heartbeats.
-- Keep in step with ../sqlite/0011_control_plane.sql (which says what
-- each column means).

ALTER TABLE jobs ADD COLUMN schedule TEXT;
UPDATE jobs SET schedule = json_build_object('enabled', true, 'daily_at', schedule_time, 'time_zone', 'UTC',
                                             'interval_minutes', NULL)::text;
ALTER TABLE jobs ALTER COLUMN schedule SET NOT NULL;
ALTER TABLE jobs ADD COLUMN next_run_at BIGINT, ADD COLUMN next_run_key TEXT;
UPDATE jobs SET next_run_at = next_import_at,
                next_run_key = to_char(to_timestamp(next_import_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"') || schedule_time;
DROP INDEX jobs_next_import;
ALTER TABLE jobs DROP COLUMN next_import_at, DROP COLUMN schedule_time;
CREATE INDEX jobs_next_run ON jobs (next_run_at) WHERE next_run_at IS NOT NULL;

ALTER TABLE sessions ALTER COLUMN snapshot_id DROP NOT NULL, ALTER COLUMN manifest_sha256 DROP NOT NULL,
    ADD COLUMN caught_up BIGINT NOT NULL DEFAULT 0, ADD COLUMN waiting_until BIGINT;
CREATE INDEX sessions_waiting_until ON sessions (waiting_until) WHERE status = 'waiting';

CREATE TABLE schedule_runs (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    run_key TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    caught_up BIGINT NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    PRIMARY KEY (job_id, run_key)
);

ALTER TABLE agents ADD COLUMN os TEXT, ADD COLUMN dc_reachable BIGINT, ADD COLUMN last_error TEXT;

CREATE TABLE agent_commands (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    action TEXT NOT NULL,
    session_id TEXT REFERENCES sessions(id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    delivered_to TEXT REFERENCES agents(id),
    delivered_at BIGINT,
    acked_at BIGINT,
    outcome TEXT,
    message TEXT
);
CREATE INDEX agent_commands_open ON agent_commands (job_id, id) WHERE acked_at IS NULL;
