-- no-transaction
-- Snapshot ids are scoped by job (issue 10, item 15): `snapshots` is keyed
-- by (job_id, id) and every table naming a snapshot names it by
-- (job_id, snapshot_id), so another job's (or tenant's) snapshot id is a
-- fresh id here, not a conflict that tells it exists. Each snapshot also
-- records the bytes its manifest announces (`chunk_bytes`), which the
-- quota at offer sums inside its write transaction.
-- Keep in step with ../postgres/0007_snapshots_by_job.sql.
--
-- SQLite cannot change a key: the four tables are rebuilt. Foreign keys
-- must be off while tables are dropped and renamed, and that pragma cannot
-- change inside a transaction: hence `-- no-transaction` above, and the
-- rebuild as one explicit transaction between the two pragmas. Before it
-- commits, `foreign_key_check` must find nothing (a row fails the CHECK).

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE snapshots_by_job (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    -- The sum of the chunk sizes the manifest announces.
    chunk_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    committed_at INTEGER,
    PRIMARY KEY (job_id, id)
);
INSERT INTO snapshots_by_job (id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count,
                              chunk_bytes, created_at, committed_at)
    SELECT id, tenant_id, job_id, agent_id, kind, status, manifest_json, manifest_sha256, chunk_count,
           COALESCE((SELECT SUM(json_extract(c.value, '$.size')) FROM json_each(manifest_json, '$.chunks') c), 0), created_at, committed_at
    FROM snapshots;
DROP TABLE snapshots;
ALTER TABLE snapshots_by_job RENAME TO snapshots;
CREATE INDEX snapshots_job ON snapshots (job_id, committed_at);

CREATE TABLE snapshot_chunks_by_job (
    job_id TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, snapshot_id, idx),
    FOREIGN KEY (job_id, snapshot_id) REFERENCES snapshots (job_id, id)
);
INSERT INTO snapshot_chunks_by_job (job_id, snapshot_id, idx, sha256, data)
    SELECT s.job_id, c.snapshot_id, c.idx, c.sha256, c.data FROM snapshot_chunks c JOIN snapshots s ON s.id = c.snapshot_id;
DROP TABLE snapshot_chunks;
ALTER TABLE snapshot_chunks_by_job RENAME TO snapshot_chunks;

CREATE TABLE directory_state_by_job (
    job_id TEXT PRIMARY KEY REFERENCES jobs(id),
    snapshot_id TEXT NOT NULL,
    watermark TEXT NOT NULL,
    full_scope TEXT NOT NULL,
    full_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    generation TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (job_id, snapshot_id) REFERENCES snapshots (job_id, id)
);
INSERT INTO directory_state_by_job (job_id, snapshot_id, watermark, full_scope, full_at, updated_at, generation)
    SELECT job_id, snapshot_id, watermark, full_scope, full_at, updated_at, generation FROM directory_state;
DROP TABLE directory_state;
ALTER TABLE directory_state_by_job RENAME TO directory_state;

CREATE TABLE sessions_by_job (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    snapshot_id TEXT NOT NULL,
    trigger_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
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
    FOREIGN KEY (job_id, snapshot_id) REFERENCES snapshots (job_id, id)
);
INSERT INTO sessions_by_job (id, tenant_id, job_id, snapshot_id, trigger_kind, status, manifest_sha256, created_count, updated_count,
                             deactivated_count, unchanged_count, not_linked_count, reactivated_count, lost_basic_count, notes, error,
                             held_reasons, plan_digest, claim_token, approved_digest, decided_by, decided_at, created_at, started_at,
                             finished_at, duration_ms)
    SELECT id, tenant_id, job_id, snapshot_id, trigger_kind, status, manifest_sha256, created_count, updated_count,
           deactivated_count, unchanged_count, not_linked_count, reactivated_count, lost_basic_count, notes, error,
           held_reasons, plan_digest, claim_token, approved_digest, decided_by, decided_at, created_at, started_at,
           finished_at, duration_ms
    FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_by_job RENAME TO sessions;
CREATE INDEX sessions_job ON sessions (job_id, created_at);
CREATE INDEX sessions_status ON sessions (status);
CREATE UNIQUE INDEX sessions_one_running_per_job ON sessions (job_id) WHERE status = 'running';

-- Every reference must still hold: a row here makes the insert fail and
-- the migration with it (the transaction is rolled back).
CREATE TEMP TABLE foreign_keys_hold (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT OR ROLLBACK INTO foreign_keys_hold SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE foreign_keys_hold;

COMMIT;
PRAGMA foreign_keys = ON;
