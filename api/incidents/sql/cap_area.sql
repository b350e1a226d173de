-- A CAP area for a zone ($1 EWKB, EPSG:4326): its polygons simplified until they hold at most
-- $2 vertices in all (rings closed, exterior rings only: CAP polygons have no holes), as
-- "lat,lon" pairs; and the districts it touches (name, adcode), largest overlap first.
WITH z AS (SELECT ST_Force2D(ST_GeomFromEWKB($1)) AS g),
tol AS (
    SELECT t, ST_SimplifyPreserveTopology(z.g, t) AS g
      FROM z, unnest(ARRAY[0, 1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2,
                           5e-2]::float8[]) WITH ORDINALITY AS u(t, n)
     ORDER BY n
),
pick AS (
    SELECT g FROM tol
     WHERE (SELECT sum(ST_NPoints(ST_ExteriorRing(d.geom))) FROM ST_Dump(tol.g) d) <= $2
     LIMIT 1
),
rings AS (
    SELECT d.path[1] AS n, ST_ExteriorRing(ST_ForcePolygonCCW(d.geom)) AS ring
      FROM pick, ST_Dump(pick.g) d
     WHERE GeometryType(d.geom) = 'POLYGON'
)
SELECT ARRAY(
           SELECT (SELECT string_agg(round(ST_Y(p.geom)::numeric, 6) || ','
                                     || round(ST_X(p.geom)::numeric, 6), ' ' ORDER BY p.path)
                     FROM ST_DumpPoints(r.ring) p)
             FROM rings r ORDER BY r.n) AS polygons,
       ARRAY(SELECT d.name FROM districts d, z WHERE ST_Intersects(d.geom, z.g)
              ORDER BY ST_Area(ST_Intersection(d.geom, z.g)) DESC) AS district_names,
       ARRAY(SELECT d.adcode FROM districts d, z WHERE ST_Intersects(d.geom, z.g)
              ORDER BY ST_Area(ST_Intersection(d.geom, z.g)) DESC) AS adcodes
