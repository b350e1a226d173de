-- onemap 0036: the first grading's writes (issue 17 item 7).
--
-- 1. risk_units' write policies ask "may this transaction write anywhere?" once per
--    statement, not twice per row.
--
-- onemap_may_write(category, geom) (migration 0018) answers a city-wide writer (no
-- organisation set, not onemap_app) without looking at the row, but as a policy it is
-- evaluated for every row, in USING and again in WITH CHECK: 7 µs a row, 7 s of a first
-- grading's UPDATE of a million units (the grading engine writes city-wide). An
-- uncorrelated `(SELECT ...)` is an InitPlan: run once per statement, and OR stops there
-- when it holds. For a scoped writer it is false and onemap_may_write decides per row,
-- as before; the two arms together allow exactly what onemap_may_write alone allowed.

CREATE FUNCTION onemap_writes_citywide() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT onemap_scope_org() IS NULL AND current_user <> 'onemap_app'
$$;

ALTER POLICY onemap_insert ON risk_units
    WITH CHECK ((SELECT onemap_writes_citywide()) OR onemap_may_write(category, geom));
ALTER POLICY onemap_update ON risk_units
    USING ((SELECT onemap_writes_citywide()) OR onemap_may_write(category, geom))
    WITH CHECK ((SELECT onemap_writes_citywide()) OR onemap_may_write(category, geom));
ALTER POLICY onemap_delete ON risk_units
    USING ((SELECT onemap_writes_citywide()) OR onemap_may_write(category, geom));

-- 2. A regrade writes its features' versions itself. The history trigger (migrations
--    0018, 0026, 0032) cannot know which columns an UPDATE set, so for each statement it
--    joins the whole rows before and after and compares every column: for the first
--    grading of a million units that was 26 s of comparing rows that the regrade's own
--    SQL knows are unchanged but for the grade. The regrade's statements (first.sql,
--    apply.sql) set only current_level, current_r and level_changed_at, and write the
--    same compact versions the trigger writes (api/grading/sql/versions.sql; a test
--    compares the two row for row); the engine sets onemap.history_written for that
--    statement alone (SET LOCAL before, reset after: api/grading/engine.py). Every other
--    writer, and any statement without the setting, is versioned by the trigger as before.
CREATE OR REPLACE FUNCTION onemap_feature_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- the layer as text: TG_TABLE_NAME is a `name` (collation "C"), and compared with
    -- feature_history.layer it could not use the (layer, code, version) key
    v_layer text := TG_TABLE_NAME;
    v_via text := nullif(current_setting('onemap.via', true), '');
    v_actor text := nullif(current_setting('onemap.actor', true), '');
    v_kind text := nullif(current_setting('onemap.actor_kind', true), '');
    v_sql text;
    v_compact text[] := '{}';
BEGIN
    -- a regrade's statement that changed only the computed columns and wrote its own
    -- compact versions (api/grading/sql/versions.sql) says so for itself alone
    IF TG_OP = 'UPDATE' AND current_setting('onemap.history_written', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
        SELECT v_layer, r.code, coalesce(m.v, 0) + 1,
               v_actor, v_kind, coalesce(v_via, 'import'), 'create',
               to_jsonb(r) - 'id' - 'created_at' - 'updated_at'
                   || jsonb_build_object('geom', ST_AsGeoJSON(r.geom, 15)::jsonb),
               '{}'::jsonb
          FROM new_rows r
          LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                      WHERE h.layer = v_layer AND h.code IN (SELECT code FROM new_rows)
                      GROUP BY h.code) m ON m.code = r.code;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
        SELECT v_layer, r.code, coalesce(m.v, 0) + 1,
               v_actor, v_kind, coalesce(v_via, 'import'), 'retire',
               to_jsonb(r) - 'id' - 'created_at' - 'updated_at'
                   || jsonb_build_object('geom', ST_AsGeoJSON(r.geom, 15)::jsonb),
               '{}'::jsonb
          FROM old_rows r
          LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                      WHERE h.layer = v_layer AND h.code IN (SELECT code FROM old_rows)
                      GROUP BY h.code) m ON m.code = r.code;
    ELSE
        -- rows whose computed columns alone changed: a compact version each
        v_sql := onemap_history_update_sql(TG_RELID);
        IF v_sql IS NOT NULL THEN
            EXECUTE v_sql INTO v_compact USING v_layer, v_actor, v_kind, v_via;
            IF cardinality(v_compact) = (SELECT count(*) FROM new_rows) THEN
                RETURN NULL;  -- a regrade's statement: nothing else changed
            END IF;
        END IF;
        -- the others: the whole row after the change, and the fields that changed. Each
        -- row's JSON and its diff are built once (MATERIALIZED); the geometry is compared
        -- as EWKB and turned into GeoJSON only where it changed.
        INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
        WITH pairs AS MATERIALIZED (
            SELECT nr.code,
                   to_jsonb(orow) - 'id' - 'created_at' - 'updated_at' - 'geom' AS o,
                   to_jsonb(nr) - 'id' - 'created_at' - 'updated_at' - 'geom' AS n,
                   orow.geom AS og, nr.geom AS ng
              FROM old_rows orow
              JOIN new_rows nr ON nr.id = orow.id
             WHERE NOT EXISTS (SELECT 1 FROM unnest(v_compact) c (code) WHERE c.code = nr.code)
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
        SELECT v_layer, x.code, coalesce(m.v, 0) + 1,
               v_actor, v_kind,
               coalesce(v_via, CASE WHEN NOT EXISTS (
                                      SELECT 1 FROM jsonb_object_keys(x.d) k
                                       WHERE NOT k = ANY (onemap_history_computed()))
                                  THEN 'grading' ELSE 'import' END),
               'update', x.n, x.d
          FROM x
          LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                      WHERE h.layer = v_layer AND h.code IN (SELECT code FROM x)
                      GROUP BY h.code) m ON m.code = x.code
         WHERE x.d <> '{}'::jsonb;
    END IF;
    RETURN NULL;
END $$;

-- 3. The updated_at trigger stands aside for a statement that sets updated_at itself (the
--    regrade's statements, the importer's upsert: both set it to now()): its WHEN is
--    evaluated in the executor, not a PL/pgSQL call a row (1.5 s of the first grading of
--    a million units). Any other UPDATE is touched as before. For every layer that has
--    the trigger, and for layers registered later.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT t.tgname, t.tgrelid::regclass AS tbl
               FROM pg_trigger t
              WHERE t.tgfoid = 'onemap_touch_updated_at'::regproc AND NOT t.tgisinternal
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, r.tbl);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
                       'WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) '
                       'EXECUTE FUNCTION onemap_touch_updated_at()', r.tgname, r.tbl);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION onemap_register_layer(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text := tbl::text;
BEGIN
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
                   'WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) '
                   'EXECUTE FUNCTION onemap_touch_updated_at()', t || '_touch', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_ins', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_upd', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_del', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_trunc', tbl);
    INSERT INTO layer_versions (layer) VALUES (t) ON CONFLICT DO NOTHING;
END $$;
