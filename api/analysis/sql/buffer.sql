-- /analysis/buffer: every feature of the chosen layers within $2 metres of the input geometry,
-- nearest first, with counts by layer and level; NULL when more than $3 features match.
-- $1 input geometry (WKB, EPSG:4326)   $2 distance (m)   $3 result cap   $4 layer names
-- hits: one buffer_layer.sql per layer, joined by UNION ALL (filters bind $5...)
WITH q AS MATERIALIZED (
    SELECT g, g::geography AS gg, onemap_expand_m(g, $2) AS box
      FROM (SELECT ST_GeomFromWKB($1, 4326) AS g) s
), hits AS (
{{hits}}
), capped AS (
    SELECT * FROM hits LIMIT $3 + 1  -- all of them, or one past the cap (order: below)
), counts AS (
    SELECT layer, sum(n)::bigint AS total,
           coalesce(json_object_agg(level, n ORDER BY level) FILTER (WHERE level IS NOT NULL),
                    '{}'::json) AS by_level
      FROM (SELECT layer, level, count(*) AS n FROM capped GROUP BY layer, level) c
     GROUP BY layer
)
SELECT CASE WHEN (SELECT count(*) FROM capped) > $3 THEN NULL ELSE json_build_object(
    'type', 'FeatureCollection',
    'numberReturned', (SELECT count(*) FROM capped),
    'counts', (SELECT json_object_agg(l.layer, json_build_object(
                        'total', coalesce(c.total, 0), 'by_level', coalesce(c.by_level, '{}'::json))
                      ORDER BY l.ord)
                 FROM unnest($4::text[]) WITH ORDINALITY AS l(layer, ord)
                 LEFT JOIN counts c USING (layer)),
    'features', coalesce((SELECT json_agg(json_build_object(
                    'type', 'Feature',
                    'id', c.layer || '/' || c.code,
                    'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(c.geom), 7)::json,
                    'properties', c.props) ORDER BY c.distance_m, c.layer, c.code)
                   FROM capped c), '[]'::json)
)::text END
