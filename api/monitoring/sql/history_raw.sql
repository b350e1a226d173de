-- One point's raw readings in [$2, $3), oldest first, at most $4 rows (the primary
-- key (point_id, ts) of each day partition serves it; days outside are pruned).
SELECT ts, value
  FROM readings
 WHERE point_id = $1 AND ts >= $2 AND ts < $3
 ORDER BY ts
 LIMIT $4
