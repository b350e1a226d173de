-- Refresh the cached exposure of risk units: people within the radius
-- (population cells weighted by the share of their area inside the buffer)
-- and the vulnerable sites within it. Only rows that are missing or whose
-- stamp differs are computed.
--
-- $1 numeric  radius in metres
-- $2 text     the radius as the stamp writes it (onemap_exposure_stamp: population_cells
--             version : vulnerable_sites version : radius)
-- [$3 bigint[] unit ids, "units" variant]
WITH p AS (SELECT $1::numeric AS radius, onemap_exposure_stamp($2::text) AS stamp),
todo AS (
    SELECT ru.id, ru.geom,
           $1::double precision
           / (111000.0 * cos(radians(least(80.0, greatest(abs(ST_YMin(ru.geom)),
                                                           abs(ST_YMax(ru.geom)))))))
           * 1.05 AS deg
      FROM risk_units ru
      LEFT JOIN risk_unit_exposure e ON e.risk_unit_id = ru.id
     CROSS JOIN p
     WHERE {{in_units_ru}} AND (e.risk_unit_id IS NULL OR e.stamp <> p.stamp)
),
calc AS (
    SELECT t.id,
           coalesce((
               SELECT sum(c.population * CASE WHEN ST_CoveredBy(c.geom, b.buf) THEN 1.0
                                              ELSE ST_Area(ST_Intersection(c.geom, b.buf))
                                                   / nullif(ST_Area(c.geom), 0) END)
                 FROM population_cells c
                WHERE c.geom && b.buf AND ST_Intersects(c.geom, b.buf)), 0) AS population,
           ARRAY(SELECT v.code FROM vulnerable_sites v
                  WHERE v.geom && ST_Expand(t.geom, t.deg)
                    AND ST_DWithin(v.geom::geography, t.geom::geography, p.radius::float8)
                  ORDER BY v.code) AS sites
      FROM todo t
     CROSS JOIN p
     CROSS JOIN LATERAL (
           SELECT ST_Buffer(t.geom::geography, p.radius::float8)::geometry AS buf) b
)
INSERT INTO risk_unit_exposure AS x (risk_unit_id, radius_m, population, vulnerable_site,
                                     vulnerable_sites, stamp, computed_at)
SELECT calc.id, p.radius, round(calc.population)::int, cardinality(calc.sites) > 0, calc.sites,
       p.stamp, now()
  FROM calc CROSS JOIN p
    ON CONFLICT (risk_unit_id) DO UPDATE
   SET radius_m = excluded.radius_m, population = excluded.population,
       vulnerable_site = excluded.vulnerable_site, vulnerable_sites = excluded.vulnerable_sites,
       stamp = excluded.stamp, computed_at = excluded.computed_at
