-- onemap 0018: supervision. Users and API keys belong to an organisation
-- (NULL: city-wide, today's behaviour kept for admins and integrators).

ALTER TABLE users ADD COLUMN org text REFERENCES organisations (code) ON UPDATE CASCADE;
ALTER TABLE api_keys ADD COLUMN org text REFERENCES organisations (code) ON UPDATE CASCADE;
CREATE INDEX users_org_idx ON users (org);
CREATE INDEX api_keys_org_idx ON api_keys (org);

-- A key moved to another organisation is evicted from every process's cache, as a
-- revocation or a role change is.
DROP TRIGGER api_keys_changed ON api_keys;
CREATE TRIGGER api_keys_changed
    AFTER UPDATE OF revoked_at, role, org OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION onemap_api_keys_changed();

-- ---------------------------------------------------------------- feature history
-- Every version of every editable feature: who, when, through what (edit, import,
-- grading, restore) and the diff. Written by a row trigger, so no path that
-- changes a feature (an edit, a file import, a regrade) can skip it. `data` is the
-- row after the change (before it, for a retirement), geometry as GeoJSON.

CREATE TABLE feature_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer       text NOT NULL,
    code        text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text,
    actor_kind  text,
    via         text NOT NULL CHECK (via IN ('edit', 'import', 'grading', 'restore', 'system')),
    op          text NOT NULL CHECK (op IN ('create', 'update', 'retire')),
    data        jsonb NOT NULL,
    diff        jsonb NOT NULL,
    UNIQUE (layer, code, version)
);
CREATE INDEX feature_history_at_idx ON feature_history (layer, code, at);

-- Columns only the service computes: a change of these alone is the grading's.
CREATE OR REPLACE FUNCTION onemap_feature_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
    d jsonb;
    c text;
    v integer;
    how text := nullif(current_setting('onemap.via', true), '');
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD) - 'id' - 'created_at' - 'updated_at'
             || jsonb_build_object('geom', ST_AsGeoJSON(OLD.geom, 15)::jsonb);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW) - 'id' - 'created_at' - 'updated_at'
             || jsonb_build_object('geom', ST_AsGeoJSON(NEW.geom, 15)::jsonb);
    END IF;
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(o -> k, n -> k)), '{}'::jsonb)
      INTO d
      FROM (SELECT jsonb_object_keys(coalesce(n, o)) AS k) keys
     WHERE (n -> k) IS DISTINCT FROM (o -> k);
    IF d = '{}'::jsonb THEN
        RETURN NULL;
    END IF;
    IF how IS NULL THEN
        how := CASE WHEN TG_OP = 'UPDATE' AND NOT EXISTS (
                        SELECT 1 FROM jsonb_object_keys(d) k
                         WHERE k NOT IN ('current_level', 'current_r', 'level_changed_at',
                                         's_value', 'alpha', 'r_value', 'gb_grade'))
                    THEN 'grading' ELSE 'import' END;
    END IF;
    c := CASE WHEN TG_OP = 'DELETE' THEN OLD.code ELSE NEW.code END;
    SELECT coalesce(max(version), 0) + 1 INTO v
      FROM feature_history WHERE layer = TG_TABLE_NAME AND code = c;
    INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
    VALUES (TG_TABLE_NAME, c, v,
            nullif(current_setting('onemap.actor', true), ''),
            nullif(current_setting('onemap.actor_kind', true), ''),
            how,
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'retire' END,
            coalesce(n, o), d);
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['risk_units', 'hazard_sources', 'monitoring_points', 'lifelines',
                             'shelters', 'reserve_depots', 'capacity_enterprises',
                             'rescue_teams', 'broadcasts', 'vulnerable_sites'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION onemap_feature_history()',
                       t || '_history', t);
    END LOOP;
END $$;

-- ---------------------------------------------------------------- the app's role
-- Writes made for a scoped principal run as onemap_app (SET LOCAL ROLE in the
-- write's transaction): not the owner, not a superuser, no BYPASSRLS, so the
-- policies below hold for it whatever the route did. scripts/db-up creates the
-- role as the superuser; a migrating role with CREATEROLE (Docker's) makes it here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'onemap_app') THEN
        BEGIN
            CREATE ROLE onemap_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
                NOINHERIT;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'role onemap_app is missing and % may not create it', current_user
                USING HINT = 'run scripts/db-up (it creates the role as the superuser)';
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'onemap_app', 'MEMBER') THEN
        EXECUTE format('GRANT onemap_app TO %I', current_user);
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO onemap_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO onemap_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO onemap_app;
GRANT INSERT, UPDATE, DELETE ON risk_units, hazard_sources, monitoring_points, lifelines,
    shelters, reserve_depots, capacity_enterprises, rescue_teams, broadcasts, vulnerable_sites,
    hidden_hazards, hidden_hazard_events, accidents TO onemap_app;
GRANT INSERT ON feature_history, audit_log TO onemap_app;
GRANT INSERT, UPDATE ON event_fingerprints TO onemap_app;
GRANT DELETE ON risk_unit_exposure TO onemap_app;  -- a moved unit's cached exposure goes
GRANT INSERT, UPDATE ON layer_versions TO onemap_app;
-- tables later migrations create are readable by the app role too
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO onemap_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO onemap_app;

-- ---------------------------------------------------------------- scope
-- The organisation a write is made for: set per transaction by the app
-- (set_config('onemap.org', code, true)); unset or empty: city-wide (grading,
-- imports, system jobs, city-wide principals).
CREATE OR REPLACE FUNCTION onemap_scope_org() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('onemap.org', true), '')
$$;

-- May the transaction's organisation write a feature of this category and geometry?
-- City-wide: yes, except for the app role, which writes only for an organisation.
-- A department: features of its categories (category_departments), anywhere.
-- A district, zone or town: features whose geometry lies within its boundary.
CREATE OR REPLACE FUNCTION onemap_may_write(cat text, g geometry) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN onemap_scope_org() IS NULL THEN current_user <> 'onemap_app' ELSE EXISTS (
        SELECT 1 FROM organisations o
         WHERE o.code = onemap_scope_org()
           AND CASE WHEN o.kind = 'department'
                    THEN cat IS NOT NULL AND EXISTS (
                             SELECT 1 FROM category_departments c
                              WHERE c.category = cat AND c.department = o.code)
                    ELSE g IS NOT NULL AND ST_Covers(o.geom, g)
               END) END
$$;

-- The category of a risk unit (NULL for none): an event's category is its unit's.
CREATE OR REPLACE FUNCTION onemap_unit_category(unit bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT category FROM risk_units WHERE id = unit
$$;
