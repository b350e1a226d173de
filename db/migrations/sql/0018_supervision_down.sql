-- onemap 0018 down: no policies, no history, users and keys lose their organisation.
-- The role onemap_app belongs to the cluster (other databases use it): it stays.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['risk_units', 'hidden_hazards', 'accidents', 'hazard_sources',
                             'monitoring_points', 'lifelines', 'shelters', 'reserve_depots',
                             'capacity_enterprises', 'rescue_teams', 'broadcasts',
                             'vulnerable_sites'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS onemap_read ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS onemap_insert ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS onemap_update ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS onemap_delete ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_history', t);
    END LOOP;
END $$;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM onemap_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM onemap_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM onemap_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM onemap_app;
REVOKE USAGE ON SCHEMA public FROM onemap_app;
DROP FUNCTION onemap_unit_category(bigint);
DROP FUNCTION onemap_may_write(text, geometry);
DROP FUNCTION onemap_scope_org();
DROP TABLE feature_history;
DROP FUNCTION onemap_feature_history();

DROP TRIGGER api_keys_changed ON api_keys;
CREATE TRIGGER api_keys_changed
    AFTER UPDATE OF revoked_at, role OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION onemap_api_keys_changed();
ALTER TABLE api_keys DROP COLUMN org;
ALTER TABLE users DROP COLUMN org;
