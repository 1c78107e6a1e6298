-- API keys: what integrations use instead of a password or a session.
-- A user's keys only read (scope 'read'); an admin's service keys may only post signals (scope
-- 'signals:write'). The key itself is shown once; only its SHA-256 is stored (keys are 256 random
-- bits, so a plain hash is enough). Revoking sets revoked_at; nothing is deleted.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    key_hash     text NOT NULL UNIQUE,
    scope        text NOT NULL CHECK (scope IN ('read', 'signals:write')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, id);

GRANT SELECT, INSERT (user_id, name, prefix, key_hash, scope) ON api_keys TO trading_app_user;
GRANT UPDATE (last_used_at, revoked_at) ON api_keys TO trading_app_user;
GRANT SELECT ON api_keys TO trading_admin_user;
GRANT USAGE ON SEQUENCE api_keys_id_seq TO trading_app_user;
