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
