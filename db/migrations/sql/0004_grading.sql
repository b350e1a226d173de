-- onemap 0004: what dynamic grading (docs/grading-model.md) needs beyond the store.
--
-- * risk_unit_exposure: population and vulnerable sites within the radius of
--   each unit, computed in PostGIS and cached; a row is dropped when its
--   unit's geometry changes and recomputed when its stamp (the versions of
--   population_cells and vulnerable_sites and the radius) is out of date.
-- * monitoring_offline_periods: past gaps in a point's readings (a point is
--   offline while no reading arrived within its expected interval); the open
--   gap is derived from monitoring_point_state.
-- * reading_batches: the ledger that makes whole reading batches idempotent.
-- * grading_runs: every full regrade (as_of, parameter version, counts).
-- * webhooks and webhook_deliveries: level changes pushed to other systems.
-- * grade_history announces new rows on `onemap_grade_changed` (payload: the
--   highest new id) so every app process can stream them (SSE).

CREATE TABLE risk_unit_exposure (
    risk_unit_id        bigint PRIMARY KEY REFERENCES risk_units (id) ON DELETE CASCADE,
    radius_m            numeric NOT NULL CHECK (radius_m > 0),
    population          integer NOT NULL CHECK (population >= 0),
    vulnerable_site     boolean NOT NULL,
    vulnerable_sites    text[] NOT NULL DEFAULT '{}',
    stamp               text NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now()
);

-- A moved unit loses its cached exposure (recomputed before it is graded).
CREATE OR REPLACE FUNCTION onemap_risk_unit_geom_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM risk_unit_exposure WHERE risk_unit_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_units_exposure_stale
    AFTER UPDATE OF geom ON risk_units
    FOR EACH ROW WHEN (OLD.geom IS DISTINCT FROM NEW.geom)
    EXECUTE FUNCTION onemap_risk_unit_geom_changed();

CREATE TABLE monitoring_offline_periods (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    point_id    bigint NOT NULL REFERENCES monitoring_points (id) ON DELETE CASCADE,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL CHECK (ended_at > started_at),
    UNIQUE (point_id, started_at)
);
CREATE INDEX monitoring_offline_periods_end_idx ON monitoring_offline_periods (ended_at);

CREATE TABLE reading_batches (
    batch_key    text PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    actor        text,
    readings     integer NOT NULL,
    stored       integer NOT NULL,
    duplicates   integer NOT NULL,
    min_ts       timestamptz,
    max_ts       timestamptz,
    alarms       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX reading_batches_received_idx ON reading_batches (received_at);

-- Alarms and hidden hazards are read by end time when a unit is regraded.
CREATE INDEX alarms_ended_idx ON alarms (ended_at);
CREATE INDEX hidden_hazards_open_idx ON hidden_hazards (risk_unit_id)
    WHERE closed_at IS NULL AND verified_at IS NULL;

CREATE TABLE grading_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('full', 'units')),
    trigger         text NOT NULL,
    as_of           timestamptz NOT NULL,
    param_version   integer NOT NULL REFERENCES grading_param_sets (version),
    units           integer NOT NULL,
    changed         integer NOT NULL,
    r_changed       integer NOT NULL,
    exposure_refreshed integer NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    actor           text
);
CREATE INDEX grading_runs_finished_idx ON grading_runs (finished_at DESC);

CREATE TABLE webhooks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    url             text NOT NULL CHECK (url ~ '^https?://'),
    secret          text NOT NULL,
    min_level       text CHECK (min_level IN ('low', 'general', 'large', 'major')),
    active          boolean NOT NULL DEFAULT true,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    deactivated_at  timestamptz
);

CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id       bigint NOT NULL REFERENCES webhooks (id),
    history_id       bigint NOT NULL REFERENCES grade_history (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status      integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, history_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

-- Every attempt of a delivery (the log).
CREATE TABLE webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL DEFAULT now(),
    http_status   integer,
    error         text,
    duration_ms   double precision
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, at);

-- New history rows: one delivery per active webhook (that wants the level),
-- and one NOTIFY per statement carrying the highest new id.
CREATE OR REPLACE FUNCTION onemap_grade_history_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    top bigint;
BEGIN
    SELECT max(id) INTO top FROM new_rows;
    IF top IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (webhook_id, history_id)
    SELECT w.id, n.id
      FROM new_rows n
      JOIN webhooks w ON w.active
     WHERE w.min_level IS NULL
        OR array_position(ARRAY['low', 'general', 'large', 'major'], n.to_level)
           >= array_position(ARRAY['low', 'general', 'large', 'major'], w.min_level)
        OR array_position(ARRAY['low', 'general', 'large', 'major'], n.from_level)
           >= array_position(ARRAY['low', 'general', 'large', 'major'], w.min_level);
    PERFORM pg_notify('onemap_grade_changed', top::text);
    RETURN NULL;
END $$;
CREATE TRIGGER grade_history_inserted
    AFTER INSERT ON grade_history REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onemap_grade_history_inserted();

-- Retention: drop the day partitions of readings that end on or before `before`.
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
