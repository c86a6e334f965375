-- When a job's scope (paths, group paths, filter) last changed (Unix ms;
-- NULL: never since it was created). A full snapshot whose read began
-- before that was read with the old scope: it is applied, but the next
-- snapshot must be full (ingest::apply). Keep in step with
-- ../postgres/0010_scope_changed_at.sql.
ALTER TABLE jobs ADD COLUMN scope_changed_at INTEGER;
