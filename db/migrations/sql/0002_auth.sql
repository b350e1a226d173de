-- onemap 0002: who may do what. People (password hashes), system API keys
-- (only a hash is stored), and the audit log of every write.

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name   text,
    role           text NOT NULL CHECK (role IN (
                     'viewer', 'analyst', 'editor', 'integrator', 'admin')),
    password_hash  text NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);

CREATE TABLE api_keys (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    role           text NOT NULL CHECK (role IN (
                     'viewer', 'analyst', 'editor', 'integrator', 'admin')),
    prefix         text NOT NULL UNIQUE,
    key_hash       text NOT NULL,
    created_by     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    last_used_at   timestamptz
);

-- Revocations and role changes reach every app process at once.
CREATE OR REPLACE FUNCTION onemap_api_keys_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('onemap_auth_changed', OLD.prefix);
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_changed
    AFTER UPDATE OF revoked_at, role OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION onemap_api_keys_changed();

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    actor_kind   text NOT NULL CHECK (actor_kind IN ('user', 'key', 'cli')),
    role         text,
    action       text NOT NULL,
    target       text,
    records      text[] NOT NULL DEFAULT '{}',
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target, at DESC);
