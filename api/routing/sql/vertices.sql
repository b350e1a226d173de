-- Vertices: the distinct end points of the noded lines (to 1e-7 degree, about a
-- centimetre), numbered from 1 in lon/lat order; the OSM node when one is known.
CREATE TEMP TABLE road_ends ON COMMIT DROP AS
SELECT row_number() OVER () AS eid, r.*,
       round(ST_X(ST_StartPoint(r.geom))::numeric, 7)::float8 AS x0,
       round(ST_Y(ST_StartPoint(r.geom))::numeric, 7)::float8 AS y0,
       round(ST_X(ST_EndPoint(r.geom))::numeric, 7)::float8 AS x1,
       round(ST_Y(ST_EndPoint(r.geom))::numeric, 7)::float8 AS y1
  FROM road_noded r
 WHERE ST_NPoints(r.geom) >= 2 AND NOT ST_IsEmpty(r.geom);
CREATE TEMP TABLE road_points ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY x, y) AS id, x, y, min(node) AS osm_node
  FROM (SELECT x0 AS x, y0 AS y, source_node AS node FROM road_ends
        UNION ALL
        SELECT x1, y1, target_node FROM road_ends) e
 GROUP BY x, y;
CREATE UNIQUE INDEX ON road_points (x, y);
INSERT INTO road_vertices (id, osm_node, geom)
SELECT id, osm_node, ST_SetSRID(ST_MakePoint(x, y), 4326) FROM road_points;
