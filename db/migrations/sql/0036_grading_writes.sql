-- onemap 0036: risk_units' write policies ask "may this transaction write anywhere?"
-- once per statement, not twice per row.
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
