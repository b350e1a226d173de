-- One point's hours in [$2, $3), oldest first, at most $5 rows: from the roll-up
-- (readings_hourly) before $4, where raw readings are no longer kept, and from raw
-- readings at and after $4, aggregated here the way onemap_rollup_readings does
-- (so an hour reads the same before and after its day is dropped).
(SELECT hour, n, min, max, mean, last
   FROM readings_hourly
  WHERE point_id = $1 AND hour >= $2::timestamptz AND hour < least($3::timestamptz, $4::timestamptz)
  ORDER BY hour
  LIMIT $5)
UNION ALL
(SELECT date_trunc('hour', ts, 'UTC') AS hour, count(*)::integer, min(value), max(value),
        avg(value), (array_agg(value ORDER BY ts DESC))[1]
   FROM readings
  WHERE point_id = $1 AND ts >= greatest($2::timestamptz, $4::timestamptz) AND ts < $3::timestamptz
  GROUP BY 1
  ORDER BY 1
  LIMIT $5)
ORDER BY hour
LIMIT $5
