-- A running import's progress (issue 12: the console shows "users done of
-- total"): directory users planned so far and all the state's users,
-- written with each batch's sign of life. Keep in step with
-- ../postgres/0014_import_progress.sql.
ALTER TABLE sessions ADD COLUMN progress_done INTEGER;
ALTER TABLE sessions ADD COLUMN progress_total INTEGER;
