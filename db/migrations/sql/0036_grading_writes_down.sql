ALTER POLICY onemap_insert ON risk_units WITH CHECK (onemap_may_write(category, geom));
ALTER POLICY onemap_update ON risk_units
    USING (onemap_may_write(category, geom)) WITH CHECK (onemap_may_write(category, geom));
ALTER POLICY onemap_delete ON risk_units USING (onemap_may_write(category, geom));
DROP FUNCTION onemap_writes_citywide();
