-- Noding: every input line cut wherever it crosses or touches another (ST_Node over the
-- whole set), each piece keeping the attributes and the direction of the line it lies on.
-- Pieces are coded <line code>-<n> in their order along the line.
CREATE TEMP TABLE road_noded ON COMMIT DROP AS
WITH lines AS (
    SELECT row_number() OVER () AS lid, i.* FROM road_input i
), pieces AS (
    SELECT (ST_Dump(ST_Node(ST_Collect(geom)))).geom AS geom FROM lines
), owned AS (
    SELECT l.lid, l.code, l.name, l.road_class, l.speed_kmh, l.oneway, l.closed, l.osm_way,
           CASE WHEN ST_LineLocatePoint(l.geom, ST_StartPoint(p.geom))
                     > ST_LineLocatePoint(l.geom, ST_EndPoint(p.geom))
                THEN ST_Reverse(p.geom) ELSE p.geom END AS geom,
           ST_LineLocatePoint(l.geom, ST_LineInterpolatePoint(p.geom, 0.5)) AS at
      FROM pieces p
     CROSS JOIN LATERAL (
        SELECT * FROM lines l
         WHERE l.geom && p.geom
           AND ST_DWithin(l.geom, ST_LineInterpolatePoint(p.geom, 0.5), 1e-9)
         ORDER BY l.lid LIMIT 1) l
)
SELECT coalesce(code, 'L' || lid) || '-' || row_number() OVER (PARTITION BY lid ORDER BY at)
           AS code,
       name, road_class, speed_kmh, oneway, closed, osm_way,
       NULL::bigint AS source_node, NULL::bigint AS target_node, geom
  FROM owned
