-- /analysis/nearest: the $2 nearest features of one layer, ordered by distance in metres.
-- $1 origin (WKB, EPSG:4326)   $2 k   (the filters and within fragments bind $3...)
--
-- The GiST index orders by distance in degrees (<->), which is not the order in
-- metres (a degree of longitude is cos(lat) of a degree of latitude). So:
-- 1. cand:  the k nearest in degrees (index KNN); the largest of their distances
--           in metres, `reach`, bounds the true k nearest (k features lie within it);
-- 2. hits:  everything within `reach` metres (box prefilter on the index), ordered
--           by its distance on the spheroid, the first k. (reach gets 1 cm more: ST_DWithin
--           at exactly ST_Distance can say false; a wider reach only adds candidates.)
WITH q AS MATERIALIZED (
    SELECT g, g::geography AS gg FROM (SELECT ST_GeomFromWKB($1, 4326) AS g) s
), cand AS (
    SELECT t."geom" FROM {{table}} t
     WHERE TRUE{{filters}}{{within}}
     ORDER BY t."geom" <-> (SELECT g FROM q)
     LIMIT $2
), reach AS (
    SELECT max(ST_Distance(c."geom"::geography, q.gg)) + 0.01 AS d FROM cand c, q
), hits AS (
    SELECT x.*, row_number() OVER (ORDER BY x.distance_m, x."code") AS rank
      FROM (SELECT t.*, ST_Distance(t."geom"::geography, q.gg) AS distance_m
              FROM {{table}} t, q, reach
             WHERE t."geom" && onemap_expand_m(q.g, reach.d)
               AND ST_DWithin(t."geom"::geography, q.gg, reach.d){{filters}}
             ORDER BY distance_m, t."code"
             LIMIT $2) x
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'numberReturned', count(*),
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', x."code",
        'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
        'properties', json_build_object(
            'layer', {{layer}}, 'rank', x.rank, 'distance_m', round(x.distance_m::numeric, 2),
            {{props}})) ORDER BY x.rank), '[]'::json)
)::text
  FROM hits x
