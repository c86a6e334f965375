-- The directory state by generation, and group members as rows of their own.
-- Keep in step with ../postgres/0002_directory_generations.sql.
--
-- A snapshot is staged as its own generation (its snapshot id) in bounded
-- transactions; a full snapshot is then applied by pointing
-- directory_state.generation at it, a delta by merging its generation into
-- the current one. Readers read only the current generation; others are
-- deleted in bounded steps (directory_generations lists them).

ALTER TABLE directory_state ADD COLUMN generation TEXT NOT NULL DEFAULT '';
UPDATE directory_state SET generation = snapshot_id;

-- SQLite cannot change a primary key: the table is rebuilt.
CREATE TABLE directory_objects_by_generation (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    object_guid TEXT NOT NULL,
    kind TEXT NOT NULL,
    anchor TEXT,
    record TEXT NOT NULL,
    generation TEXT NOT NULL,
    -- Staged delta rows only: 0 for a user or group outside the job's scope,
    -- applied only onto an object the state already holds.
    in_scope INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job_id, generation, object_guid)
);
INSERT INTO directory_objects_by_generation (job_id, object_guid, kind, anchor, record, generation, in_scope)
    SELECT o.job_id, o.object_guid, o.kind, o.anchor, o.record, s.generation, 1
    FROM directory_objects o JOIN directory_state s ON s.job_id = o.job_id;
DROP TABLE directory_objects;
ALTER TABLE directory_objects_by_generation RENAME TO directory_objects;
CREATE INDEX directory_objects_anchor ON directory_objects (job_id, generation, kind, anchor, object_guid);

-- A group's direct members, de-duplicated by the key; the group's record
-- holds none of them.
CREATE TABLE directory_members (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    generation TEXT NOT NULL,
    group_guid TEXT NOT NULL,
    member_guid TEXT NOT NULL,
    PRIMARY KEY (job_id, generation, group_guid, member_guid)
);
INSERT INTO directory_members (job_id, generation, group_guid, member_guid)
    SELECT o.job_id, o.generation, o.object_guid, m.value FROM directory_objects o, json_each(o.record, '$.members') m
    WHERE o.kind = 'group'
    ON CONFLICT DO NOTHING;
UPDATE directory_objects SET record = json_set(record, '$.members', json('[]')) WHERE kind = 'group';

-- Every generation that may have rows: the current one of each job, and
-- those being staged or waiting to be deleted.
CREATE TABLE directory_generations (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    generation TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, generation)
);
INSERT INTO directory_generations (job_id, generation, created_at) SELECT job_id, generation, updated_at FROM directory_state;
