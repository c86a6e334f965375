-- The admin console (issue 12): people who sign in, their sessions, the
-- audit log of every change an admin makes, and agents' heartbeats over
-- the last day. Keep in step with ../postgres/0013_console.sql.

-- A person who signs in to a tenant's console. `email_key` (the address
-- trimmed and lower-cased) is unique across the server: the sign-in page
-- asks for an address and a password, nothing else. The password is an
-- argon2id PHC string, NULL until the set-up link is used; the set-up
-- link's secret is stored hashed (sha256) until it is used or expires.
CREATE TABLE console_admins (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    -- 'owner', 'admin' or 'viewer' (roster_proto::admin::AdminRole).
    role TEXT NOT NULL,
    password_hash TEXT,
    password_set_at INTEGER,
    setup_hash TEXT,
    setup_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    -- Who added this admin, as the audit log names actors.
    created_by TEXT NOT NULL,
    -- Set when an owner removes the admin: it can no longer sign in.
    disabled_at INTEGER
);
CREATE UNIQUE INDEX console_admins_email ON console_admins (email_key);
CREATE UNIQUE INDEX console_admins_setup ON console_admins (setup_hash) WHERE setup_hash IS NOT NULL;
CREATE INDEX console_admins_tenant ON console_admins (tenant_id, created_at);

-- A signed-in browser. The cookie holds a secret; only its sha256 is kept.
-- A session ends at `expires_at` (absolute) or after the idle limit since
-- `last_seen_at` (written at most once a minute), whichever comes first.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES console_admins(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_admin ON console_sessions (admin_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Every change an admin made, by whom (a console admin or an admin
-- token), when, and to what. Written in the same transaction as the
-- change where the change is one transaction of ours, else right after it.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    at INTEGER NOT NULL,
    -- 'admin' (console), 'token' (API), 'system' (the command line).
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    -- roster_proto::admin::AuditAction, e.g. 'job.updated'.
    action TEXT NOT NULL,
    target_id TEXT,
    -- What changed, in words, for the log's reader.
    summary TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, at, id);

-- Agents' heartbeats as five-minute buckets in which at least one arrived,
-- for the console's picture of the last day. Pruned after two days.
CREATE TABLE agent_beats (
    agent_id TEXT NOT NULL REFERENCES agents(id),
    bucket_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, bucket_at)
);
CREATE INDEX agent_beats_age ON agent_beats (bucket_at);
