-- The coverage places snapped onto the new network: each population cell's centre and
-- each vulnerable site, onto the nearest drivable edge.
INSERT INTO road_snaps (what, id, g, edge, fraction, distance_m)
SELECT t.what, t.id, t.g, s.id, ST_LineLocatePoint(s.geom, t.g),
       ST_Distance(s.geom::geography, t.g::geography)
  FROM (SELECT 'cell' AS what, c.id, ST_PointOnSurface(c.geom) AS g FROM population_cells c
        UNION ALL
        SELECT 'site', v.id, v.geom FROM vulnerable_sites v) t
 CROSS JOIN LATERAL (
    SELECT r.id, r.geom FROM roads r WHERE NOT r.closed ORDER BY r.geom <-> t.g LIMIT 1) s
