-- Travel time from point 1 to every other point, within $2 seconds (NULL: not within).
-- $1 the graph query   $2 the limit (s)   $3 the number of points
WITH dd AS (
    SELECT node, agg_cost FROM pgr_drivingDistance($1::text, -1::bigint, $2::float8, true)
)
SELECT n AS pid, dd.agg_cost
  FROM generate_series(2, $3::int) n LEFT JOIN dd ON dd.node = -n
 ORDER BY n
