-- onemap 0025: weather warnings, special periods and alarms are written in scope, as
-- units, hidden hazards and accidents are (0018's row-level security).
--
-- The rule (onemap_may_write(NULL, geom)):
--   * city-wide (onemap.org unset): every warning and period, as today;
--   * a district, zone or town: a warning or period whose area lies within its boundary
--     (ST_Covers). An area that crosses its boundary, a citywide period (no area) and a
--     warning over several districts are city-wide work: the city's integrator issues them;
--   * a department: none. Warnings and periods have no risk category, so no trade to key
--     on (accidents do: their unit's category, 0018's policy).
-- Reads stay city-wide. FORCE binds the owner too (unset organisation = city-wide).

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['weather_warnings', 'special_periods'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY onemap_read ON %I FOR SELECT USING (true)', t);
        EXECUTE format('CREATE POLICY onemap_insert ON %I FOR INSERT '
                       'WITH CHECK (onemap_may_write(NULL, geom))', t);
        EXECUTE format('CREATE POLICY onemap_update ON %I FOR UPDATE '
                       'USING (onemap_may_write(NULL, geom)) '
                       'WITH CHECK (onemap_may_write(NULL, geom))', t);
        EXECUTE format('CREATE POLICY onemap_delete ON %I FOR DELETE '
                       'USING (onemap_may_write(NULL, geom))', t);
    END LOOP;
END $$;

GRANT INSERT, UPDATE ON weather_warnings, special_periods TO onemap_app;

-- Alarms: a scoped integrator confirms false alarms on its ground (or of its categories).
-- The feed's own writes run city-wide as the owner: the first branch answers them
-- without evaluating the scope (OR stops at the first true), so ingest pays nothing.
ALTER TABLE alarms ENABLE ROW LEVEL SECURITY;
ALTER TABLE alarms FORCE ROW LEVEL SECURITY;
CREATE POLICY onemap_read ON alarms FOR SELECT USING (true);
CREATE POLICY onemap_insert ON alarms FOR INSERT WITH CHECK (
    (onemap_scope_org() IS NULL AND current_user <> 'onemap_app')
    OR onemap_may_write(onemap_unit_category(risk_unit_id), geom));
CREATE POLICY onemap_update ON alarms FOR UPDATE
    USING ((onemap_scope_org() IS NULL AND current_user <> 'onemap_app')
           OR onemap_may_write(onemap_unit_category(risk_unit_id), geom))
    WITH CHECK ((onemap_scope_org() IS NULL AND current_user <> 'onemap_app')
                OR onemap_may_write(onemap_unit_category(risk_unit_id), geom));
CREATE POLICY onemap_delete ON alarms FOR DELETE USING (
    (onemap_scope_org() IS NULL AND current_user <> 'onemap_app')
    OR onemap_may_write(onemap_unit_category(risk_unit_id), geom));
GRANT UPDATE ON alarms TO onemap_app;

-- ---------------------------------------------------------------- retirement keeps links
-- DELETE /layers/{layer}/features/{code} retires a feature: its row goes (it leaves every
-- map, query and tile) and its versions stay in feature_history. What pointed at it
-- (a unit's hazard sources, monitoring points, hidden hazards, accidents, alarms and
-- grade history; a point's alarms and readings) loses the link (ON DELETE SET NULL),
-- and the link is remembered here, so a restore (or an import) that re-creates the
-- code links them again: the restored unit has its hazards, accidents and grades back.
-- (A point's liveness and offline periods are the feed's; they start again.)
CREATE TABLE retired_links (
    layer       text NOT NULL,
    code        text NOT NULL,
    child       text NOT NULL,
    child_id    bigint NOT NULL,
    retired_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, child, child_id)
);
CREATE INDEX retired_links_code_idx ON retired_links (layer, code);

-- The parts of a retired feature that went with it (ON DELETE CASCADE: a hazard
-- source's substances, a depot's stock, an enterprise's capacity), kept as they were
-- and put back when the code is re-created.
CREATE TABLE retired_rows (
    layer       text NOT NULL,
    code        text NOT NULL,
    child       text NOT NULL,
    data        jsonb NOT NULL,
    retired_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retired_rows_code_idx ON retired_rows (layer, code);

-- the grade history of a retired unit stays (it was deleted with the unit)
ALTER TABLE grade_history ALTER COLUMN risk_unit_id DROP NOT NULL;
ALTER TABLE grade_history DROP CONSTRAINT grade_history_risk_unit_id_fkey;
ALTER TABLE grade_history ADD CONSTRAINT grade_history_risk_unit_id_fkey
    FOREIGN KEY (risk_unit_id) REFERENCES risk_units (id) ON DELETE SET NULL;
-- a point's alarms stay when the point is retired (the delete was refused)
ALTER TABLE alarms ALTER COLUMN point_id DROP NOT NULL;
ALTER TABLE alarms DROP CONSTRAINT alarms_point_id_fkey;
ALTER TABLE alarms ADD CONSTRAINT alarms_point_id_fkey
    FOREIGN KEY (point_id) REFERENCES monitoring_points (id) ON DELETE SET NULL;

-- Before a unit or a point goes: remember who pointed at it. SECURITY DEFINER: a scoped
-- editor's retirement records them too (retired_links is no one's to write directly).
CREATE OR REPLACE FUNCTION onemap_remember_links() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'risk_units' THEN
        INSERT INTO retired_links (layer, code, child, child_id)
        SELECT 'risk_units', OLD.code, c.child, c.id
          FROM (SELECT 'hazard_sources' AS child, id FROM hazard_sources
                 WHERE risk_unit_id = OLD.id
                UNION ALL SELECT 'monitoring_points', id FROM monitoring_points
                 WHERE risk_unit_id = OLD.id
                UNION ALL SELECT 'hidden_hazards', id FROM hidden_hazards
                 WHERE risk_unit_id = OLD.id
                UNION ALL SELECT 'accidents', id FROM accidents WHERE risk_unit_id = OLD.id
                UNION ALL SELECT 'alarms', id FROM alarms WHERE risk_unit_id = OLD.id
                UNION ALL SELECT 'grade_history', id FROM grade_history
                 WHERE risk_unit_id = OLD.id) c
        ON CONFLICT (layer, child, child_id) DO UPDATE
            SET code = excluded.code, retired_at = excluded.retired_at;
    ELSIF TG_TABLE_NAME = 'hazard_sources' THEN
        DELETE FROM retired_rows WHERE layer = TG_TABLE_NAME AND code = OLD.code;
        INSERT INTO retired_rows (layer, code, child, data)
        SELECT TG_TABLE_NAME, OLD.code, 'hazard_substances', to_jsonb(c) - 'hazard_source_id'
          FROM hazard_substances c WHERE c.hazard_source_id = OLD.id;
    ELSIF TG_TABLE_NAME = 'reserve_depots' THEN
        DELETE FROM retired_rows WHERE layer = TG_TABLE_NAME AND code = OLD.code;
        INSERT INTO retired_rows (layer, code, child, data)
        SELECT TG_TABLE_NAME, OLD.code, 'depot_stock', to_jsonb(c) - 'depot_id'
          FROM depot_stock c WHERE c.depot_id = OLD.id;
    ELSIF TG_TABLE_NAME = 'capacity_enterprises' THEN
        DELETE FROM retired_rows WHERE layer = TG_TABLE_NAME AND code = OLD.code;
        INSERT INTO retired_rows (layer, code, child, data)
        SELECT TG_TABLE_NAME, OLD.code, 'enterprise_capacity', to_jsonb(c) - 'enterprise_id'
          FROM enterprise_capacity c WHERE c.enterprise_id = OLD.id;
    ELSE  -- monitoring_points: its alarms, and its readings (keyed by the old id)
        INSERT INTO retired_links (layer, code, child, child_id)
        SELECT 'monitoring_points', OLD.code, 'alarms', id FROM alarms WHERE point_id = OLD.id
        UNION ALL SELECT 'monitoring_points', OLD.code, 'readings', OLD.id
        ON CONFLICT (layer, child, child_id) DO UPDATE
            SET code = excluded.code, retired_at = excluded.retired_at;
    END IF;
    RETURN OLD;
END $$;

-- After a unit or point is (re-)created: link again what pointed at its code, where
-- nothing else has taken the link since.
CREATE OR REPLACE FUNCTION onemap_relink_retired() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM retired_links l JOIN new_rows n ON n.code = l.code
                    WHERE l.layer = TG_TABLE_NAME)
       AND NOT EXISTS (SELECT 1 FROM retired_rows l JOIN new_rows n ON n.code = l.code
                        WHERE l.layer = TG_TABLE_NAME) THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'hazard_sources' THEN
        INSERT INTO hazard_substances OVERRIDING SYSTEM VALUE
        SELECT (jsonb_populate_record(NULL::hazard_substances,
                                      l.data || jsonb_build_object('hazard_source_id', n.id))).*
          FROM retired_rows l JOIN new_rows n ON n.code = l.code
         WHERE l.layer = TG_TABLE_NAME
        ON CONFLICT DO NOTHING;
    ELSIF TG_TABLE_NAME = 'reserve_depots' THEN
        INSERT INTO depot_stock OVERRIDING SYSTEM VALUE
        SELECT (jsonb_populate_record(NULL::depot_stock,
                                      l.data || jsonb_build_object('depot_id', n.id))).*
          FROM retired_rows l JOIN new_rows n ON n.code = l.code
         WHERE l.layer = TG_TABLE_NAME
        ON CONFLICT DO NOTHING;
    ELSIF TG_TABLE_NAME = 'capacity_enterprises' THEN
        INSERT INTO enterprise_capacity OVERRIDING SYSTEM VALUE
        SELECT (jsonb_populate_record(NULL::enterprise_capacity,
                                      l.data || jsonb_build_object('enterprise_id', n.id))).*
          FROM retired_rows l JOIN new_rows n ON n.code = l.code
         WHERE l.layer = TG_TABLE_NAME
        ON CONFLICT DO NOTHING;
    ELSIF TG_TABLE_NAME = 'risk_units' THEN
        UPDATE hazard_sources c SET risk_unit_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'risk_units' AND l.child = 'hazard_sources' AND c.id = l.child_id
           AND c.risk_unit_id IS NULL;
        UPDATE monitoring_points c SET risk_unit_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'risk_units' AND l.child = 'monitoring_points' AND c.id = l.child_id
           AND c.risk_unit_id IS NULL;
        UPDATE hidden_hazards c SET risk_unit_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'risk_units' AND l.child = 'hidden_hazards' AND c.id = l.child_id
           AND c.risk_unit_id IS NULL;
        UPDATE accidents c SET risk_unit_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'risk_units' AND l.child = 'accidents' AND c.id = l.child_id
           AND c.risk_unit_id IS NULL;
        UPDATE alarms c SET risk_unit_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'risk_units' AND l.child = 'alarms' AND c.id = l.child_id
           AND c.risk_unit_id IS NULL;
        UPDATE grade_history c SET risk_unit_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'risk_units' AND l.child = 'grade_history' AND c.id = l.child_id
           AND c.risk_unit_id IS NULL;
    ELSE
        UPDATE alarms c SET point_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'monitoring_points' AND l.child = 'alarms' AND c.id = l.child_id
           AND c.point_id IS NULL;
        UPDATE readings r SET point_id = n.id FROM retired_links l
          JOIN new_rows n ON n.code = l.code
         WHERE l.layer = 'monitoring_points' AND l.child = 'readings'
           AND r.point_id = l.child_id
           AND NOT EXISTS (SELECT 1 FROM monitoring_points p WHERE p.id = l.child_id);
    END IF;
    DELETE FROM retired_links l USING new_rows n
     WHERE l.layer = TG_TABLE_NAME AND l.code = n.code;
    DELETE FROM retired_rows l USING new_rows n
     WHERE l.layer = TG_TABLE_NAME AND l.code = n.code;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['risk_units', 'monitoring_points', 'hazard_sources',
                             'reserve_depots', 'capacity_enterprises'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION onemap_remember_links()', t || '_remember_links', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onemap_relink_retired()',
                       t || '_relink', t);
    END LOOP;
END $$;
