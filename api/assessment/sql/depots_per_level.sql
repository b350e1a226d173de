-- Reserve depots per administrative level: the share of districts holding at least one
-- district-level depot; the city- and street-level depots counted beside.
WITH d AS (
    SELECT di.code, EXISTS (SELECT 1 FROM reserve_depots r
                            WHERE r.district = di.code AND r.level = 'district') AS has_depot
    FROM districts di
), l AS (
    SELECT count(*) FILTER (WHERE level = 'city') AS city,
           count(*) FILTER (WHERE level = 'district') AS district,
           count(*) FILTER (WHERE level = 'street') AS street
    FROM reserve_depots
)
SELECT count(*) FILTER (WHERE has_depot)::numeric AS numerator, count(*)::numeric AS denominator,
       CASE WHEN count(*) > 0 THEN round(count(*) FILTER (WHERE has_depot)::numeric / count(*), 4)
       END AS value,
       jsonb_build_object('city', max(l.city), 'district', max(l.district),
                          'street', max(l.street),
                          'districts_without', coalesce(jsonb_agg(d.code ORDER BY d.code)
                              FILTER (WHERE NOT has_depot), '[]'::jsonb)) AS records
FROM d, l;
