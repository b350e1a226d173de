-- Readings in bounds (issue 17, item 6): see docs/scaling.md, "Readings in bounds".
--
-- * readings_hourly: per point and UTC hour, n / min / max / mean / last of the raw
--   readings, one partition a month (`readings_hourly_YYYYMM`). The app's upkeep
--   (api/monitoring/maintenance.py) rolls up each closed hour after the batches
--   that touched it commit, and a whole day again just before its raw partition is
--   dropped; a roll-up recomputes its hours from raw (INSERT ... ON CONFLICT DO
--   UPDATE), so running it twice changes nothing. It is kept for its own, longer
--   retention (ONEMAP_READINGS_HOURLY_RETENTION_DAYS).
-- * reading_batches.rolled_up: the ledger says which committed batches the roll-up
--   has not seen yet (ingestion itself is unchanged: the column has a default).
-- * BRIN on readings (ts): a day partition is written in time order, so a block
--   range index of a few pages finds an hour of all points (what the roll-up
--   reads); the primary key (point_id, ts) stays for one point's readings.
-- * Partitions are made as plain tables and then ATTACHed (SHARE UPDATE EXCLUSIVE on
--   the parent, which COPY's ROW EXCLUSIVE does not wait for); CREATE TABLE ...
--   PARTITION OF would take ACCESS EXCLUSIVE on `readings` and queue every batch
--   behind it.
-- * Dropping a day moves to the app (DETACH ... CONCURRENTLY cannot run inside a
--   function): onemap_drop_reading_partitions, which took ACCESS EXCLUSIVE on
--   `readings` while ingestion ran, is gone.

CREATE TABLE readings_hourly (
    point_id  bigint NOT NULL,
    hour      timestamptz NOT NULL,
    n         integer NOT NULL CHECK (n > 0),
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    mean      double precision NOT NULL,
    last      double precision NOT NULL,
    PRIMARY KEY (point_id, hour)
) PARTITION BY RANGE (hour);

-- The month partitions of readings_hourly that cover [from_ts, to_ts].
CREATE OR REPLACE FUNCTION onemap_ensure_hourly_partitions(
    from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    last_month date := date_trunc('month', to_ts AT TIME ZONE 'UTC')::date;
    part text;
    created integer := 0;
BEGIN
    IF last_month - m > 40 * 31 THEN
        RAISE EXCEPTION 'refusing to create hourly partitions for % days at once', last_month - m;
    END IF;
    WHILE m <= last_month LOOP
        part := 'readings_hourly_' || to_char(m, 'YYYYMM');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE readings_hourly INCLUDING DEFAULTS '
                           'INCLUDING CONSTRAINTS)', part);
            EXECUTE format(
                'ALTER TABLE readings_hourly ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part,
                (m::timestamp AT TIME ZONE 'UTC'),
                ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- Roll up the raw readings of [from_ts, to_ts) (whole UTC hours) from `source`
-- (readings, or a day partition just detached) into readings_hourly. Every hour
-- in the range is recomputed from raw, so a second run changes nothing; rows
-- whose aggregates are already right are not rewritten. Returns the rows written.
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
         WHERE (h.n, h.min, h.max, h.mean, h.last)
               IS DISTINCT FROM (excluded.n, excluded.min, excluded.max, excluded.mean,
                                 excluded.last)
    $q$, source) USING from_ts, to_ts;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;

-- The day partitions of readings that cover [from_ts, to_ts] (as in 0001, but
-- attached rather than created as partitions: see above).
CREATE OR REPLACE FUNCTION onemap_ensure_reading_partitions(
    from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := (from_ts AT TIME ZONE 'UTC')::date;
    last_day date := (to_ts AT TIME ZONE 'UTC')::date;
    part text;
    created integer := 0;
BEGIN
    IF last_day - d > 400 THEN
        RAISE EXCEPTION 'refusing to create % reading partitions at once', last_day - d;
    END IF;
    WHILE d <= last_day LOOP
        part := 'readings_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE readings INCLUDING DEFAULTS '
                           'INCLUDING CONSTRAINTS)', part);
            EXECUTE format(
                'ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part,
                (d::timestamp AT TIME ZONE 'UTC'),
                ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN created;
END $$;

ALTER TABLE reading_batches ADD COLUMN rolled_up boolean NOT NULL DEFAULT false;
-- Batches stored before this migration: their days are rolled up again before they
-- are dropped, so the ledger need not replay them.
UPDATE reading_batches SET rolled_up = true;
CREATE INDEX reading_batches_unrolled_idx ON reading_batches (max_ts) WHERE NOT rolled_up;

CREATE INDEX readings_ts_brin ON readings USING brin (ts) WITH (pages_per_range = 32);

DROP FUNCTION IF EXISTS onemap_drop_reading_partitions(date);

-- as every table (0018): scoped requests read it as onemap_app
GRANT SELECT ON readings_hourly TO onemap_app;
