-- Job and access names are compared by their key (issue 10, item 11):
-- `roster_proto::name::name_key`, the name in NFC without default-ignorable
-- characters, so look-alike names cannot be two jobs or two accesses. A
-- name stored before this keeps itself as its key (names were trimmed and
-- unique already); every name saved from now on is checked and keyed.
ALTER TABLE jobs ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE jobs SET name_key = name;
CREATE UNIQUE INDEX jobs_tenant_name_key ON jobs (tenant_id, name_key);
ALTER TABLE accesses ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE accesses SET name_key = name;
CREATE UNIQUE INDEX accesses_tenant_kind_name_key ON accesses (tenant_id, kind, name_key);
