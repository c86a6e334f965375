-- A job can be deleted (issue 11): its row stays, so its sessions still
-- name it, but it is no longer listed, found, scheduled or imported.
-- Deleting also renames it out of the way (store::jobs::delete_job), so
-- its name is free for a new job. Keep in step with
-- ../sqlite/0009_deleted_jobs.sql.
ALTER TABLE jobs ADD COLUMN deleted_at BIGINT;
