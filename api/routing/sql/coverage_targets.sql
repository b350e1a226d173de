-- The places coverage counts, where they lie on the network: population cells by their
-- centre and vulnerable sites, each on an edge at a fraction; the snap the last build stored
-- (road_snaps), else (a place added or moved since) snapped now. A place farther than $1 m
-- from any road is left out (never reached). Three arrays: is a cell, id, edge, fraction.
-- $1 snap cap (m)
WITH targets AS (
    SELECT 'cell' AS what, c.id, ST_PointOnSurface(c.geom) AS g FROM population_cells c
    UNION ALL
    SELECT 'site', v.id, v.geom FROM vulnerable_sites v
), missing AS MATERIALIZED (
    SELECT t.* FROM targets t
     WHERE NOT EXISTS (SELECT 1 FROM road_snaps o WHERE o.what = t.what AND o.id = t.id
                          AND ST_OrderingEquals(o.g, t.g))
), snapped AS (
    -- the stored snap of the place as it is now
    SELECT t.what, t.id, c.edge, c.fraction
      FROM targets t
      JOIN road_snaps c ON c.what = t.what AND c.id = t.id AND ST_OrderingEquals(c.g, t.g)
     WHERE c.distance_m <= $1
    UNION ALL
    -- a place with no stored snap (added or moved since the build): the nearest road now,
    -- searched for these places only (`missing` is made first)
    SELECT t.what, t.id, s.edge, s.fraction
      FROM missing t
     CROSS JOIN LATERAL (
        SELECT n.id AS edge, ST_LineLocatePoint(n.geom, t.g) AS fraction
          FROM (SELECT r.id, r.geom FROM roads r WHERE NOT r.closed
                 ORDER BY r.geom <-> t.g LIMIT 1) n
         WHERE ST_DWithin(n.geom::geography, t.g::geography, $1)) s
)
SELECT coalesce(array_agg(what = 'cell'), '{}') AS cell, coalesce(array_agg(id), '{}') AS id,
       coalesce(array_agg(edge), '{}') AS edge, coalesce(array_agg(fraction), '{}') AS fraction
  FROM snapped
