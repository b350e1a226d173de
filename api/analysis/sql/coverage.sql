-- /analysis/coverage: per district, the residents living within $1 metres of a shelter and
-- the shelter places per resident.
-- $1 distance (m)   $2 district codes (NULL: all)   $3 include district geometry
--
-- Residents come from the population grid: a cell's residents count as covered in
-- proportion to the share of its area within $1 m of any shelter (the union of the
-- shelters' geodesic buffers, onemap_population_in). Places are the capacity of the
-- shelters registered to the district.
WITH d AS (
    SELECT "code", "name", "adcode", "population" AS census_population, "geom"
      FROM districts
     WHERE $2::text[] IS NULL OR "code" = ANY($2::text[])
), c AS (
    SELECT c.id, c."district", c."population", c."geom"
      FROM population_cells c JOIN d ON d."code" = c."district"
), near AS (
    -- (cell, shelter) candidates: the shelter within the cell's box grown by $1 m (GiST)
    SELECT c.id AS cell, s.id AS shelter
      FROM c JOIN shelters s ON s."geom" && onemap_expand_m(c."geom", $1)
), buffers AS MATERIALIZED (
    -- each candidate shelter's geodesic buffer, computed once
    SELECT s.id, ST_Buffer(s."geom"::geography, $1, 'quad_segs=16')::geometry AS zone
      FROM shelters s WHERE s.id IN (SELECT shelter FROM near)
), pairs AS (
    -- the pairs whose buffer reaches the cell
    SELECT n.cell, n.shelter
      FROM near n JOIN c ON c.id = n.cell JOIN buffers b ON b.id = n.shelter
     WHERE b.zone && c."geom" AND ST_Intersects(b.zone, c."geom")
), full_cover AS (
    -- cells one buffer covers alone need no union
    SELECT p.cell, bool_or(ST_CoveredBy(c."geom", b.zone)) AS covered
      FROM pairs p JOIN c ON c.id = p.cell JOIN buffers b ON b.id = p.shelter
     GROUP BY p.cell
), partial AS (
    SELECT p.cell, ST_Union(b.zone) AS zone
      FROM pairs p JOIN buffers b ON b.id = p.shelter
     WHERE p.cell IN (SELECT cell FROM full_cover WHERE NOT covered)
     GROUP BY p.cell
), cells AS (
    SELECT c."district", c."population" AS people,
           CASE WHEN f.covered THEN c."population"::float8
                WHEN z.zone IS NULL THEN 0.0
                ELSE onemap_population_in(c."geom", c."population", z.zone) END AS covered
      FROM c
      LEFT JOIN full_cover f ON f.cell = c.id
      LEFT JOIN partial z ON z.cell = c.id
), pop AS (
    SELECT "district", sum(people) AS people, sum(covered) AS covered FROM cells GROUP BY 1
), places AS (
    SELECT s."district", count(*) AS shelters, sum(s."capacity") AS capacity
      FROM shelters s JOIN d ON d."code" = s."district" GROUP BY 1
), rows AS (
    SELECT d."code", d."name", d."adcode", d.census_population, d."geom",
           coalesce(pop.people, 0) AS people, coalesce(pop.covered, 0) AS covered,
           coalesce(places.shelters, 0) AS shelters, coalesce(places.capacity, 0) AS capacity
      FROM d
      LEFT JOIN pop ON pop."district" = d."code"
      LEFT JOIN places ON places."district" = d."code"
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'distance_m', $1::float8,
    'summary', (SELECT json_build_object(
        'population', coalesce(sum(people), 0),
        'covered_population', round(coalesce(sum(covered), 0)::numeric, 1),
        'covered_share', round((sum(covered) / nullif(sum(people), 0))::numeric, 4),
        'shelters', coalesce(sum(shelters), 0),
        'shelter_capacity', coalesce(sum(capacity), 0),
        'capacity_per_resident', round((sum(capacity) / nullif(sum(people), 0))::numeric, 4))
        FROM rows),
    'features', coalesce((SELECT json_agg(json_build_object(
        'type', 'Feature', 'id', r."code",
        'geometry', CASE WHEN $3 THEN ST_AsGeoJSON(ST_ForcePolygonCCW(r."geom"), 6)::json END,
        'properties', json_build_object(
            'code', r."code", 'name', r."name", 'adcode', r."adcode",
            'census_population', r.census_population,
            'population', r.people,
            'covered_population', round(r.covered::numeric, 1),
            'covered_share', round((r.covered / nullif(r.people, 0))::numeric, 4),
            'shelters', r.shelters,
            'shelter_capacity', r.capacity,
            'capacity_per_resident', round((r.capacity::numeric / nullif(r.people, 0)), 4)))
        ORDER BY r."code") FROM rows r), '[]'::json)
)::text
