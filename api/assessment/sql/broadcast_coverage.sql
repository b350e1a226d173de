-- Broadcast coverage: villages (communities) with an emergency broadcast over all villages, in
-- the areas whose row of area_statistics gives both; terminals online counted beside.
WITH a AS (
    SELECT coalesce(sum(villages_with_broadcasts), 0) AS covered, coalesce(sum(villages), 0) AS all_v,
           count(*) AS areas,
           jsonb_object_agg(area, CASE WHEN villages > 0
                                       THEN round(villages_with_broadcasts::numeric / villages, 4)
                                  END ORDER BY area) AS by_area
    FROM area_statistics WHERE villages_with_broadcasts IS NOT NULL AND villages IS NOT NULL
), b AS (
    SELECT count(*) AS terminals, count(*) FILTER (WHERE status = 'online') AS online
    FROM broadcasts
)
SELECT a.covered::numeric AS numerator, a.all_v::numeric AS denominator,
       CASE WHEN a.all_v > 0 THEN round(a.covered::numeric / a.all_v, 4) END AS value,
       jsonb_build_object('areas', a.areas, 'by_area', a.by_area, 'terminals', b.terminals,
                          'online', b.online) AS records
FROM a, b;
