-- The legs of a path found on the in-memory network, in the order driven: the road's name,
-- class and the length of the span driven, and its geometry in the direction of travel.
-- $1 edges  $2 from fractions  $3 to fractions (from < to)  $4 driven as drawn
SELECT l.n, l.edge, l.forward, r.name, r.road_class, r.length_m * (l.f1 - l.f0) AS length_m,
       (ST_AsGeoJSON(CASE WHEN l.forward THEN g.geom ELSE ST_Reverse(g.geom) END, 7)::json
           -> 'coordinates')::text AS coordinates
  FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::bool[]) WITH ORDINALITY
       AS l(edge, f0, f1, forward, n)
  JOIN roads r ON r.id = l.edge
 CROSS JOIN LATERAL (SELECT ST_LineSubstring(r.geom, l.f0, l.f1) AS geom) g
 ORDER BY l.n
