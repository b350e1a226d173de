-- Coverage, per district and cut-off: the residents and vulnerable sites within each cut-off
-- of the nearest source, from the times api.routing.engine.coverage found on the in-memory
-- network (the places not given were not reached: farther than the snap cap from a road, or
-- beyond the largest cut-off's search).
-- $1 cut-offs (s)  $2 minutes per cut-off  $3 with the unreached cells of the largest
-- cut-off (GeoJSON)  $4 is a cell  $5 id  $6 seconds (places reached only)
WITH tt AS (
    SELECT * FROM unnest($4::bool[], $5::bigint[], $6::float8[]) AS u(cell, id, t)
), timed AS MATERIALIZED (
    SELECT 'cell' AS what, c.id, c.district, c.population::float8 AS people,
           NULL::text AS site_kind, tt.t
      FROM population_cells c LEFT JOIN tt ON tt.cell AND tt.id = c.id
    UNION ALL
    SELECT 'site', v.id, v.district, 0.0, v.kind, tt.t
      FROM vulnerable_sites v LEFT JOIN tt ON NOT tt.cell AND tt.id = v.id
), cutoffs AS (
    SELECT t, minutes FROM unnest($1::float8[], $2::int[]) AS c(t, minutes)
), rows_ AS (
    SELECT c.minutes, d.code, d.name,
           sum(tm.people) FILTER (WHERE tm.what = 'cell') AS population,
           sum(tm.people) FILTER (WHERE tm.what = 'cell' AND tm.t <= c.t) AS reached,
           count(*) FILTER (WHERE tm.what = 'site') AS sites,
           count(*) FILTER (WHERE tm.what = 'site' AND tm.t <= c.t) AS sites_reached
      FROM cutoffs c CROSS JOIN districts d
      LEFT JOIN timed tm ON tm.district = d.code
     GROUP BY c.minutes, d.code, d.name
), kinds AS (
    SELECT c.minutes, tm.district, tm.site_kind,
           count(*) AS n, count(*) FILTER (WHERE tm.t <= c.t) AS reached
      FROM cutoffs c CROSS JOIN timed tm
     WHERE tm.what = 'site'
     GROUP BY 1, 2, 3
), block AS (
    SELECT r.minutes, r.code, json_build_object(
        'minutes', r.minutes,
        'population', round(coalesce(r.population, 0)),
        'population_reached', round(coalesce(r.reached, 0)),
        'population_not_reached', round(coalesce(r.population, 0) - coalesce(r.reached, 0)),
        'population_reached_share',
            round((coalesce(r.reached, 0) / nullif(r.population, 0))::numeric, 4),
        'vulnerable_sites', r.sites,
        'vulnerable_sites_reached', r.sites_reached,
        'vulnerable_sites_not_reached', r.sites - r.sites_reached,
        'vulnerable_sites_by_kind', coalesce((
            SELECT json_object_agg(k.site_kind, json_build_object(
                       'reached', k.reached, 'not_reached', k.n - k.reached)
                       ORDER BY k.site_kind)
              FROM kinds k WHERE k.minutes = r.minutes AND k.district = r.code), '{}'::json)
    ) AS j
      FROM rows_ r
), city AS (
    SELECT c.minutes, json_build_object(
        'minutes', c.minutes,
        'population', round(coalesce(sum(tm.people) FILTER (WHERE tm.what = 'cell'), 0)),
        'population_reached', round(coalesce(sum(tm.people)
            FILTER (WHERE tm.what = 'cell' AND tm.t <= c.t), 0)),
        'population_not_reached', round(coalesce(sum(tm.people)
            FILTER (WHERE tm.what = 'cell' AND tm.t IS DISTINCT FROM NULL AND tm.t > c.t
                          OR tm.what = 'cell' AND tm.t IS NULL), 0)),
        'vulnerable_sites', count(*) FILTER (WHERE tm.what = 'site'),
        'vulnerable_sites_reached', count(*) FILTER (WHERE tm.what = 'site' AND tm.t <= c.t),
        'vulnerable_sites_not_reached', count(*) FILTER (WHERE tm.what = 'site'
            AND (tm.t IS NULL OR tm.t > c.t))) AS j
      FROM cutoffs c CROSS JOIN timed tm GROUP BY c.minutes
)
SELECT json_build_object(
    'city', (SELECT json_agg(j ORDER BY minutes) FROM city),
    'districts', (SELECT json_agg(json_build_object(
            'code', d.code, 'name', d.name,
            'coverage', (SELECT json_agg(b.j ORDER BY b.minutes) FROM block b WHERE b.code = d.code))
            ORDER BY d.code) FROM districts d),
    'unreached', CASE WHEN $3 THEN json_build_object(
        'type', 'FeatureCollection',
        'features', coalesce((SELECT json_agg(json_build_object(
            'type', 'Feature', 'id', c.code,
            'geometry', ST_AsGeoJSON(c.geom, 6)::json,
            'properties', json_build_object(
                'code', c.code, 'district', c.district, 'population', c.population,
                'minutes', round((tm.t / 60.0)::numeric, 1))) ORDER BY c.code)
            FROM timed tm JOIN population_cells c ON c.id = tm.id
           WHERE tm.what = 'cell' AND c.population > 0
             AND (tm.t IS NULL OR tm.t > (SELECT max(t) FROM cutoffs))), '[]'::json))
    END
)::text
