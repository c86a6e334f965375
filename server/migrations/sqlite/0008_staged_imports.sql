-- An import plans outside the write transaction (issue 10, item 1): it
-- plans on a read snapshot, stages what it planned here in short
-- transactions, then applies the staged rows with a few set statements in
-- one short transaction. Keep in step with ../postgres/0008_staged_imports.sql.

-- One row per planned change, keyed by the run (the session's claim
-- token): the user as it will be (the users table's imported columns) and
-- the change as the session records it. `user_id` is the row it writes (a
-- new id for a creation); `existing_id` the stored user it changes (NULL
-- for a creation). Transient: deleted once the run ends, and swept by
-- housekeeping for runs that are no longer running.
CREATE TABLE staged_changes (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    existing_id TEXT,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
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
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- The accesses each staged user will hold.
CREATE TABLE staged_accesses (
    run_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    access_id TEXT NOT NULL,
    PRIMARY KEY (run_id, user_id, access_id)
);

-- Bumped by every transaction that writes a job's users (an applied
-- import, a purge): an import applies only onto the users it planned from.
ALTER TABLE jobs ADD COLUMN users_revision INTEGER NOT NULL DEFAULT 0;

-- A running import's last sign of life (Unix ms), written with each staged
-- batch: on PostgreSQL a session silent for long is re-queued.
ALTER TABLE sessions ADD COLUMN alive_at INTEGER;
