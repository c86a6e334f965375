-- Admin tokens are listed, revoked and may expire (issue 10, item 14).
-- Each gets an id to name it by (a token from before this takes the first
-- 128 bits of its stored hash, which says nothing of the token), an
-- optional label, an optional expiry (NULL: never, as every token from
-- before this) and when it was last used (written at most once a minute).
-- Revoking deletes the row, so a revoked token is an unknown one.
ALTER TABLE admin_tokens ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE admin_tokens ADD COLUMN label TEXT;
ALTER TABLE admin_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE admin_tokens ADD COLUMN last_used_at BIGINT;
UPDATE admin_tokens SET id = substr(token_hash, 1, 8) || '-' || substr(token_hash, 9, 4) || '-' || substr(token_hash, 13, 4)
    || '-' || substr(token_hash, 17, 4) || '-' || substr(token_hash, 21, 12);
CREATE UNIQUE INDEX admin_tokens_id ON admin_tokens (id);
CREATE INDEX admin_tokens_tenant_created ON admin_tokens (tenant_id, created_at, id);
