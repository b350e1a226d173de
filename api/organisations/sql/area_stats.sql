-- GET /stats/areas: the 20 district-level areas in the order of the seed's table, each with
-- the table's figures (`table`) beside the live ones (`live`). Live figures count by the
-- organisation a row was placed in (depots: `org`; units and shelters: their town's area;
-- broadcasts and population cells: the zone their location falls in, else their district).
WITH area AS (
    SELECT o.code, o.name, o.kind, o.geom, s.row_no, to_jsonb(s) - 'area' - 'updated_at' AS tab
      FROM area_statistics s JOIN organisations o ON o.code = s.area
), town AS (
    SELECT code, parent FROM organisations WHERE kind = 'town'
), zone_cells AS (
    -- cells whose centre lies in a zone (zones are small: only they need a spatial join)
    SELECT z.code, c."district", c.population
      FROM area z JOIN population_cells c
        ON z.kind = 'zone' AND c.geom && z.geom AND ST_Covers(z.geom, ST_Centroid(c.geom))
), zone_broadcasts AS (
    SELECT z.code, b."district"
      FROM area z JOIN broadcasts b ON z.kind = 'zone' AND ST_Covers(z.geom, b.geom)
), depot_items AS (
    SELECT d.org, d.level, coalesce(sum(s.quantity), 0) AS items
      FROM reserve_depots d LEFT JOIN depot_stock s ON s.depot_id = d.id
     GROUP BY d.id
), rows AS (
    SELECT a.row_no, json_build_object(
             'code', a.code, 'name', a.name, 'kind', a.kind,
             'table', a.tab,
             'live', json_build_object(
                 'towns', (SELECT count(*) FROM town t WHERE t.parent = a.code),
                 'depots', (SELECT count(*) FROM depot_items x WHERE x.org = a.code),
                 'stock', (SELECT coalesce(sum(items), 0) FROM depot_items x
                            WHERE x.org = a.code AND x.level <> 'city'),
                 'city_reserve', (SELECT coalesce(sum(items), 0) FROM depot_items x
                                   WHERE x.org = a.code AND x.level = 'city'),
                 'residents', r.residents,
                 'stock_per_1000_residents', CASE WHEN r.residents > 0 THEN round(
                     1000.0 * (SELECT coalesce(sum(items), 0) FROM depot_items x
                                WHERE x.org = a.code) / r.residents, 2) END,
                 'shelters', sh.n, 'shelter_capacity', sh.capacity,
                 'towns_with_shelters', sh.towns,
                 'broadcasts', CASE WHEN a.kind = 'zone'
                     THEN (SELECT count(*) FROM zone_broadcasts b WHERE b.code = a.code)
                     ELSE (SELECT count(*) FROM broadcasts b WHERE b."district" = a.code)
                        - (SELECT count(*) FROM zone_broadcasts b WHERE b."district" = a.code)
                 END,
                 'risk_units', (SELECT count(*) FROM risk_units u
                                  JOIN town t ON t.code = u.town WHERE t.parent = a.code)
             )) AS doc
      FROM area a
     CROSS JOIN LATERAL (SELECT CASE WHEN a.kind = 'zone'
                           THEN (SELECT coalesce(sum(population), 0) FROM zone_cells z
                                  WHERE z.code = a.code)
                           ELSE (SELECT coalesce(sum(population), 0) FROM population_cells c
                                  WHERE c."district" = a.code)
                              - (SELECT coalesce(sum(population), 0) FROM zone_cells z
                                  WHERE z."district" = a.code)
                           END AS residents) r
     CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(x.capacity), 0) AS capacity,
                                count(DISTINCT x.town) AS towns
                           FROM shelters x JOIN town t ON t.code = x.town
                          WHERE t.parent = a.code) sh
)
SELECT json_build_object(
         'areas', coalesce((SELECT json_agg(doc ORDER BY row_no) FROM rows), '[]'::json),
         'city', json_build_object(
             'depots', (SELECT count(*) FROM reserve_depots),
             'stock', (SELECT coalesce(sum(quantity), 0) FROM depot_stock),
             'broadcasts', (SELECT count(*) FROM broadcasts),
             'towns', (SELECT count(*) FROM town)))::text
