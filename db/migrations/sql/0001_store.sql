-- onemap 0001: the PostGIS store.
--
-- Every layer table has the same spine: a surrogate id, a stable external
-- `code`, `name`, `district` (the adcode of a row in `districts`), `source`,
-- created/updated timestamps and `geom` in EPSG:4326 with a GiST index.
-- Enumerations are text with CHECK constraints so that codes read the same in
-- SQL, JSON and the API. Mutable state that changes every minute (monitoring
-- point liveness) lives outside the layer tables so it does not churn tiles.

CREATE EXTENSION IF NOT EXISTS postgis;

-- ---------------------------------------------------------------- helpers

CREATE OR REPLACE FUNCTION onemap_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- Per-layer version: bumped once per statement that changed rows, and
-- announced on the `onemap_layer_changed` channel. Tile caches key on it.
CREATE TABLE layer_versions (
    layer       text PRIMARY KEY,
    version     bigint NOT NULL DEFAULT 1,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION onemap_bump_layer_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT EXISTS (SELECT 1 FROM old_rows) INTO changed;
    ELSIF TG_OP = 'TRUNCATE' THEN
        changed := true;
    ELSE
        SELECT EXISTS (SELECT 1 FROM new_rows) INTO changed;
    END IF;
    IF changed THEN
        INSERT INTO layer_versions AS lv (layer, version, changed_at)
        VALUES (TG_TABLE_NAME, 1, now())
        ON CONFLICT (layer) DO UPDATE
            SET version = lv.version + 1, changed_at = now();
        PERFORM pg_notify('onemap_layer_changed', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;

-- Attach the standard triggers (updated_at, layer version) to a layer table.
CREATE OR REPLACE FUNCTION onemap_register_layer(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text := tbl::text;
BEGIN
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION onemap_touch_updated_at()', t || '_touch', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_ins', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_upd', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_del', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version()',
                   t || '_version_trunc', tbl);
    INSERT INTO layer_versions (layer) VALUES (t) ON CONFLICT DO NOTHING;
END $$;

-- Key/value facts about this database (demo dataset stamp, ...).
CREATE TABLE onemap_meta (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- areas

CREATE TABLE districts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    adcode      text NOT NULL UNIQUE CHECK (adcode ~ '^[0-9]{6}$'),
    population  bigint CHECK (population >= 0),
    area_km2    double precision CHECK (area_km2 >= 0),
    source      text NOT NULL DEFAULT 'unknown',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    geom        geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX districts_geom_idx ON districts USING gist (geom);
SELECT onemap_register_layer('districts');

CREATE TABLE population_cells (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    district    text REFERENCES districts (code) ON UPDATE CASCADE,
    population  integer NOT NULL CHECK (population >= 0),
    source      text NOT NULL DEFAULT 'unknown',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    geom        geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX population_cells_geom_idx ON population_cells USING gist (geom);
CREATE INDEX population_cells_district_idx ON population_cells (district);
SELECT onemap_register_layer('population_cells');

-- ---------------------------------------------------------------- risk units

CREATE TABLE risk_units (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code              text NOT NULL UNIQUE,
    name              text NOT NULL,
    district          text REFERENCES districts (code) ON UPDATE CASCADE,
    category          text NOT NULL CHECK (category IN (
                        'gas', 'hazardous_chemicals', 'construction', 'crowded_place',
                        'high_rise', 'underground_space', 'bridge_tunnel', 'rail_transit',
                        'industrial', 'waterlogging_point', 'drainage', 'power',
                        'heat_supply', 'water_supply', 'geological_hazard')),
    registered_level  text CHECK (registered_level IN ('low', 'general', 'large', 'major')),
    control_level     text NOT NULL DEFAULT 'compliant' CHECK (control_level IN (
                        'grade1', 'grade2', 'compliant', 'noncompliant', 'suspended')),
    current_level     text CHECK (current_level IN ('low', 'general', 'large', 'major')),
    current_r         double precision,
    level_changed_at  timestamptz,
    department        text,
    contact           text,
    address           text,
    source            text NOT NULL DEFAULT 'unknown',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    geom              geometry(Geometry, 4326) NOT NULL
                      CHECK (GeometryType(geom) IN ('POINT', 'MULTIPOLYGON'))
);
CREATE INDEX risk_units_geom_idx ON risk_units USING gist (geom);
CREATE INDEX risk_units_district_idx ON risk_units (district);
CREATE INDEX risk_units_category_idx ON risk_units (category);
CREATE INDEX risk_units_level_idx ON risk_units (current_level);
SELECT onemap_register_layer('risk_units');

-- ---------------------------------------------------------------- GB 18218

-- alpha: correction for people outside the plant within 500 m (GB 18218-2018).
CREATE OR REPLACE FUNCTION onemap_gb18218_alpha(people integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN people IS NULL THEN NULL
        WHEN people >= 100 THEN 2.0
        WHEN people >= 50 THEN 1.5
        WHEN people >= 30 THEN 1.2
        WHEN people >= 1 THEN 1.0
        ELSE 0.5
    END
$$;

-- grade 1..4 (一级..四级) from R.
CREATE OR REPLACE FUNCTION onemap_gb18218_grade(r double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN r IS NULL THEN NULL
        WHEN r >= 100 THEN 1
        WHEN r >= 50 THEN 2
        WHEN r >= 10 THEN 3
        ELSE 4
    END::smallint
$$;

CREATE TABLE hazard_sources (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code              text NOT NULL UNIQUE,
    name              text NOT NULL,
    district          text REFERENCES districts (code) ON UPDATE CASCADE,
    risk_unit_id      bigint REFERENCES risk_units (id) ON DELETE SET NULL,
    enterprise        text,
    people_within_500m integer NOT NULL DEFAULT 0 CHECK (people_within_500m >= 0),
    -- computed from hazard_substances by trigger (GB 18218-2018)
    s_value           double precision,
    alpha             double precision,
    r_value           double precision,
    gb_grade          smallint CHECK (gb_grade BETWEEN 1 AND 4),
    source            text NOT NULL DEFAULT 'unknown',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    geom              geometry(Geometry, 4326) NOT NULL
                      CHECK (GeometryType(geom) IN ('POINT', 'MULTIPOLYGON'))
);
CREATE INDEX hazard_sources_geom_idx ON hazard_sources USING gist (geom);
CREATE INDEX hazard_sources_risk_unit_idx ON hazard_sources (risk_unit_id);
SELECT onemap_register_layer('hazard_sources');

CREATE TABLE hazard_substances (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard_source_id  bigint NOT NULL REFERENCES hazard_sources (id) ON DELETE CASCADE,
    substance         text NOT NULL,
    cas               text,
    category          text,
    q_tonnes          double precision NOT NULL CHECK (q_tonnes >= 0),
    threshold_tonnes  double precision NOT NULL CHECK (threshold_tonnes > 0),
    beta              double precision NOT NULL CHECK (beta > 0),
    UNIQUE (hazard_source_id, substance)
);

-- Recompute S, alpha, R and the grade of a hazard source from its substances.
CREATE OR REPLACE FUNCTION onemap_gb18218_refresh(src bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE hazard_sources h
       SET s_value  = agg.s,
           alpha    = onemap_gb18218_alpha(h.people_within_500m),
           r_value  = CASE WHEN agg.s >= 1
                           THEN onemap_gb18218_alpha(h.people_within_500m) * agg.bsum END,
           gb_grade = CASE WHEN agg.s >= 1
                           THEN onemap_gb18218_grade(
                                  onemap_gb18218_alpha(h.people_within_500m) * agg.bsum) END
      FROM (SELECT coalesce(sum(q_tonnes / threshold_tonnes), 0) AS s,
                   coalesce(sum(beta * q_tonnes / threshold_tonnes), 0) AS bsum
              FROM hazard_substances WHERE hazard_source_id = src) agg
     WHERE h.id = src
       AND (h.s_value, h.alpha, h.r_value, h.gb_grade) IS DISTINCT FROM
           (agg.s, onemap_gb18218_alpha(h.people_within_500m),
            CASE WHEN agg.s >= 1 THEN onemap_gb18218_alpha(h.people_within_500m) * agg.bsum END,
            CASE WHEN agg.s >= 1 THEN onemap_gb18218_grade(
                   onemap_gb18218_alpha(h.people_within_500m) * agg.bsum) END)
$$;

CREATE OR REPLACE FUNCTION onemap_hazard_substances_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM onemap_gb18218_refresh(OLD.hazard_source_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM onemap_gb18218_refresh(NEW.hazard_source_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER hazard_substances_refresh
    AFTER INSERT OR UPDATE OR DELETE ON hazard_substances
    FOR EACH ROW EXECUTE FUNCTION onemap_hazard_substances_changed();

CREATE OR REPLACE FUNCTION onemap_hazard_sources_people_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM onemap_gb18218_refresh(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER hazard_sources_people_refresh
    AFTER INSERT OR UPDATE OF people_within_500m ON hazard_sources
    FOR EACH ROW EXECUTE FUNCTION onemap_hazard_sources_people_changed();

-- ---------------------------------------------------------------- monitoring

CREATE TABLE monitoring_points (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                 text NOT NULL UNIQUE,
    name                 text NOT NULL,
    district             text REFERENCES districts (code) ON UPDATE CASCADE,
    risk_unit_id         bigint REFERENCES risk_units (id) ON DELETE SET NULL,
    kind                 text NOT NULL,
    domain               text NOT NULL CHECK (domain IN (
                           'lifeline', 'public_safety', 'production_safety')),
    unit                 text,
    -- a reading past threshold_lN opens (or escalates to) a level-N alarm;
    -- level 1 is the highest. `direction` says which side is dangerous.
    direction            text NOT NULL DEFAULT 'above' CHECK (direction IN ('above', 'below')),
    threshold_l4         double precision,
    threshold_l3         double precision,
    threshold_l2         double precision,
    threshold_l1         double precision,
    expected_interval_s  integer NOT NULL DEFAULT 60 CHECK (expected_interval_s > 0),
    source               text NOT NULL DEFAULT 'unknown',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    geom                 geometry(Point, 4326) NOT NULL
);
CREATE INDEX monitoring_points_geom_idx ON monitoring_points USING gist (geom);
CREATE INDEX monitoring_points_risk_unit_idx ON monitoring_points (risk_unit_id);
CREATE INDEX monitoring_points_kind_idx ON monitoring_points (kind);
SELECT onemap_register_layer('monitoring_points');

-- Liveness of each monitoring point, written by reading ingestion.
CREATE TABLE monitoring_point_state (
    point_id         bigint PRIMARY KEY REFERENCES monitoring_points (id) ON DELETE CASCADE,
    last_reading_at  timestamptz NOT NULL,
    last_value       double precision NOT NULL
);

-- Readings: declaratively partitioned by time (one partition a day, created
-- ahead by onemap_ensure_reading_partitions); (point_id, ts) is the key so a
-- re-sent batch changes nothing.
CREATE TABLE readings (
    point_id  bigint NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision NOT NULL,
    PRIMARY KEY (point_id, ts)
) PARTITION BY RANGE (ts);

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

-- Alarm periods: one row per (point, level) period; an escalation ends the
-- row and opens a new one in the same episode, so any past as_of sees the
-- level that was active then. Nothing is deleted.
CREATE TABLE alarms (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    point_id       bigint NOT NULL REFERENCES monitoring_points (id),
    risk_unit_id   bigint REFERENCES risk_units (id) ON DELETE SET NULL,
    episode        text NOT NULL,
    level          smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
    value          double precision,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz CHECK (ended_at IS NULL OR ended_at >= started_at),
    end_reason     text CHECK (end_reason IN (
                     'escalated', 'deescalated', 'normal', 'false_alarm', 'manual')),
    false_alarm_at timestamptz,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX alarms_geom_idx ON alarms USING gist (geom);
CREATE INDEX alarms_unit_time_idx ON alarms (risk_unit_id, started_at);
CREATE INDEX alarms_point_open_idx ON alarms (point_id) WHERE ended_at IS NULL;
SELECT onemap_register_layer('alarms');

-- ---------------------------------------------------------------- events

CREATE TABLE hidden_hazards (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    risk_unit_id   bigint REFERENCES risk_units (id) ON DELETE SET NULL,
    severity       text NOT NULL CHECK (severity IN ('general', 'large', 'major')),
    status         text NOT NULL DEFAULT 'reported' CHECK (status IN (
                     'reported', 'assigned', 'rectifying', 'verified', 'closed')),
    description    text,
    reported_at    timestamptz NOT NULL,
    due_date       date,
    assignee       text,
    assigned_at    timestamptz,
    rectified_at   timestamptz,
    verified_at    timestamptz,
    closed_at      timestamptz,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX hidden_hazards_geom_idx ON hidden_hazards USING gist (geom);
CREATE INDEX hidden_hazards_unit_idx ON hidden_hazards (risk_unit_id);
SELECT onemap_register_layer('hidden_hazards');

-- Every status change of a hidden hazard (the dual-prevention loop).
CREATE TABLE hidden_hazard_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard_id    bigint NOT NULL REFERENCES hidden_hazards (id),
    from_status  text,
    to_status    text NOT NULL,
    at           timestamptz NOT NULL,
    actor        text,
    note         text
);
CREATE INDEX hidden_hazard_events_hazard_idx ON hidden_hazard_events (hazard_id, at);

CREATE TABLE accidents (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    risk_unit_id   bigint REFERENCES risk_units (id) ON DELETE SET NULL,
    grade          text NOT NULL CHECK (grade IN (
                     'general', 'large', 'major', 'especially_major')),
    occurred_at    timestamptz NOT NULL,
    deaths         integer NOT NULL DEFAULT 0 CHECK (deaths >= 0),
    injuries       integer NOT NULL DEFAULT 0 CHECK (injuries >= 0),
    description    text,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX accidents_geom_idx ON accidents USING gist (geom);
CREATE INDEX accidents_unit_time_idx ON accidents (risk_unit_id, occurred_at);
SELECT onemap_register_layer('accidents');

CREATE TABLE weather_warnings (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    type           text NOT NULL CHECK (type IN (
                     'rainstorm', 'heat', 'cold_wave', 'snowstorm', 'road_icing', 'gale',
                     'thunder_lightning', 'hail', 'fog', 'haze', 'dust_storm', 'drought')),
    colour         text NOT NULL CHECK (colour IN ('blue', 'yellow', 'orange', 'red')),
    valid_from     timestamptz NOT NULL,
    valid_to       timestamptz NOT NULL CHECK (valid_to > valid_from),
    cancelled_at   timestamptz,
    issuer         text,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX weather_warnings_geom_idx ON weather_warnings USING gist (geom);
CREATE INDEX weather_warnings_valid_idx ON weather_warnings (valid_from, valid_to);
SELECT onemap_register_layer('weather_warnings');

CREATE TABLE special_periods (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL CHECK (ends_at > starts_at),
    cancelled_at   timestamptz,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- NULL: citywide
    geom           geometry(MultiPolygon, 4326)
);
CREATE INDEX special_periods_geom_idx ON special_periods USING gist (geom);
SELECT onemap_register_layer('special_periods');

-- ---------------------------------------------------------------- lifelines

CREATE TABLE lifelines (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('gas', 'water', 'drainage', 'heat', 'power')),
    material       text,
    diameter_mm    double precision CHECK (diameter_mm > 0),
    pressure_mpa   double precision CHECK (pressure_mpa >= 0),
    voltage_kv     double precision CHECK (voltage_kv > 0),
    laid_year      integer CHECK (laid_year BETWEEN 1900 AND 2100),
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(MultiLineString, 4326) NOT NULL
);
CREATE INDEX lifelines_geom_idx ON lifelines USING gist (geom);
SELECT onemap_register_layer('lifelines');

-- ---------------------------------------------------------------- response resources

CREATE TABLE shelters (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    type           text NOT NULL CHECK (type IN ('emergency', 'fixed', 'central')),
    capacity       integer NOT NULL CHECK (capacity >= 0),
    area_m2        double precision CHECK (area_m2 >= 0),
    occupied       integer NOT NULL DEFAULT 0 CHECK (occupied >= 0),
    address        text,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Geometry, 4326) NOT NULL
                   CHECK (GeometryType(geom) IN ('POINT', 'MULTIPOLYGON'))
);
CREATE INDEX shelters_geom_idx ON shelters USING gist (geom);
SELECT onemap_register_layer('shelters');

CREATE TABLE reserve_depots (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    level          text NOT NULL CHECK (level IN ('city', 'district', 'street')),
    manager        text,
    contact        text,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX reserve_depots_geom_idx ON reserve_depots USING gist (geom);
SELECT onemap_register_layer('reserve_depots');

CREATE TABLE depot_stock (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    depot_id       bigint NOT NULL REFERENCES reserve_depots (id) ON DELETE CASCADE,
    item_type      text NOT NULL,
    quantity       integer NOT NULL CHECK (quantity >= 0),
    unit           text NOT NULL DEFAULT 'piece',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (depot_id, item_type)
);
CREATE INDEX depot_stock_item_idx ON depot_stock (item_type, quantity);

CREATE TABLE capacity_enterprises (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    industry       text,
    contact        text,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX capacity_enterprises_geom_idx ON capacity_enterprises USING gist (geom);
SELECT onemap_register_layer('capacity_enterprises');

-- What a capacity-guarantee enterprise can supply, and how much.
CREATE TABLE enterprise_capacity (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enterprise_id  bigint NOT NULL REFERENCES capacity_enterprises (id) ON DELETE CASCADE,
    item_type      text NOT NULL,
    quantity       integer NOT NULL CHECK (quantity >= 0),
    unit           text NOT NULL DEFAULT 'piece',
    UNIQUE (enterprise_id, item_type)
);

CREATE TABLE rescue_teams (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('professional', 'social')),
    speciality     text NOT NULL,
    headcount      integer NOT NULL CHECK (headcount >= 0),
    equipment      text,
    contact        text,
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX rescue_teams_geom_idx ON rescue_teams USING gist (geom);
SELECT onemap_register_layer('rescue_teams');

CREATE TABLE broadcasts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    kind           text NOT NULL DEFAULT 'loudspeaker' CHECK (kind IN (
                     'loudspeaker', 'led_screen', 'radio')),
    status         text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline')),
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX broadcasts_geom_idx ON broadcasts USING gist (geom);
SELECT onemap_register_layer('broadcasts');

CREATE TABLE vulnerable_sites (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    kind           text NOT NULL CHECK (kind IN (
                     'school', 'kindergarten', 'hospital', 'nursing_home')),
    occupants      integer CHECK (occupants >= 0),
    source         text NOT NULL DEFAULT 'unknown',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    geom           geometry(Point, 4326) NOT NULL
);
CREATE INDEX vulnerable_sites_geom_idx ON vulnerable_sites USING gist (geom);
SELECT onemap_register_layer('vulnerable_sites');

-- ---------------------------------------------------------------- grading

-- Versioned grading parameter sets (docs/grading-model.md): a change makes a new
-- version; exactly one is active.
CREATE TABLE grading_param_sets (
    version     integer PRIMARY KEY,
    params      jsonb NOT NULL,
    note        text,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    active      boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX grading_param_sets_one_active ON grading_param_sets (active) WHERE active;

-- Every level change of a risk unit, with the explanation that decided it.
CREATE TABLE grade_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    risk_unit_id    bigint NOT NULL REFERENCES risk_units (id) ON DELETE CASCADE,
    as_of           timestamptz NOT NULL,
    from_level      text CHECK (from_level IN ('low', 'general', 'large', 'major')),
    to_level        text NOT NULL CHECK (to_level IN ('low', 'general', 'large', 'major')),
    r               double precision NOT NULL,
    r0              double precision NOT NULL,
    param_version   integer NOT NULL REFERENCES grading_param_sets (version),
    explanation     jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grade_history_unit_idx ON grade_history (risk_unit_id, as_of DESC);
