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

-- Statement triggers with transition tables: one set-based INSERT per statement, so a
-- bulk import of 30,000 rows costs one pass, not 30,000 trigger calls. A create keeps
-- the row and an empty diff (the history route shows every field as new); an update
-- keeps the fields that changed; a change of the computed columns alone (level, R,
-- GB 18218 results) is the grading's unless the transaction says otherwise.
CREATE OR REPLACE FUNCTION onemap_feature_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_via text := nullif(current_setting('onemap.via', true), '');
    v_actor text := nullif(current_setting('onemap.actor', true), '');
    v_kind text := nullif(current_setting('onemap.actor_kind', true), '');
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
        SELECT TG_TABLE_NAME, r.code, coalesce(m.v, 0) + 1,
               v_actor, v_kind, coalesce(v_via, 'import'), 'create',
               to_jsonb(r) - 'id' - 'created_at' - 'updated_at'
                   || jsonb_build_object('geom', ST_AsGeoJSON(r.geom, 15)::jsonb),
               '{}'::jsonb
          FROM new_rows r
          LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                      WHERE h.layer = TG_TABLE_NAME AND h.code IN (SELECT code FROM new_rows)
                      GROUP BY h.code) m ON m.code = r.code;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
        SELECT TG_TABLE_NAME, r.code, coalesce(m.v, 0) + 1,
               v_actor, v_kind, coalesce(v_via, 'import'), 'retire',
               to_jsonb(r) - 'id' - 'created_at' - 'updated_at'
                   || jsonb_build_object('geom', ST_AsGeoJSON(r.geom, 15)::jsonb),
               '{}'::jsonb
          FROM old_rows r
          LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                      WHERE h.layer = TG_TABLE_NAME AND h.code IN (SELECT code FROM old_rows)
                      GROUP BY h.code) m ON m.code = r.code;
    ELSE
        -- Each row's JSON and its diff are built once (MATERIALIZED): inlined, the
        -- lateral JSON was rebuilt for every reference (a full regrade of the demo's
        -- 3,176 units took 148 s in this trigger instead of under a second). The
        -- geometry is compared as EWKB and turned into GeoJSON only where it changed.
        INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
        WITH pairs AS MATERIALIZED (
            SELECT nr.code,
                   to_jsonb(orow) - 'id' - 'created_at' - 'updated_at' - 'geom' AS o,
                   to_jsonb(nr) - 'id' - 'created_at' - 'updated_at' - 'geom' AS n,
                   orow.geom AS og, nr.geom AS ng
              FROM old_rows orow
              JOIN new_rows nr ON nr.id = orow.id
        ), x AS MATERIALIZED (
            SELECT p.code,
                   p.n || jsonb_build_object('geom', ST_AsGeoJSON(p.ng, 15)::jsonb) AS n,
                   (SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(p.o -> k, p.n -> k)),
                                    '{}'::jsonb)
                      FROM jsonb_object_keys(p.n) k
                     WHERE (p.n -> k) IS DISTINCT FROM (p.o -> k))
                   || CASE WHEN ST_AsEWKB(p.og) IS DISTINCT FROM ST_AsEWKB(p.ng)
                           THEN jsonb_build_object('geom', jsonb_build_array(
                                    ST_AsGeoJSON(p.og, 15)::jsonb, ST_AsGeoJSON(p.ng, 15)::jsonb))
                           ELSE '{}'::jsonb END AS d
              FROM pairs p
        )
        SELECT TG_TABLE_NAME, x.code, coalesce(m.v, 0) + 1,
               v_actor, v_kind,
               coalesce(v_via, CASE WHEN NOT EXISTS (
                                      SELECT 1 FROM jsonb_object_keys(x.d) k
                                       WHERE k NOT IN ('current_level', 'current_r',
                                                       'level_changed_at', 's_value', 'alpha',
                                                       'r_value', 'gb_grade'))
                                  THEN 'grading' ELSE 'import' END),
               'update', x.n, x.d
          FROM x
          LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                      WHERE h.layer = TG_TABLE_NAME AND h.code IN (SELECT code FROM new_rows)
                      GROUP BY h.code) m ON m.code = x.code
         WHERE x.d <> '{}'::jsonb;
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['risk_units', 'hazard_sources', 'monitoring_points', 'lifelines',
                             'shelters', 'reserve_depots', 'capacity_enterprises',
                             'rescue_teams', 'broadcasts', 'vulnerable_sites'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onemap_feature_history()',
                       t || '_history_ins', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I '
                       'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onemap_feature_history()',
                       t || '_history_upd', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onemap_feature_history()',
                       t || '_history_del', t);
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
