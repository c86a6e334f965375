-- Several agents per job (issue 13): the job's lease, held by one agent at
-- a time. `fencing_token` increases with every grant to a new holder and
-- never goes back; the holder sends it with every offer, chunk and commit,
-- and anything with an older token is refused, so an agent that was paused
-- past its lease can never overwrite what its successor committed.
-- `expires_at` (ms) is renewed by the holder's requests for the lease,
-- polls and heartbeats. One row per job that ever had a holder; deleted
-- with the job. Keep in step with ../postgres/0015_job_leases.sql.
CREATE TABLE job_leases (
    job_id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    fencing_token INTEGER NOT NULL,
    granted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
