-- The staging table an import or the demo fills before api.routing.build makes the network.
-- One row per line; `source_node`/`target_node` are OpenStreetMap node ids when known.
CREATE TEMP TABLE road_input (
    code         text,
    name         text,
    road_class   text NOT NULL,
    speed_kmh    double precision,
    oneway       boolean NOT NULL DEFAULT false,
    closed       boolean NOT NULL DEFAULT false,
    osm_way      bigint,
    source_node  bigint,
    target_node  bigint,
    geom         geometry(LineString, 4326) NOT NULL
) ON COMMIT DROP
