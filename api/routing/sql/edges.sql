-- Edges: one per noded line of positive length, with its vertices, geodesic length and
-- travel times in seconds (negative: not that way; one-way lines run as drawn). The speed:
-- the line's own, else the override for its class, else road_speeds (else class `road`).
-- $1 origin   $2 speed overrides {class: km/h} (jsonb)
WITH e AS MATERIALIZED (
    SELECT e.*, ST_Length(e.geom::geography) AS m,
           coalesce(e.speed_kmh, ($2::jsonb ->> e.road_class)::float8, s.speed_kmh,
                    d.speed_kmh) AS kmh
      FROM road_ends e
      LEFT JOIN road_speeds s ON s.road_class = e.road_class
      LEFT JOIN road_speeds d ON d.road_class = 'road'
)
INSERT INTO roads (id, code, name, road_class, speed_kmh, oneway, closed, source, target,
                   length_m, cost_s, reverse_cost_s, origin, osm_way, geom)
SELECT e.eid, coalesce(e.code, 'RD-' || e.eid), e.name, e.road_class, e.kmh, e.oneway, e.closed,
       a.id, b.id, e.m,
       CASE WHEN e.closed THEN -1 ELSE e.m / (e.kmh / 3.6) END,
       CASE WHEN e.closed OR e.oneway THEN -1 ELSE e.m / (e.kmh / 3.6) END,
       $1, e.osm_way,
       -- the end points exactly on their vertices
       ST_SetPoint(ST_SetPoint(e.geom, 0, ST_SetSRID(ST_MakePoint(a.x, a.y), 4326)),
                   ST_NPoints(e.geom) - 1,
                   ST_SetSRID(ST_MakePoint(b.x, b.y), 4326))
  FROM e
  JOIN road_points a ON a.x = e.x0 AND a.y = e.y0
  JOIN road_points b ON b.x = e.x1 AND b.y = e.y1
 WHERE e.m > 0
