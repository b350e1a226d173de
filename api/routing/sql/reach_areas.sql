-- The answer of a reach from what api.routing.fast computed: the areas from the outline
-- points it picked (per cut-off and source, the farthest place of each 5-degree sector, in
-- sector order) with the counts it made; population: residents of the cells whose centre
-- lies in the area; and (`edges`) the reached pieces of road at the largest cut-off, their
-- geometry cut from the road, ordered by the time at their far end.
-- $1 minutes per point  $2 source per point  $3 lon  $4 lat
-- $5 minutes  $6 cut-offs (s)  $7 edges reached  $8 metres reached  $9 the snapped sources
-- $10 piece edge  $11 from fraction  $12 to fraction  $13 source  $14 start (s)  $15 end (s)
WITH p AS (
    SELECT u.m, u.s, u.n, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326) AS g
      FROM unnest($1::int[], $2::int[], $3::float8[], $4::float8[]) WITH ORDINALITY
           AS u(m, s, x, y, n)
), stars AS (
    SELECT m, s,
           CASE WHEN count(*) >= 3
                THEN ST_MakeValid(ST_MakePolygon(ST_AddPoint(
                         ST_MakeLine(array_agg(g ORDER BY n)), (array_agg(g ORDER BY n))[1])))
                ELSE ST_Buffer(ST_Collect(g), 0.0002) END AS geom
      FROM p GROUP BY m, s
), areas AS (
    SELECT m AS minutes, ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom
      FROM stars GROUP BY m
), people AS (
    SELECT a.minutes, sum(c.population) AS population
      FROM areas a JOIN population_cells c
        ON c.geom && a.geom AND ST_Intersects(a.geom, ST_PointOnSurface(c.geom))
     GROUP BY a.minutes
), cutoffs AS (
    SELECT * FROM unnest($5::int[], $6::float8[], $7::int[], $8::float8[])
        AS c(minutes, t, edges, metres)
), pieces AS (
    SELECT * FROM unnest($10::bigint[], $11::float8[], $12::float8[], $13::int[],
                         $14::float8[], $15::float8[]) AS q(edge, a, b, source, start_s, end_s)
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'sources', $9::text::json,
    'features', coalesce((SELECT json_agg(f ORDER BY o, m, e) FROM (
        SELECT 0 AS o, c.minutes AS m, NULL::float8 AS e, json_build_object(
            'type', 'Feature', 'id', 'reach-' || c.minutes,
            'geometry', ST_AsGeoJSON(a.geom, 6)::json,
            'properties', json_build_object(
                'kind', 'area', 'minutes', c.minutes, 'cutoff_s', c.t,
                'edges_reached', c.edges,
                'length_km', round((c.metres / 1000)::numeric, 3),
                'population', coalesce(pp.population, 0))) AS f
          FROM cutoffs c
          LEFT JOIN areas a ON a.minutes = c.minutes
          LEFT JOIN people pp ON pp.minutes = c.minutes
        UNION ALL
        SELECT 1, NULL, q.end_s, json_build_object(
            'type', 'Feature',
            'geometry', ST_AsGeoJSON(ST_LineSubstring(r.geom, q.a, q.b), 7)::json,
            'properties', json_build_object(
                'kind', 'edge', 'edge', q.edge,
                'from_fraction', round(q.a::numeric, 9), 'to_fraction', round(q.b::numeric, 9),
                'source', q.source,
                'start_cost_s', round(q.start_s::numeric, 3),
                'agg_cost_s', round(q.end_s::numeric, 3)))
          FROM pieces q JOIN roads r ON r.id = q.edge
    ) x(o, m, e, f)), '[]'::json)
)::text
