-- Answering about a big directory state without reading it all (issue 14:
-- explain and structure at a million users).
-- Keep in step with ../postgres/0017_directory_lookup.sql.
--
-- A user's lookup keys (roster_import::LookupKeys): its cleaned
-- sAMAccountName, ASCII-lowercased, and its folded DN; written when the
-- user is staged. Rows staged before this migration have none: a look-up
-- that finds nothing by key reads the job's users while any such row is
-- left in the state (until the next full snapshot replaces them).
ALTER TABLE directory_objects ADD COLUMN account_key TEXT;
ALTER TABLE directory_objects ADD COLUMN dn_key TEXT;
CREATE INDEX directory_objects_account_key ON directory_objects (job_id, generation, kind, account_key);
CREATE INDEX directory_objects_dn_key ON directory_objects (job_id, generation, kind, dn_key);

-- The groups a member is directly in: explain walks up from one user.
-- Covering (SQLite prefers the primary key, which covers, to an index it
-- must leave for each row's group).
CREATE INDEX directory_members_member ON directory_members (job_id, generation, member_guid, group_guid);

-- Each job's structure counted once per state (roster_import::StructureSummary,
-- as JSON): "Load AD structure" answers from it while the state stands at
-- `snapshot_id`, and counts it again once the state has moved on.
CREATE TABLE directory_summaries (
    job_id TEXT PRIMARY KEY REFERENCES jobs(id),
    snapshot_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
