-- The fastest path from point 1 (vertex -1) to point 2 (vertex -2) over routing_segments:
-- one row per leg in order, with its road, the span of the road it covers, which way it
-- was driven, its length, duration and geometry in the direction of travel.
WITH path AS (
    SELECT path_seq, node, edge, cost, agg_cost
      FROM pgr_dijkstra($1::text, -1::bigint, -2::bigint, true)
     WHERE edge <> -1
), legs AS (
    SELECT p.path_seq, p.node, p.cost, p.agg_cost, s.edge, s.f0, s.f1,
           s.source = p.node AS forward
      FROM path p
      JOIN (SELECT id, edge, source, target, f0, f1 FROM routing_segments
            UNION ALL
            -- a road carrying points, driven whole past them (the graph keeps it too)
            SELECT r.id, r.id, r.source, r.target, 0.0, 1.0 FROM roads r
             WHERE r.id IN (SELECT edge FROM routing_points)) s ON s.id = p.edge
)
SELECT l.path_seq, l.edge, l.forward, l.cost AS duration_s, l.agg_cost AS start_s,
       r.name, r.road_class, r.length_m * (l.f1 - l.f0) AS length_m,
       (ST_AsGeoJSON(CASE WHEN l.forward THEN g.geom ELSE ST_Reverse(g.geom) END, 7)::json
           -> 'coordinates')::text AS coordinates
  FROM legs l JOIN roads r ON r.id = l.edge
 CROSS JOIN LATERAL (SELECT ST_LineSubstring(r.geom, l.f0, l.f1) AS geom) g
 ORDER BY l.path_seq
