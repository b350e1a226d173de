-- onemap 0018: row-level security. Reads are city-wide (the one map is shared);
-- writes are scoped by onemap_may_write() to the organisation the app set for the
-- transaction. FORCE: the owner is bound too (unset organisation = city-wide).

DO $$
DECLARE
    t text;
    rule text;
BEGIN
    FOR t, rule IN VALUES
        ('risk_units', 'onemap_may_write(category, geom)'),
        ('hidden_hazards', 'onemap_may_write(onemap_unit_category(risk_unit_id), geom) '
                           'OR assignee = onemap_scope_org()'),
        ('accidents', 'onemap_may_write(onemap_unit_category(risk_unit_id), geom)'),
        ('hazard_sources', 'onemap_may_write(onemap_unit_category(risk_unit_id), geom)'),
        ('monitoring_points', 'onemap_may_write(onemap_unit_category(risk_unit_id), geom)'),
        ('lifelines', 'onemap_may_write(NULL, geom)'),
        ('shelters', 'onemap_may_write(NULL, geom)'),
        ('reserve_depots', 'onemap_may_write(NULL, geom)'),
        ('capacity_enterprises', 'onemap_may_write(NULL, geom)'),
        ('rescue_teams', 'onemap_may_write(NULL, geom)'),
        ('broadcasts', 'onemap_may_write(NULL, geom)'),
        ('vulnerable_sites', 'onemap_may_write(NULL, geom)')
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY onemap_read ON %I FOR SELECT USING (true)', t);
        EXECUTE format('CREATE POLICY onemap_insert ON %I FOR INSERT WITH CHECK (%s)', t, rule);
        EXECUTE format('CREATE POLICY onemap_update ON %I FOR UPDATE USING (%s) WITH CHECK (%s)',
                       t, rule, rule);
        EXECUTE format('CREATE POLICY onemap_delete ON %I FOR DELETE USING (%s)', t, rule);
    END LOOP;
END $$;
