-- Per-connection temporary objects of a routing request (rows live until commit).
-- routing_points: the request's points snapped onto edges (pid >= 1; vertex -pid).
-- routing_box: the box the graph is read from (a reach cannot leave it).
-- routing_segments: every road in the box, except that an edge carrying points is replaced
-- by its pieces between them (edge ids -2*pid and -2*pid - 1; vertex -pid is the point), so
-- a trip starts or ends on the edge itself, not at its nearest vertex. The graph pgRouting
-- reads (graph.sql) is the roads plus the pieces (id < 0): keeping the whole road beside its
-- pieces adds a path of the same cost, which changes no time, and spares an anti-join.
-- f0, f1: the piece's span as fractions of its road `edge`; costs scale with the span;
-- edge_length_m: the length of the whole road.
CREATE TEMP TABLE IF NOT EXISTS routing_points (
    pid       integer PRIMARY KEY CHECK (pid >= 1),
    edge      bigint NOT NULL,
    fraction  double precision NOT NULL CHECK (fraction BETWEEN 0 AND 1)
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS routing_box (geom geometry NOT NULL) ON COMMIT DELETE ROWS;
CREATE OR REPLACE TEMP VIEW routing_segments AS
WITH pts AS (
    SELECT p.pid, p.edge, p.fraction,
           lag(p.pid) OVER w AS prev_pid, lag(p.fraction) OVER w AS prev_f,
           lead(p.pid) OVER w AS next_pid
      FROM routing_points p
    WINDOW w AS (PARTITION BY p.edge ORDER BY p.fraction, p.pid)
)
SELECT r.id, r.id AS edge, r.source, r.target, 0.0::float8 AS f0, 1.0::float8 AS f1,
       r.cost_s AS cost, r.reverse_cost_s AS reverse_cost, r.length_m AS edge_length_m
  FROM roads r
 WHERE r.geom && (SELECT b.geom FROM routing_box b LIMIT 1)
   AND NOT EXISTS (SELECT 1 FROM routing_points p WHERE p.edge = r.id)
UNION ALL
SELECT -2 * pts.pid::bigint, pts.edge, coalesce(-pts.prev_pid::bigint, r.source), -pts.pid::bigint,
       coalesce(pts.prev_f, 0.0), pts.fraction,
       CASE WHEN r.cost_s < 0 THEN -1.0
            ELSE r.cost_s * (pts.fraction - coalesce(pts.prev_f, 0.0)) END,
       CASE WHEN r.reverse_cost_s < 0 THEN -1.0
            ELSE r.reverse_cost_s * (pts.fraction - coalesce(pts.prev_f, 0.0)) END,
       r.length_m
  FROM pts JOIN roads r ON r.id = pts.edge
UNION ALL
SELECT -2 * pts.pid::bigint - 1, pts.edge, -pts.pid::bigint, r.target, pts.fraction, 1.0,
       CASE WHEN r.cost_s < 0 THEN -1.0 ELSE r.cost_s * (1.0 - pts.fraction) END,
       CASE WHEN r.reverse_cost_s < 0 THEN -1.0 ELSE r.reverse_cost_s * (1.0 - pts.fraction) END,
       r.length_m
  FROM pts JOIN roads r ON r.id = pts.edge
 WHERE pts.next_pid IS NULL
