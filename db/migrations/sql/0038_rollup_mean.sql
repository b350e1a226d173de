-- The hourly roll-up's mean compared with a tolerance (migration 0030's function
-- otherwise as it was). avg() over double precision depends on the order it meets the
-- readings in, and that order depends on the plan: an hour recomputed over a range that
-- crosses a day partition, then over that hour alone, gave means one unit in the last
-- place apart (0.8016666666666666 and 0.8016666666666665), so a pass rewrote rows that
-- were already right and counted them written (the retention test failed when run at
-- 01:10 UTC, where its three hours cross midnight). n, min, max and
-- last are exact and still compared exactly; a mean is rewritten when it differs by more
-- than a billionth of itself (a changed reading moves n, min, max, last or the mean by far
-- more). Readers already compare means that way (tests/http/test_readings_retention.py).

CREATE OR REPLACE FUNCTION onemap_rollup_readings(
    from_ts timestamptz, to_ts timestamptz, source regclass DEFAULT 'readings')
    RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    written integer;
BEGIN
    IF date_trunc('hour', from_ts, 'UTC') <> from_ts OR date_trunc('hour', to_ts, 'UTC') <> to_ts
       OR to_ts <= from_ts THEN
        RAISE EXCEPTION 'roll-up range must be whole hours, got [%, %)', from_ts, to_ts;
    END IF;
    PERFORM onemap_ensure_hourly_partitions(from_ts, to_ts - interval '1 hour');
    -- one hashed pass over the rows, then the last value of each (point, hour) fetched
    -- by its primary key: an ordered aggregate would sort the whole range instead
    EXECUTE format($q$
        INSERT INTO readings_hourly AS h (point_id, hour, n, min, max, mean, last)
        SELECT a.point_id, a.hour, a.n, a.min, a.max, a.mean, r.value
          FROM (SELECT point_id, date_trunc('hour', ts, 'UTC') AS hour, count(*) AS n,
                       min(value) AS min, max(value) AS max, avg(value) AS mean,
                       max(ts) AS last_ts
                  FROM %1$s
                 WHERE ts >= $1 AND ts < $2
                 GROUP BY 1, 2) a
          JOIN %1$s r ON r.point_id = a.point_id AND r.ts = a.last_ts
        ON CONFLICT (point_id, hour) DO UPDATE
           SET n = excluded.n, min = excluded.min, max = excluded.max,
               mean = excluded.mean, last = excluded.last
         WHERE (h.n, h.min, h.max, h.last)
               IS DISTINCT FROM (excluded.n, excluded.min, excluded.max, excluded.last)
            OR NOT coalesce(abs(h.mean - excluded.mean)
                                <= 1e-9 * greatest(abs(h.mean), abs(excluded.mean)),
                            h.mean IS NOT DISTINCT FROM excluded.mean)
    $q$, source) USING from_ts, to_ts;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
