-- The tile's bounds, computed once per statement: the Web Mercator envelope
-- that ST_AsMVTGeom clips to, the same envelope grown by the buffer and
-- transformed to EPSG:4326 (so `geom && query` runs on the stored column's
-- GiST index), one tile unit in degrees (simplification tolerance) and the
-- clustering cell in metres. $1, $2, $3 are z, x, y.
tile_bounds AS MATERIALIZED (
    SELECT ST_TileEnvelope($1, $2, $3) AS tile,
           ST_Transform(ST_TileEnvelope($1, $2, $3, margin => {{margin}}), 4326) AS query,
           360.0 / ({{extent}} * 2 ^ $1) AS unit_deg,
           40075016.685578488 / 2 ^ $1 / {{cells}} AS cell
)
