-- Reach: from the sources (vertices -pid) over routing_segments, per cut-off the roads
-- reached, a partly reached edge CUT at the reached fraction (pgRouting issue #584: a
-- plain driving-distance drops it), and the area they span.
-- $1 graph query  $2 start vertices  $3 the largest cut-off (s)  $4 equicost
-- $5 cut-offs (s)  $6 with the edges  $7 minutes per cut-off  $8 the snapped sources (json)
--
-- Along a segment, from its source end the time is a_s + x * cost, from its target end
-- a_t + (1 - x) * reverse_cost (x: the fraction of the segment); the two fronts meet at
-- xm, and each side's piece ends at its own front or at the cut-off, whichever is first.
-- The area of a cut-off: per source, the star of the farthest places it reaches in each
-- 5-degree sector (cheap and close to the hull for a road network), united over sources.
WITH cutoffs AS (
    SELECT t, minutes FROM unnest($5::float8[], $7::int[]) AS c(t, minutes)
), dd AS MATERIALIZED (
    SELECT node, from_v, agg_cost
      FROM pgr_drivingDistance($1::text, $2::bigint[], $3::float8, true, $4::boolean)
), node AS (
    SELECT DISTINCT ON (node) node, from_v, agg_cost AS agg FROM dd ORDER BY node, agg_cost
), seg AS MATERIALIZED (
    SELECT s.edge, s.f0, s.f1, s.cost, s.reverse_cost, s.edge_length_m,
           ns.agg AS a_s, ns.from_v AS v_s, nt.agg AS a_t, nt.from_v AS v_t,
           ns.agg IS NOT NULL AND s.cost >= 0 AS fwd,
           nt.agg IS NOT NULL AND s.reverse_cost >= 0 AS bwd
      FROM routing_segments s
      LEFT JOIN node ns ON ns.node = s.source
      LEFT JOIN node nt ON nt.node = s.target
     WHERE ns.node IS NOT NULL OR nt.node IS NOT NULL
), meet AS (
    SELECT seg.*,
           CASE WHEN fwd AND bwd THEN
                     CASE WHEN cost + reverse_cost > 0
                          THEN least(1.0, greatest(0.0,
                                   (a_t + reverse_cost - a_s) / (cost + reverse_cost)))
                          ELSE 0.5 END
                WHEN fwd THEN 1.0 ELSE 0.0 END AS xm
      FROM seg
     WHERE fwd OR bwd
), cut AS (
    SELECT m.*, c.t, c.minutes,
           CASE WHEN m.fwd AND m.a_s <= c.t
                THEN least(m.xm, CASE WHEN m.cost > 0 THEN (c.t - m.a_s) / m.cost ELSE 1.0 END)
           END AS xs,
           CASE WHEN m.bwd AND m.a_t <= c.t
                THEN greatest(m.xm, CASE WHEN m.reverse_cost > 0
                                         THEN 1.0 - (c.t - m.a_t) / m.reverse_cost
                                         ELSE 0.0 END)
           END AS xt
      FROM meet m CROSS JOIN cutoffs c
), pieces AS MATERIALIZED (
    -- (cut-off, road, span on the road, the source it belongs to, time at its two ends,
    -- and where on the road the time ran out, if it did)
    SELECT t, minutes, edge, edge_length_m, f0 AS a, f0 + xs * (f1 - f0) AS b, v_s AS from_v,
           a_s AS start_s, a_s + xs * cost AS end_s,
           CASE WHEN xs < xm THEN f0 + xs * (f1 - f0) END AS cut_at
      FROM cut WHERE xs > 0
    UNION ALL
    SELECT t, minutes, edge, edge_length_m, f0 + xt * (f1 - f0), f1, v_t, a_t, a_t + (1.0 - xt) * reverse_cost,
           CASE WHEN xt > xm THEN f0 + xt * (f1 - f0) END
      FROM cut WHERE xt < 1
), src AS (
    SELECT -s.pid::bigint AS from_v, ST_LineInterpolatePoint(r.geom, s.fraction) AS g
      FROM routing_points s JOIN roads r ON r.id = s.edge
), far AS (
    -- the outline: in each 5-degree sector around a source, the farthest place it reaches
    -- (a reached vertex or a point where the time ran out) within the cut-off
    SELECT DISTINCT ON (x.minutes, x.from_v, x.sector) x.minutes, x.from_v, x.sector, x.geom
      FROM (
        SELECT h.minutes, h.from_v, h.geom,
               floor((degrees(atan2(q.dx, q.dy)) + 360.0) / 5)::int % 72 AS sector,
               q.dx * q.dx + q.dy * q.dy AS d
          FROM (
            -- (an inner vertex is never the farthest of its sector: the outer half only)
            SELECT c.minutes, n.from_v, v.geom
              FROM cutoffs c JOIN node n ON n.agg <= c.t AND n.agg >= 0.5 * c.t
              JOIN road_vertices v ON v.id = n.node
            UNION ALL
            SELECT p.minutes, p.from_v, ST_LineInterpolatePoint(r.geom, p.cut_at)
              FROM pieces p JOIN roads r ON r.id = p.edge WHERE p.cut_at IS NOT NULL) h
          JOIN src s ON s.from_v = h.from_v
         -- east and north offsets in degrees of latitude
         CROSS JOIN LATERAL (SELECT (ST_X(h.geom) - ST_X(s.g)) * cos(radians(ST_Y(s.g))) AS dx,
                                    ST_Y(h.geom) - ST_Y(s.g) AS dy) q
         WHERE q.dx <> 0 OR q.dy <> 0) x
     ORDER BY x.minutes, x.from_v, x.sector, x.d DESC
), stars AS (
    SELECT f.minutes, f.from_v,
           CASE WHEN count(*) >= 3
                THEN ST_MakeValid(ST_MakePolygon(ST_AddPoint(
                         ST_MakeLine(array_agg(f.geom ORDER BY f.sector)),
                         (array_agg(f.geom ORDER BY f.sector))[1])))
                ELSE ST_Buffer(ST_Collect(f.geom), 0.0002) END AS geom
      FROM far f GROUP BY f.minutes, f.from_v
), areas AS (
    SELECT minutes, ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom
      FROM stars GROUP BY minutes
), per AS (
    SELECT minutes, count(DISTINCT edge) AS edges, sum(edge_length_m * (b - a)) AS length_m
      FROM pieces GROUP BY minutes
), people AS (
    -- the residents of the cells whose centre lies in the area
    SELECT a.minutes, sum(c.population) AS population
      FROM areas a JOIN population_cells c
        ON c.geom && a.geom AND ST_Intersects(a.geom, ST_PointOnSurface(c.geom))
     GROUP BY a.minutes
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'sources', $8::text::json,
    'features', coalesce((SELECT json_agg(f ORDER BY o, m, e) FROM (
        SELECT 0 AS o, c.minutes AS m, NULL::float8 AS e, json_build_object(
            'type', 'Feature', 'id', 'reach-' || c.minutes,
            'geometry', ST_AsGeoJSON(a.geom, 6)::json,
            'properties', json_build_object(
                'kind', 'area', 'minutes', c.minutes, 'cutoff_s', c.t,
                'edges_reached', coalesce(p.edges, 0),
                'length_km', round(coalesce(p.length_m, 0)::numeric / 1000, 3),
                'population', round(coalesce(pp.population, 0)::numeric))) AS f
          FROM cutoffs c
          LEFT JOIN areas a ON a.minutes = c.minutes
          LEFT JOIN per p ON p.minutes = c.minutes
          LEFT JOIN people pp ON pp.minutes = c.minutes
        UNION ALL
        SELECT 1, g.minutes, g.end_s, json_build_object(
            'type', 'Feature',
            'geometry', ST_AsGeoJSON(g.geom, 7)::json,
            'properties', json_build_object(
                'kind', 'edge', 'edge', g.edge,
                'from_fraction', round(g.a::numeric, 9), 'to_fraction', round(g.b::numeric, 9),
                'source', -g.from_v - 1,
                'start_cost_s', round(g.start_s::numeric, 3),
                'agg_cost_s', round(g.end_s::numeric, 3)))
          FROM (SELECT p.*, ST_LineSubstring(r.geom, p.a, p.b) AS geom
                  FROM pieces p JOIN roads r ON r.id = p.edge
                 WHERE $6 AND p.t = (SELECT max(t) FROM cutoffs) AND p.b - p.a > 1e-9) g
    ) x(o, m, e, f)), '[]'::json)
)::text
