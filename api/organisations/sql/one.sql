-- GET /organisations/{code}: one organisation as a GeoJSON Feature (NULL: no such code).
-- Properties add its parent's name, its children (towns of an area), the risk categories
-- a department answers for, and an area's row of the seed's table.
SELECT json_build_object(
         'type', 'Feature',
         'id', o.code,
         'geometry', ST_AsGeoJSON(o.geom, 6)::json,
         'properties', json_build_object(
             'code', o.code, 'name', o.name, 'name_en', o.name_en, 'kind', o.kind,
             'parent', o.parent,
             'parent_name', (SELECT p.name FROM organisations p WHERE p.code = o.parent),
             'synthetic', o.synthetic, 'source', o.source,
             'children', (SELECT coalesce(json_agg(json_build_object(
                                     'code', c.code, 'name', c.name, 'kind', c.kind)
                                   ORDER BY c.code), '[]'::json)
                            FROM organisations c WHERE c.parent = o.code),
             'categories', (SELECT coalesce(json_agg(cd.category ORDER BY cd.category), '[]'::json)
                              FROM category_departments cd WHERE cd.department = o.code),
             'statistics', (SELECT to_json(s) FROM area_statistics s WHERE s.area = o.code)
         ))::text
  FROM organisations o
 WHERE o.code = $1
