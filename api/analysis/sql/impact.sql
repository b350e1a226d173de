-- /analysis/impact: a hazard at a point or feature with a radius, or a polygon (radius >= 0).
-- $1 hazard geometry (WKB, EPSG:4326)   $2 radius (m)   $3 result cap (units + sites)
-- $4 most shelters to propose   $5 nearest rescue teams   $6 nearest reserve depots
--
-- zone:       the hazard grown by the radius on the spheroid (a 128-gon round a point)
-- units/sites: risk units and vulnerable sites within the radius (exact distance)
-- population: residents of the grid cells the zone covers, area-weighted for cells it
--             covers in part (onemap_population_in)
-- shelters:   outside the zone, with free places, nearest first, as many as it takes to
--             house the population (at most $4); teams and depots: the nearest $5 / $6.
--             Nearest in metres: KNN in degrees bounds the reach, then exact ordering
--             (see nearest.sql).
WITH q AS MATERIALIZED (
    SELECT g, g::geography AS gg, onemap_expand_m(g, $2) AS box,
           CASE WHEN $2 > 0 THEN ST_Buffer(g::geography, $2, 'quad_segs=32')::geometry
                ELSE g END AS zone
      FROM (SELECT ST_GeomFromWKB($1, 4326) AS g) s
), units AS (
    SELECT * FROM (SELECT t.*, ST_Distance(t."geom"::geography, q.gg) AS distance_m
                     FROM risk_units t, q WHERE t."geom" && q.box OFFSET 0) x
     WHERE x.distance_m <= $2
     LIMIT $3 + 1
), sites AS (
    SELECT * FROM (SELECT t.*, ST_Distance(t."geom"::geography, q.gg) AS distance_m
                     FROM vulnerable_sites t, q WHERE t."geom" && q.box OFFSET 0) x
     WHERE x.distance_m <= $2
     LIMIT $3 + 1
), pop AS (
    SELECT coalesce(sum(p.people), 0) AS people,
           count(*) FILTER (WHERE p.people > 0) AS cells
      FROM (SELECT onemap_population_in(c."geom", c."population", q.zone) AS people
              FROM population_cells c, q
             WHERE c."geom" && q.zone) p
), shelter_cand AS (
    SELECT t."geom" FROM shelters t
     WHERE t."capacity" > t."occupied" AND NOT ST_Intersects(t."geom", (SELECT zone FROM q))
     ORDER BY t."geom" <-> (SELECT g FROM q)
     LIMIT $4
), shelters_near AS (
    SELECT x.*, sum(x.free) OVER (ORDER BY x.distance_m, x."code") AS cumulative_free,
           row_number() OVER (ORDER BY x.distance_m, x."code") AS rank
      FROM (SELECT t.*, ST_Distance(t."geom"::geography, q.gg) AS distance_m,
                   t."capacity" - t."occupied" AS free
              FROM shelters t, q,
                   (SELECT max(ST_Distance(c."geom"::geography, q.gg)) + 0.01 AS d
                      FROM shelter_cand c, q) r
             WHERE t."geom" && onemap_expand_m(q.g, r.d)
               AND ST_DWithin(t."geom"::geography, q.gg, r.d)
               AND t."capacity" > t."occupied" AND NOT ST_Intersects(t."geom", q.zone)
             ORDER BY distance_m, t."code"
             LIMIT $4) x
), shelters_used AS (
    SELECT s.* FROM shelters_near s, pop WHERE s.cumulative_free - s.free < ceil(pop.people)
), team_cand AS (
    SELECT t."geom" FROM rescue_teams t ORDER BY t."geom" <-> (SELECT g FROM q) LIMIT $5
), teams AS (
    SELECT x.*, row_number() OVER (ORDER BY x.distance_m, x."code") AS rank
      FROM (SELECT t.*, ST_Distance(t."geom"::geography, q.gg) AS distance_m
              FROM rescue_teams t, q,
                   (SELECT max(ST_Distance(c."geom"::geography, q.gg)) + 0.01 AS d
                      FROM team_cand c, q) r
             WHERE t."geom" && onemap_expand_m(q.g, r.d)
               AND ST_DWithin(t."geom"::geography, q.gg, r.d)
             ORDER BY distance_m, t."code"
             LIMIT $5) x
), depot_cand AS (
    SELECT t."geom" FROM reserve_depots t ORDER BY t."geom" <-> (SELECT g FROM q) LIMIT $6
), depots AS (
    SELECT x.*, row_number() OVER (ORDER BY x.distance_m, x."code") AS rank
      FROM (SELECT t.*, ST_Distance(t."geom"::geography, q.gg) AS distance_m
              FROM reserve_depots t, q,
                   (SELECT max(ST_Distance(c."geom"::geography, q.gg)) + 0.01 AS d
                      FROM depot_cand c, q) r
             WHERE t."geom" && onemap_expand_m(q.g, r.d)
               AND ST_DWithin(t."geom"::geography, q.gg, r.d)
             ORDER BY distance_m, t."code"
             LIMIT $6) x
), features AS (
    SELECT 0 AS grp, 0::bigint AS ord, json_build_object(
               'type', 'Feature', 'id', 'impact_zone',
               'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(q.zone), 7)::json,
               'properties', json_build_object(
                   'role', 'impact_zone', 'radius_m', $2::float8,
                   'area_m2', round(ST_Area(q.zone::geography)::numeric))) AS f
      FROM q
    UNION ALL
    SELECT 1, row_number() OVER (ORDER BY x.distance_m, x."code"), json_build_object(
               'type', 'Feature', 'id', 'risk_units/' || x."code",
               'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
               'properties', json_build_object(
                   'role', 'risk_unit', 'layer', 'risk_units',
                   'distance_m', round(x.distance_m::numeric, 2), {{unit_props}}))
      FROM units x
    UNION ALL
    SELECT 2, row_number() OVER (ORDER BY x.distance_m, x."code"), json_build_object(
               'type', 'Feature', 'id', 'vulnerable_sites/' || x."code",
               'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
               'properties', json_build_object(
                   'role', 'vulnerable_site', 'layer', 'vulnerable_sites',
                   'distance_m', round(x.distance_m::numeric, 2), {{site_props}}))
      FROM sites x
    UNION ALL
    SELECT 3, x.rank, json_build_object(
               'type', 'Feature', 'id', 'shelters/' || x."code",
               'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
               'properties', json_build_object(
                   'role', 'shelter', 'layer', 'shelters', 'rank', x.rank,
                   'distance_m', round(x.distance_m::numeric, 2),
                   'cumulative_free_capacity', x.cumulative_free, {{shelter_props}}))
      FROM shelters_used x
    UNION ALL
    SELECT 4, x.rank, json_build_object(
               'type', 'Feature', 'id', 'rescue_teams/' || x."code",
               'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
               'properties', json_build_object(
                   'role', 'rescue_team', 'layer', 'rescue_teams', 'rank', x.rank,
                   'distance_m', round(x.distance_m::numeric, 2), {{team_props}}))
      FROM teams x
    UNION ALL
    SELECT 5, x.rank, json_build_object(
               'type', 'Feature', 'id', 'reserve_depots/' || x."code",
               'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
               'properties', json_build_object(
                   'role', 'reserve_depot', 'layer', 'reserve_depots', 'rank', x.rank,
                   'distance_m', round(x.distance_m::numeric, 2), {{depot_props}}))
      FROM depots x
)
SELECT CASE WHEN (SELECT count(*) FROM units) + (SELECT count(*) FROM sites) > $3
    THEN NULL ELSE json_build_object(
    'type', 'FeatureCollection',
    'summary', json_build_object(
        'radius_m', $2::float8,
        'zone_area_m2', (SELECT round(ST_Area(zone::geography)::numeric) FROM q),
        'risk_units', json_build_object(
            'total', (SELECT count(*) FROM units),
            'by_level', (SELECT coalesce(json_object_agg(l, n ORDER BY l), '{}'::json)
                           FROM (SELECT coalesce("current_level", 'ungraded') AS l, count(*) AS n
                                   FROM units GROUP BY 1) c),
            'by_category', (SELECT coalesce(json_object_agg(l, n ORDER BY l), '{}'::json)
                              FROM (SELECT "category" AS l, count(*) AS n
                                      FROM units GROUP BY 1) c)),
        'vulnerable_sites', json_build_object(
            'total', (SELECT count(*) FROM sites),
            'occupants', (SELECT coalesce(sum("occupants"), 0) FROM sites),
            'by_kind', (SELECT coalesce(json_object_agg(l, n ORDER BY l), '{}'::json)
                          FROM (SELECT "kind" AS l, count(*) AS n FROM sites GROUP BY 1) c)),
        'population', (SELECT round(people::numeric, 1) FROM pop),
        'population_cells', (SELECT cells FROM pop),
        'shelters', json_build_object(
            'count', (SELECT count(*) FROM shelters_used),
            'free_capacity', (SELECT coalesce(sum(free), 0) FROM shelters_used),
            'population_unsheltered', (SELECT greatest(0, ceil(pop.people)
                                              - coalesce((SELECT sum(free) FROM shelters_used), 0))
                                         FROM pop)),
        'rescue_teams', json_build_object(
            'count', (SELECT count(*) FROM teams),
            'headcount', (SELECT coalesce(sum("headcount"), 0) FROM teams)),
        'reserve_depots', json_build_object('count', (SELECT count(*) FROM depots))),
    'features', (SELECT json_agg(f ORDER BY grp, ord) FROM features)
)::text END
