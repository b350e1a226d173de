-- /stats/districts: per district the numbers the dashboard shows, then the city as a whole.
-- Units, shelters, depots and teams count in the district their `district` column names;
-- rows without a district count in the city totals only.
-- $1 level codes in display order (with 'ungraded')   $2 category codes
WITH unit_counts AS (
    SELECT "district", coalesce("current_level", 'ungraded') AS level, "category", count(*) AS n
      FROM risk_units GROUP BY 1, 2, 3
), depot_items AS (
    SELECT r."district", r.id, coalesce(sum(s.quantity), 0) AS items
      FROM reserve_depots r LEFT JOIN depot_stock s ON s.depot_id = r.id GROUP BY 1, 2
), dist AS (
    SELECT d."code" AS district, d."name", d."adcode", 0 AS city,
           coalesce(d."population", (SELECT sum(c."population") FROM population_cells c
                                      WHERE c."district" = d."code")) AS population
      FROM districts d
), areas AS (
    -- every district, then the city (city = 1: matches every row)
    SELECT * FROM dist
    UNION ALL
    SELECT NULL, NULL, NULL, 1, (SELECT sum(population) FROM dist)
), rows AS (
    SELECT a.*, u.*, s.*, dp.*, t.*
      FROM areas a
     CROSS JOIN LATERAL (
        SELECT coalesce(sum(n), 0) AS units,
               (SELECT json_object_agg(l.level, coalesce((
                           SELECT sum(n) FROM unit_counts x
                            WHERE x.level = l.level
                              AND (a.city = 1 OR x."district" = a.district)), 0) ORDER BY l.ord)
                  FROM unnest($1::text[]) WITH ORDINALITY AS l(level, ord)) AS by_level,
               (SELECT json_object_agg(k.category, coalesce((
                           SELECT sum(n) FROM unit_counts x
                            WHERE x."category" = k.category
                              AND (a.city = 1 OR x."district" = a.district)), 0) ORDER BY k.ord)
                  FROM unnest($2::text[]) WITH ORDINALITY AS k(category, ord)) AS by_category
          FROM unit_counts x WHERE a.city = 1 OR x."district" = a.district) u
     CROSS JOIN LATERAL (
        SELECT count(*) AS shelters, coalesce(sum("capacity"), 0) AS capacity,
               coalesce(sum("occupied"), 0) AS occupied
          FROM shelters x WHERE a.city = 1 OR x."district" = a.district) s
     CROSS JOIN LATERAL (
        SELECT count(*) AS depots, coalesce(sum(items), 0) AS items
          FROM depot_items x WHERE a.city = 1 OR x."district" = a.district) dp
     CROSS JOIN LATERAL (
        SELECT count(*) AS teams, coalesce(sum("headcount"), 0) AS people,
               count(*) FILTER (WHERE "kind" = 'professional') AS professional,
               count(*) FILTER (WHERE "kind" = 'social') AS social
          FROM rescue_teams x WHERE a.city = 1 OR x."district" = a.district) t
), out AS (
    SELECT r.district, r.city, json_build_object(
        'code', r.district, 'name', r."name", 'adcode', r."adcode",
        'population', r.population,
        'risk_units', json_build_object(
            'total', r.units, 'by_level', r.by_level, 'by_category', r.by_category),
        'shelters', json_build_object(
            'count', r.shelters, 'capacity', r.capacity, 'occupied', r.occupied,
            'capacity_per_resident', round(r.capacity::numeric / nullif(r.population, 0), 4)),
        'reserve_depots', json_build_object('count', r.depots, 'items', r.items),
        'rescue_teams', json_build_object(
            'count', r.teams, 'people', r.people,
            'professional', r.professional, 'social', r.social)) AS j
      FROM rows r
)
SELECT json_build_object(
    'districts', coalesce((SELECT json_agg(j ORDER BY district) FROM out WHERE city = 0),
                          '[]'::json),
    'city', (SELECT j FROM out WHERE city = 1)
)::text
