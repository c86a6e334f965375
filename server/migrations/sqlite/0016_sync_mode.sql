-- Continuous sync (issue 13): how a job's agent brings AD's changes.
-- 'scheduled': it pushes when asked (first push, schedule, fresh import);
-- 'continuous': `roster-agent run` also watches the DC and pushes a delta
-- within seconds of a change, and each is imported at once.
-- Keep in step with ../postgres/0016_sync_mode.sql.
ALTER TABLE jobs ADD COLUMN sync_mode TEXT NOT NULL DEFAULT 'scheduled'
    CHECK (sync_mode IN ('scheduled', 'continuous'));
