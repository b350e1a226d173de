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
