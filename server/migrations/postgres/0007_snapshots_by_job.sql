-- Snapshot ids are scoped by job (issue 10, item 15), and each snapshot
-- records the bytes its manifest announces. Keep in step with
-- ../sqlite/0007_snapshots_by_job.sql (see there); here the keys change in place.

ALTER TABLE snapshots ADD COLUMN chunk_bytes BIGINT;
UPDATE snapshots SET chunk_bytes = COALESCE(
    (SELECT SUM((c ->> 'size')::bigint) FROM jsonb_array_elements(manifest_json::jsonb -> 'chunks') AS c), 0);
ALTER TABLE snapshots ALTER COLUMN chunk_bytes SET NOT NULL;

ALTER TABLE snapshot_chunks ADD COLUMN job_id TEXT;
UPDATE snapshot_chunks c SET job_id = s.job_id FROM snapshots s WHERE s.id = c.snapshot_id;
ALTER TABLE snapshot_chunks ALTER COLUMN job_id SET NOT NULL;

ALTER TABLE snapshot_chunks DROP CONSTRAINT snapshot_chunks_snapshot_id_fkey;
ALTER TABLE directory_state DROP CONSTRAINT directory_state_snapshot_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT sessions_snapshot_id_fkey;

ALTER TABLE snapshots DROP CONSTRAINT snapshots_pkey;
ALTER TABLE snapshots ADD PRIMARY KEY (job_id, id);
ALTER TABLE snapshot_chunks DROP CONSTRAINT snapshot_chunks_pkey;
ALTER TABLE snapshot_chunks ADD PRIMARY KEY (job_id, snapshot_id, idx);

ALTER TABLE snapshot_chunks ADD FOREIGN KEY (job_id, snapshot_id) REFERENCES snapshots (job_id, id);
ALTER TABLE directory_state ADD FOREIGN KEY (job_id, snapshot_id) REFERENCES snapshots (job_id, id);
ALTER TABLE sessions ADD FOREIGN KEY (job_id, snapshot_id) REFERENCES snapshots (job_id, id);
