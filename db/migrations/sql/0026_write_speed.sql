-- onemap 0026: the write path's speed.
--
-- A regrade changes only the computed columns of a feature (its level, R, when the level
-- changed; GB 18218 results of a hazard source). Such a version is kept *compactly*:
-- `data` holds only the computed columns after the change, `compact` says so, and the
-- diff names what moved. A feature's full row at a version is the last full version's
-- data overlaid with the last compact version's after it (onemap_feature_data). Before,
-- every version carried the whole row as JSON (geometry as GeoJSON), built twice per row
-- (before and after) and diffed key by key: ~1 ms a row, ~1,000 s for the first grading
-- of a million units. Rows whose other columns changed too keep the full path.

ALTER TABLE feature_history ADD COLUMN compact boolean NOT NULL DEFAULT false;

-- The columns grading (and the GB 18218 refresh) computes, and those never compared.
CREATE OR REPLACE FUNCTION onemap_history_computed() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['current_level', 'current_r', 'level_changed_at', 's_value', 'alpha',
                 'r_value', 'gb_grade']
$$;

-- The statement that splits an UPDATE's rows into compact (computed columns only) and
-- full versions, for one table: built from the catalog, so a column added later is
-- compared too. Values are compared as text (any type has one; geometry's is its EWKB).
CREATE OR REPLACE FUNCTION onemap_history_update_sql(tbl regclass) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_cmp_o text;
    v_cmp_n text;
    v_data text;
    v_diff text;
BEGIN
    SELECT string_agg(format('o.%I::text', a.attname), ', ' ORDER BY a.attnum)
                FILTER (WHERE NOT a.attname = ANY (onemap_history_computed())),
           string_agg(format('n.%I::text', a.attname), ', ' ORDER BY a.attnum)
                FILTER (WHERE NOT a.attname = ANY (onemap_history_computed())),
           string_agg(format('%L, to_jsonb(n.%I)', a.attname, a.attname), ', ' ORDER BY a.attnum)
                FILTER (WHERE a.attname = ANY (onemap_history_computed())),
           string_agg(format('CASE WHEN o.%1$I IS DISTINCT FROM n.%1$I THEN jsonb_build_object('
                             '%1$L, jsonb_build_array(to_jsonb(o.%1$I), to_jsonb(n.%1$I))) '
                             'ELSE ''{}''::jsonb END', a.attname), ' || ' ORDER BY a.attnum)
                FILTER (WHERE a.attname = ANY (onemap_history_computed()))
      INTO v_cmp_o, v_cmp_n, v_data, v_diff
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('id', 'created_at', 'updated_at');
    IF v_data IS NULL THEN  -- a table without computed columns: every version is full
        RETURN NULL;
    END IF;
    -- $1 layer, $2 actor, $3 actor kind, $4 via
    -- $1 layer, $2 actor, $3 actor kind, $4 via; the codes of the compact rows (written
    -- or unchanged) come back, so the full path skips them
    RETURN format($f$
        WITH j AS MATERIALIZED (
            -- the test in the select list, not the join: as a join filter its estimate
            -- (one row) made the planner loop over a million rows
            SELECT n.code, jsonb_build_object(%s) AS data, %s AS diff,
                   ROW(%s) IS NOT DISTINCT FROM ROW(%s) AS same
              FROM old_rows o JOIN new_rows n ON n.id = o.id
        ), c AS MATERIALIZED (
            SELECT j.code, j.data, j.diff FROM j WHERE j.same
        ), ins AS (
            INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op,
                                         data, diff, compact)
            SELECT $1, c.code, coalesce(m.v, 0) + 1, $2, $3, coalesce($4, 'grading'),
                   'update', c.data, c.diff, true
              FROM c
              LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                          WHERE h.layer = $1 AND h.code IN (SELECT code FROM c)
                          GROUP BY h.code) m ON m.code = c.code
             WHERE c.diff <> '{}'::jsonb
        )
        SELECT coalesce(array_agg(c.code), '{}') FROM c
    $f$, v_data, v_diff, v_cmp_o, v_cmp_n);
END $$;

CREATE OR REPLACE FUNCTION onemap_feature_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_via text := nullif(current_setting('onemap.via', true), '');
    v_actor text := nullif(current_setting('onemap.actor', true), '');
    v_kind text := nullif(current_setting('onemap.actor_kind', true), '');
    v_sql text;
    v_compact text[] := '{}';
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
        -- rows whose computed columns alone changed: a compact version each
        v_sql := onemap_history_update_sql(TG_RELID);
        IF v_sql IS NOT NULL THEN
            EXECUTE v_sql INTO v_compact USING TG_TABLE_NAME, v_actor, v_kind, v_via;
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
        SELECT TG_TABLE_NAME, x.code, coalesce(m.v, 0) + 1,
               v_actor, v_kind,
               coalesce(v_via, CASE WHEN NOT EXISTS (
                                      SELECT 1 FROM jsonb_object_keys(x.d) k
                                       WHERE NOT k = ANY (onemap_history_computed()))
                                  THEN 'grading' ELSE 'import' END),
               'update', x.n, x.d
          FROM x
          LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                      WHERE h.layer = TG_TABLE_NAME AND h.code IN (SELECT code FROM x)
                      GROUP BY h.code) m ON m.code = x.code
         WHERE x.d <> '{}'::jsonb;
    END IF;
    RETURN NULL;
END $$;

-- A feature's whole row at one version, as `data` of a full version holds it: the last
-- full version up to it, overlaid with the last compact version after that (a compact
-- version holds every computed column, so the newest one is enough). NULL when there is
-- no such version.
CREATE OR REPLACE FUNCTION onemap_feature_data(p_layer text, p_code text, p_version integer)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT f.data || coalesce((SELECT c.data FROM feature_history c
                                WHERE c.layer = p_layer AND c.code = p_code
                                  AND c.version > f.version AND c.version <= p_version
                                  AND c.compact
                                ORDER BY c.version DESC LIMIT 1), '{}'::jsonb)
      FROM feature_history f
     WHERE f.layer = p_layer AND f.code = p_code AND f.version <= p_version AND NOT f.compact
     ORDER BY f.version DESC
     LIMIT 1
$$;

-- ---------------------------------------------------------------- explanations in SQL
-- Pieces of api/grading/sql/explain.sql, the set-based twin of Grade.to_json.

-- A time as Python's isoformat writes one read from the database (UTC; microseconds
-- only when there are some).
CREATE OR REPLACE FUNCTION onemap_iso(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN extract(microseconds FROM t)::bigint % 1000000 <> 0
                   THEN to_char(t AT TIME ZONE 'UTC', '.US') ELSE '' END
           || '+00:00'
$$;

-- An alarm as an explanation's factor lists it.
CREATE OR REPLACE FUNCTION onemap_alarm_record(id text, point text, level integer,
                                               since timestamptz, until timestamptz)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('type', 'alarm', 'id', id, 'point', point, 'level', level,
                              'since', onemap_iso(since), 'until', onemap_iso(until))
$$;

-- A floor rule as an explanation lists it (fired when it holds a level).
CREATE OR REPLACE FUNCTION onemap_floor(code text, level text, reason text, reason_zh text,
                                        records json)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$  -- as json_build_object: so it is inlined
    SELECT json_build_object('code', code, 'fired', level IS NOT NULL, 'level', level,
                              'reason', reason,
                              'reason_i18n', json_build_object('zh', reason_zh, 'en', reason),
                              'records', records)
$$;
