-- onemap 0033: readings are written in scope (issue 14: "writes are scoped").
--
-- A key of an organisation (a district's gateway, a department's) posts readings only
-- for the monitoring points it may write: the rule of 0018 for monitoring_points, its
-- unit's category for a department, its location for a district, zone or town. The
-- route checks the batch first (403 naming the scope, nothing written); the write
-- itself runs as onemap_app with the organisation set, so the policy below refuses a
-- reading outside the scope even when that check is skipped.
--
-- ENABLE without FORCE, unlike the other scoped tables: COPY FROM refuses any table
-- whose row-level security binds the caller, and the city-wide feed (the owner, no
-- organisation) stores its batches by binary COPY, the fast path of
-- docs/bench.md "Readings in". With FORCE the owner would be bound too; the policy
-- would let it in (an unset organisation is city-wide), but not by COPY. Scoped
-- batches never write as the owner: they switch to onemap_app, which the policy binds.

-- The monitoring points the transaction's organisation may write (onemap_may_write's
-- rule for monitoring_points, set-based: the policy builds it once per statement, a
-- hashed set, instead of a function call per reading). None when no organisation is
-- set: the app role writes only for an organisation.
CREATE OR REPLACE FUNCTION onemap_scope_points() RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT mp.id
      FROM organisations o
      JOIN monitoring_points mp
        ON CASE WHEN o.kind = 'department'
                THEN EXISTS (SELECT 1 FROM risk_units ru
                               JOIN category_departments c
                                 ON c.category = ru.category AND c.department = o.code
                              WHERE ru.id = mp.risk_unit_id)
                ELSE mp.geom IS NOT NULL AND ST_Covers(o.geom, mp.geom)
           END
     WHERE o.code = onemap_scope_org()
$$;

ALTER TABLE readings ENABLE ROW LEVEL SECURITY;
CREATE POLICY onemap_read ON readings FOR SELECT USING (true);
CREATE POLICY onemap_insert ON readings FOR INSERT
    WITH CHECK (point_id IN (SELECT onemap_scope_points()));
GRANT INSERT ON readings TO onemap_app;
