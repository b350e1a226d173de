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
), cells AS (
    SELECT c."district",
           c."population" AS people,
           coalesce((SELECT onemap_population_in(
                                c."geom", c."population",
                                ST_Union(ST_Buffer(s."geom"::geography, $1, 'quad_segs=16')::geometry))
                       FROM shelters s
                      WHERE s."geom" && onemap_expand_m(c."geom", $1)
                        AND ST_DWithin(s."geom"::geography, c."geom"::geography, $1)), 0) AS covered
      FROM population_cells c
      JOIN d ON d."code" = c."district"
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
        'geometry', CASE WHEN $3 THEN ST_AsGeoJSON(r."geom", 6)::json END,
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
