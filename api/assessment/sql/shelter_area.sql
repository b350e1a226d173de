-- Shelter area per resident: shelters' area (m2) over the districts' residents; the district
-- with the least area per resident named in the records.
WITH s AS (
    SELECT di.code, di.population,
           coalesce((SELECT sum(area_m2) FROM shelters sh WHERE sh.district = di.code), 0) AS area
    FROM districts di
)
SELECT round(sum(area)::numeric, 1) AS numerator, sum(population)::numeric AS denominator,
       CASE WHEN sum(population) > 0 THEN round(sum(area)::numeric / sum(population), 4) END
           AS value,
       jsonb_build_object('least', (SELECT jsonb_build_object('district', code,
                                        'm2_per_resident', round(area::numeric / population, 4))
                                    FROM s WHERE population > 0
                                    ORDER BY area / population, code LIMIT 1)) AS records
FROM s;
