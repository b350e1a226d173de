-- Grassroots shelters: towns and streets with a shelter over all towns and streets, in the areas
-- whose row of area_statistics gives the count (issue 18).
SELECT coalesce(sum(towns_with_shelters), 0)::numeric AS numerator,
       coalesce(sum(towns), 0)::numeric AS denominator,
       CASE WHEN sum(towns) > 0 THEN round(sum(towns_with_shelters)::numeric / sum(towns), 4) END
           AS value,
       jsonb_build_object('by_area', jsonb_object_agg(area, CASE WHEN towns > 0
                              THEN round(towns_with_shelters::numeric / towns, 4) END ORDER BY area),
                          'areas', count(*)) AS records
FROM area_statistics WHERE towns_with_shelters IS NOT NULL;
