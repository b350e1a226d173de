-- onemap 0006: helpers for metre-based analysis over EPSG:4326 geometries.
--
-- Distances are measured on the WGS84 spheroid (geography). The GiST indexes
-- are on the stored geometry (degrees), so every metre query first narrows the
-- candidates with `geom && onemap_expand_m(g, metres)`: the bounding box of g
-- grown by at least `metres` in every direction, whatever the latitude.

-- The envelope of g grown by `metres` (never less: a conservative box).
--   latitude:  one degree of a meridian is >= 110,574 m, so metres / 110,000 deg
--              is more than enough;
--   longitude: one degree of a parallel at latitude phi is >= 111,319 m * cos(phi);
--              phi is taken at the box edge farthest from the equator.
CREATE OR REPLACE FUNCTION onemap_expand_m(g geometry, metres double precision)
RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ST_Expand(
        ST_Envelope(g),
        metres / (111000.0 * cos(radians(least(89.0,
            greatest(abs(ST_YMin(g)), abs(ST_YMax(g))) + metres / 110000.0)))),
        metres / 110000.0)
$$;

-- Residents of a population cell that live inside `zone`, weighted by the share
-- of the cell's area (on the spheroid) that the zone covers.
CREATE OR REPLACE FUNCTION onemap_population_in(
    cell geometry, population double precision, zone geometry)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN ST_CoveredBy(cell, zone) THEN population
        WHEN NOT ST_Intersects(cell, zone) THEN 0.0
        ELSE population * ST_Area(ST_CollectionExtract(ST_Intersection(cell, zone), 3)::geography)
                        / nullif(ST_Area(cell::geography), 0)
    END
$$;
