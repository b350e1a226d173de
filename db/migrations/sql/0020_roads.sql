-- onemap 0020: the road network for travel-time analysis (pgRouting).
--
-- `roads` holds one row per edge of a noded network: an edge ends at a vertex
-- (`road_vertices`) and meets other edges only at its ends. Costs are seconds:
-- `cost_s` from source to target, `reverse_cost_s` back; a negative cost means the
-- edge cannot be driven that way (pgRouting's convention: one-way streets, closures).
-- `origin` says where the edge came from (`demo-synthetic`, `osm:<file>`,
-- `import:<file>`); `road_class` keys the default speeds in `road_speeds`.
-- The network is built by api/routing/build.py (noding, vertices, costs, checks);
-- what its last build found (components, dead ends) is in onemap_meta['roads'].

CREATE EXTENSION IF NOT EXISTS pgrouting;

-- Default speed per road class (km/h), editable; an import may override them.
CREATE TABLE road_speeds (
    road_class  text PRIMARY KEY CHECK (road_class ~ '^[a-z_]{2,32}$'),
    speed_kmh   double precision NOT NULL CHECK (speed_kmh > 0 AND speed_kmh <= 150),
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER road_speeds_touch BEFORE UPDATE ON road_speeds
    FOR EACH ROW EXECUTE FUNCTION onemap_touch_updated_at();

-- OpenStreetMap highway classes; urban speeds (GB 50220 / CJJ 37 design speeds,
-- lowered for signals and traffic), see docs/routing.md.
INSERT INTO road_speeds (road_class, speed_kmh, description) VALUES
    ('motorway',       80, 'expressway, ring road (快速路)'),
    ('motorway_link',  40, 'expressway ramp'),
    ('trunk',          60, 'trunk road, radial (主干路, 国道)'),
    ('trunk_link',     35, 'trunk ramp'),
    ('primary',        45, 'arterial (主干路)'),
    ('primary_link',   30, 'arterial link'),
    ('secondary',      40, 'secondary arterial (次干路)'),
    ('secondary_link', 30, 'secondary link'),
    ('tertiary',       30, 'collector (支路)'),
    ('tertiary_link',  25, 'collector link'),
    ('unclassified',   40, 'rural road (县乡道)'),
    ('residential',    20, 'local street (街巷)'),
    ('living_street',  10, 'living street'),
    ('service',        15, 'service road'),
    ('road',           25, 'road of unknown class');

CREATE TABLE road_vertices (
    id          bigint PRIMARY KEY,
    -- the OpenStreetMap node, when the network came from OSM
    osm_node    bigint,
    -- connected component (undirected) found by the last build; the largest is 1
    component   integer,
    geom        geometry(Point, 4326) NOT NULL
);
CREATE INDEX road_vertices_geom_idx ON road_vertices USING gist (geom);

CREATE TABLE roads (
    id              bigint PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text,
    road_class      text NOT NULL CHECK (road_class ~ '^[a-z_]{2,32}$'),
    speed_kmh       double precision NOT NULL CHECK (speed_kmh > 0 AND speed_kmh <= 150),
    oneway          boolean NOT NULL DEFAULT false,
    closed          boolean NOT NULL DEFAULT false,
    -- vertices (no foreign key: the build writes both tables at once, consistently)
    source          bigint NOT NULL,
    target          bigint NOT NULL,
    length_m        double precision NOT NULL CHECK (length_m > 0),
    cost_s          double precision NOT NULL,
    reverse_cost_s  double precision NOT NULL,
    district        text,
    origin          text NOT NULL DEFAULT 'unknown',
    osm_way         bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    geom            geometry(LineString, 4326) NOT NULL,
    CHECK (NOT closed OR (cost_s < 0 AND reverse_cost_s < 0)),
    CHECK (NOT oneway OR reverse_cost_s < 0)
);
CREATE INDEX roads_geom_idx ON roads USING gist (geom);
CREATE INDEX roads_source_idx ON roads (source);
CREATE INDEX roads_target_idx ON roads (target);

-- Where the places coverage counts (population cells by their centre, vulnerable sites)
-- land on the network, computed by each build (a place added or moved since is snapped
-- when it is counted): `g` is the point that was snapped.
CREATE TABLE road_snaps (
    what        text NOT NULL CHECK (what IN ('cell', 'site')),
    id          bigint NOT NULL,
    g           geometry(Point, 4326) NOT NULL,
    edge        bigint NOT NULL,
    fraction    double precision NOT NULL,
    distance_m  double precision NOT NULL,
    PRIMARY KEY (what, id)
);
