-- The demo city's municipal fire hydrants with pressure monitoring (demo-synthetic), placed at
-- load time on the demo road network: the midpoint of every fourth (in code order) primary or
-- secondary road edge whose midpoint lies in a built-up population cell (5,000 residents per
-- km² or more). Each is a monitoring point of kind fire_hydrant_pressure (MPa, alarming on a
-- drop): level 4 below 0.14 MPa, the least normal working pressure of a municipal network
-- with hydrants (GB 50974-2014 7.2.8), level 3 below 0.10 MPa (the least pressure at the
-- hydrant in a fire, same clause), levels 2 and 1 below 0.07 and 0.05 MPa (demo values).
-- Codes FH000001..; existing codes are left as they are, so a second run adds nothing.
WITH built AS (
    SELECT geom FROM population_cells
     WHERE population / (ST_Area(geom::geography) / 1e6) >= 5000
), edge AS (
    SELECT r.code, r.name, ST_LineInterpolatePoint(r.geom, 0.5) AS at,
           row_number() OVER (ORDER BY r.code) AS n
      FROM roads r
     WHERE r.road_class IN ('primary', 'secondary')
       AND EXISTS (SELECT 1 FROM built c
                    WHERE c.geom && r.geom
                      AND ST_Covers(c.geom, ST_LineInterpolatePoint(r.geom, 0.5)))
), pick AS (
    SELECT e.*, row_number() OVER (ORDER BY e.code) AS k,
           (SELECT d.code FROM districts d WHERE ST_Covers(d.geom, e.at) ORDER BY d.code LIMIT 1)
               AS district
      FROM edge e WHERE e.n % 4 = 0
)
INSERT INTO monitoring_points (code, name, district, kind, domain, unit, direction,
                               threshold_l4, threshold_l3, threshold_l2, threshold_l1,
                               expected_interval_s, source, geom)
SELECT 'FH' || lpad(k::text, 6, '0'),
       coalesce(nullif(name, ''), '道路') || '市政消火栓' || k,
       district, 'fire_hydrant_pressure', 'public_safety', 'MPa', 'below',
       0.14, 0.10, 0.07, 0.05, 900, 'demo-synthetic', at
  FROM pick
 WHERE district IS NOT NULL
ON CONFLICT (code) DO NOTHING;
