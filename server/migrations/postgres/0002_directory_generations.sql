-- The directory state by generation, and group members as rows of their own.
-- Keep in step with ../sqlite/0002_directory_generations.sql (see there).

ALTER TABLE directory_state ADD COLUMN generation TEXT NOT NULL DEFAULT '';
UPDATE directory_state SET generation = snapshot_id;

ALTER TABLE directory_objects ADD COLUMN generation TEXT NOT NULL DEFAULT '';
-- Staged delta rows only: 0 for a user or group outside the job's scope,
-- applied only onto an object the state already holds.
ALTER TABLE directory_objects ADD COLUMN in_scope BIGINT NOT NULL DEFAULT 1;
UPDATE directory_objects o SET generation = s.generation FROM directory_state s WHERE s.job_id = o.job_id;
DELETE FROM directory_objects o WHERE NOT EXISTS (SELECT 1 FROM directory_state s WHERE s.job_id = o.job_id);
ALTER TABLE directory_objects DROP CONSTRAINT directory_objects_pkey;
ALTER TABLE directory_objects ADD PRIMARY KEY (job_id, generation, object_guid);
DROP INDEX directory_objects_anchor;
CREATE INDEX directory_objects_anchor ON directory_objects (job_id, generation, kind, anchor, object_guid);

CREATE TABLE directory_members (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    generation TEXT NOT NULL,
    group_guid TEXT NOT NULL,
    member_guid TEXT NOT NULL,
    PRIMARY KEY (job_id, generation, group_guid, member_guid)
);
INSERT INTO directory_members (job_id, generation, group_guid, member_guid)
    SELECT o.job_id, o.generation, o.object_guid, m.member_guid FROM directory_objects o, jsonb_array_elements_text(o.record::jsonb -> 'members') AS m(member_guid)
    WHERE o.kind = 'group'
    ON CONFLICT DO NOTHING;
UPDATE directory_objects SET record = jsonb_set(record::jsonb, '{members}', '[]'::jsonb)::text WHERE kind = 'group';

CREATE TABLE directory_generations (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    generation TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, generation)
);
INSERT INTO directory_generations (job_id, generation, created_at) SELECT job_id, generation, updated_at FROM directory_state;
