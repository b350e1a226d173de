-- /analysis/overlay: features of one layer that intersect (or lie within) an overlay:
-- a polygon from the request or the chosen features of another layer.
-- $1 result cap (NULL: counts only); the pairs fragment binds $2...: (id, overlay code) pairs
-- table: layer A; level, category, props: its fragments (alias x)
WITH pairs AS (
{{pairs}}
), hits AS (
    SELECT x.*, p.overlaps
      FROM (SELECT id, array_agg(DISTINCT o ORDER BY o) FILTER (WHERE o IS NOT NULL) AS overlaps
              FROM pairs GROUP BY id) p
      JOIN {{table}} x USING (id)
), capped AS (
    SELECT * FROM hits ORDER BY "code" LIMIT coalesce($1 + 1, 0)
)
SELECT CASE WHEN $1 IS NOT NULL AND (SELECT count(*) FROM capped) > $1 THEN NULL
    ELSE json_build_object(
    'type', 'FeatureCollection',
    'counts', json_build_object(
        'total', (SELECT count(*) FROM hits),
        'by_level', (SELECT coalesce(json_object_agg(l, n ORDER BY l)
                                     FILTER (WHERE l IS NOT NULL), '{}'::json)
                       FROM (SELECT {{level}} AS l, count(*) AS n FROM hits x GROUP BY 1) c),
        'by_category', (SELECT coalesce(json_object_agg(l, n ORDER BY l)
                                        FILTER (WHERE l IS NOT NULL), '{}'::json)
                          FROM (SELECT {{category}} AS l, count(*) AS n FROM hits x GROUP BY 1) c),
        'by_overlay', (SELECT coalesce(json_object_agg(o, n ORDER BY o), '{}'::json)
                         FROM (SELECT o, count(DISTINCT id) AS n
                                 FROM pairs WHERE o IS NOT NULL GROUP BY o) c)),
    'numberReturned', (SELECT count(*) FROM capped),
    'features', coalesce((SELECT json_agg(json_build_object(
                    'type', 'Feature', 'id', x."code",
                    'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
                    'properties', json_build_object('overlaps', x.overlaps, {{props}}))
                  ORDER BY x."code") FROM capped x), '[]'::json)
)::text END
