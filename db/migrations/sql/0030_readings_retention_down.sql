DROP INDEX IF EXISTS readings_ts_brin;
DROP INDEX IF EXISTS reading_batches_unrolled_idx;
ALTER TABLE reading_batches DROP COLUMN IF EXISTS rolled_up;
DROP FUNCTION IF EXISTS onemap_rollup_readings(timestamptz, timestamptz, regclass);
DROP FUNCTION IF EXISTS onemap_ensure_hourly_partitions(timestamptz, timestamptz);
DROP TABLE IF EXISTS readings_hourly;

-- Retention as it was before 0030 (DROP TABLE of each expired day).
CREATE OR REPLACE FUNCTION onemap_drop_reading_partitions(before date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'readings'::regclass
           AND c.relname ~ '^readings_[0-9]{8}$'
           AND to_date(substr(c.relname, 10), 'YYYYMMDD') + 1 <= before
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- Partitions made as in 0001.
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
            EXECUTE format(
                'CREATE TABLE IF NOT EXISTS %I PARTITION OF readings '
                'FOR VALUES FROM (%L) TO (%L)',
                part,
                (d::timestamp AT TIME ZONE 'UTC'),
                ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN created;
END $$;
