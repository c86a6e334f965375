-- Roster's schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql:
-- same tables, same columns; only the types differ (BLOB/BYTEA, INTEGER/BIGINT).
-- Times are Unix milliseconds. Ids are UUID strings.

CREATE TABLE server_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    audience TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Days a deactivated user is kept before it is purged.
    purge_after_days INTEGER NOT NULL DEFAULT 30,
    -- Days finished sessions are kept; NULL = forever.
    session_retention_days INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE admin_tokens (
    token_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    created_at INTEGER NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    relative_paths TEXT NOT NULL,
    group_paths TEXT NOT NULL,
    user_filter TEXT,
    schedule_time TEXT NOT NULL,
    next_import_at INTEGER NOT NULL,
    full_sync_interval_days INTEGER NOT NULL,
    full_sync_requested INTEGER NOT NULL DEFAULT 0,
    -- The safeguard policy (JSON of roster_proto::admin::SafeguardPolicy).
    policy TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX jobs_next_import ON jobs (next_import_at);

CREATE TABLE registration_tokens (
    token_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    public_key TEXT NOT NULL,
    hostname TEXT,
    agent_version TEXT,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER
);

-- Request-token ids seen, kept until the token expires: a token is
-- accepted once.
CREATE TABLE used_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_tokens_expiry ON used_tokens (expires_at);

CREATE TABLE accesses (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, kind, name)
);

CREATE TABLE links (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    position INTEGER NOT NULL,
    group_text TEXT NOT NULL,
    access_id TEXT NOT NULL REFERENCES accesses(id),
    group_guid TEXT,
    PRIMARY KEY (job_id, position)
);

CREATE TABLE snapshots (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    committed_at INTEGER
);
CREATE INDEX snapshots_job ON snapshots (job_id, committed_at);

CREATE TABLE snapshot_chunks (
    snapshot_id TEXT NOT NULL REFERENCES snapshots(id),
    idx INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (snapshot_id, idx)
);

-- The job's directory as the newest snapshots left it: full snapshots
-- replace it, deltas change it. Imports plan from here.
CREATE TABLE directory_state (
    job_id TEXT PRIMARY KEY REFERENCES jobs(id),
    snapshot_id TEXT NOT NULL REFERENCES snapshots(id),
    watermark TEXT NOT NULL,
    full_scope TEXT NOT NULL,
    full_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE directory_objects (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    object_guid TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- Users only: mS-DS-ConsistencyGuid or objectGUID, what imports match
    -- stored users by (they read users in anchor order, a batch at a time).
    anchor TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (job_id, object_guid)
);
CREATE INDEX directory_objects_anchor ON directory_objects (job_id, kind, anchor, object_guid);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    snapshot_id TEXT NOT NULL REFERENCES snapshots(id),
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
    -- A held session: why, and the digest of the plan an approval applies.
    held_reasons TEXT NOT NULL DEFAULT '[]',
    plan_digest TEXT,
    -- Set by each claim: only the run holding it may record the session's outcome.
    claim_token TEXT,
    -- Set by approve: run this plan (if its digest still matches) past the safeguard.
    approved_digest TEXT,
    decided_by TEXT,
    decided_at INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    duration_ms INTEGER
);
CREATE INDEX sessions_job ON sessions (job_id, created_at);
CREATE INDEX sessions_status ON sessions (status);
-- At most one import of a job runs at a time, whatever the number of replicas.
CREATE UNIQUE INDEX sessions_one_running_per_job ON sessions (job_id) WHERE status = 'running';

CREATE TABLE session_changes (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq INTEGER NOT NULL,
    -- NULL for a creation only planned (held session).
    user_id TEXT,
    object_guid TEXT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX session_changes_user ON session_changes (user_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    job_id TEXT NOT NULL REFERENCES jobs(id),
    anchor TEXT NOT NULL,
    object_guid TEXT NOT NULL,
    username TEXT NOT NULL,
    user_principal_name TEXT,
    email TEXT,
    display_name TEXT,
    given_name TEXT,
    surname TEXT,
    telephone_number TEXT,
    department TEXT,
    title TEXT,
    dn TEXT NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    -- roster_import's UserState::fingerprint of the row: what a re-import compares first.
    fingerprint TEXT NOT NULL,
    -- When the user became inactive (NULL while active); purged after the tenant's grace period.
    deactivated_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (job_id, anchor)
);
CREATE INDEX users_tenant ON users (tenant_id, id);

CREATE TABLE user_accesses (
    user_id TEXT NOT NULL REFERENCES users(id),
    access_id TEXT NOT NULL REFERENCES accesses(id),
    PRIMARY KEY (user_id, access_id)
);
