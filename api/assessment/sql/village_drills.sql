-- Grassroots drills: drills held by villages (communities) per village, and the people who took
-- part, in the areas whose row of area_statistics gives them (issue 18).
SELECT coalesce(sum(village_drills), 0)::numeric AS numerator,
       coalesce(sum(villages), 0)::numeric AS denominator,
       CASE WHEN sum(villages) > 0 THEN round(sum(village_drills)::numeric / sum(villages), 4) END
           AS value,
       jsonb_build_object('by_area', jsonb_object_agg(area, CASE WHEN villages > 0
                              THEN round(village_drills::numeric / villages, 4) END ORDER BY area),
                          'areas', count(*), 'people', coalesce(sum(village_drill_people), 0))
           AS records
FROM area_statistics WHERE village_drills IS NOT NULL AND villages IS NOT NULL;
