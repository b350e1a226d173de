-- onemap 0025 down: weather warnings and special periods are city-wide writes again.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['weather_warnings', 'special_periods', 'alarms'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS onemap_read ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS onemap_insert ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS onemap_update ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS onemap_delete ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END $$;
REVOKE INSERT, UPDATE ON weather_warnings, special_periods FROM onemap_app;
REVOKE UPDATE ON alarms FROM onemap_app;

DROP TRIGGER risk_units_remember_links ON risk_units;
DROP TRIGGER risk_units_relink ON risk_units;
DROP TRIGGER monitoring_points_remember_links ON monitoring_points;
DROP TRIGGER monitoring_points_relink ON monitoring_points;
DROP TRIGGER hazard_sources_remember_links ON hazard_sources;
DROP TRIGGER hazard_sources_relink ON hazard_sources;
DROP TRIGGER reserve_depots_remember_links ON reserve_depots;
DROP TRIGGER reserve_depots_relink ON reserve_depots;
DROP TRIGGER capacity_enterprises_remember_links ON capacity_enterprises;
DROP TRIGGER capacity_enterprises_relink ON capacity_enterprises;
DROP FUNCTION onemap_relink_retired();
DROP FUNCTION onemap_remember_links();
DROP TABLE retired_links;
DROP TABLE retired_rows;
DELETE FROM grade_history WHERE risk_unit_id IS NULL;
ALTER TABLE grade_history DROP CONSTRAINT grade_history_risk_unit_id_fkey;
ALTER TABLE grade_history ADD CONSTRAINT grade_history_risk_unit_id_fkey
    FOREIGN KEY (risk_unit_id) REFERENCES risk_units (id) ON DELETE CASCADE;
ALTER TABLE grade_history ALTER COLUMN risk_unit_id SET NOT NULL;
DELETE FROM alarms WHERE point_id IS NULL;
ALTER TABLE alarms DROP CONSTRAINT alarms_point_id_fkey;
ALTER TABLE alarms ADD CONSTRAINT alarms_point_id_fkey
    FOREIGN KEY (point_id) REFERENCES monitoring_points (id);
ALTER TABLE alarms ALTER COLUMN point_id SET NOT NULL;
