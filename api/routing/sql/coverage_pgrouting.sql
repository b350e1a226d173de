-- Coverage: how much of the city lies within each cut-off of the nearest of the sources
-- (the points in routing_points, all joined to one super-source, vertex 0, by free edges:
-- one Dijkstra for any number of sources). Residents: a population cell counts as
-- reached when its centre, snapped onto the nearest road, is; vulnerable sites likewise.
-- A place farther than $4 m from any road is not reached. Per district and cut-off.
-- $1 the largest cut-off (s)  $2 cut-offs (s)  $3 minutes per cut-off  $4 snap cap (m)
-- $5 with the unreached cells of the largest cut-off (GeoJSON)
WITH dd AS MATERIALIZED (
    SELECT node, agg_cost FROM pgr_drivingDistance(
        'SELECT id, source, target, cost_s AS cost, reverse_cost_s AS reverse_cost FROM roads
         UNION ALL
         SELECT id, source, target, cost, reverse_cost FROM routing_segments WHERE id < 0
         UNION ALL
         SELECT -1000000000000 - pid, 0::bigint, -pid::bigint, 0.0::float8, -1.0::float8
           FROM routing_points',
        0::bigint, $1::float8, true)
), targets AS (
    SELECT 'cell' AS what, c.id, c.district, c.population::float8 AS people,
           NULL::text AS site_kind, ST_PointOnSurface(c.geom) AS g
      FROM population_cells c
    UNION ALL
    SELECT 'site', v.id, v.district, 0.0, v.kind, v.geom FROM vulnerable_sites v
), snapped AS MATERIALIZED (
    -- the snap the last build stored, else (a place added or moved since) snapped now
    SELECT t.*, coalesce(c.edge, s.edge) AS edge, coalesce(c.fraction, s.fraction) AS fraction
      FROM targets t
      LEFT JOIN road_snaps c
             ON c.what = t.what AND c.id = t.id AND ST_OrderingEquals(c.g, t.g)
            AND c.distance_m <= $4
      LEFT JOIN LATERAL (
        SELECT n.id AS edge, ST_LineLocatePoint(n.geom, t.g) AS fraction
          FROM (SELECT r.id, r.geom FROM roads r WHERE NOT r.closed
                 ORDER BY r.geom <-> t.g LIMIT 1) n
         WHERE c.id IS NULL AND NOT EXISTS (
                   SELECT 1 FROM road_snaps o WHERE o.what = t.what AND o.id = t.id
                      AND ST_OrderingEquals(o.g, t.g))
           AND ST_DWithin(n.geom::geography, t.g::geography, $4)) s ON true
), timed AS MATERIALIZED (
    -- the time at the snapped place: from the segment's reached ends, along the segment
    SELECT sn.what, sn.id, sn.district, sn.people, sn.site_kind, min(x.t) AS t
      FROM snapped sn
      LEFT JOIN routing_segments s
             ON s.edge = sn.edge AND sn.fraction BETWEEN s.f0 AND s.f1
      LEFT JOIN roads r ON r.id = sn.edge
      LEFT JOIN dd a ON a.node = s.source
      LEFT JOIN dd b ON b.node = s.target
      LEFT JOIN LATERAL (VALUES
            (CASE WHEN r.cost_s >= 0 THEN a.agg_cost + (sn.fraction - s.f0) * r.cost_s END),
            (CASE WHEN r.reverse_cost_s >= 0
                  THEN b.agg_cost + (s.f1 - sn.fraction) * r.reverse_cost_s END)) x(t) ON true
     GROUP BY sn.what, sn.id, sn.district, sn.people, sn.site_kind
), cutoffs AS (
    SELECT t, minutes FROM unnest($2::float8[], $3::int[]) AS c(t, minutes)
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
    'unreached', CASE WHEN $5 THEN json_build_object(
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
