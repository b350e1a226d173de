-- GET /organisations: organisations as a JSON array, departments, districts, zones, towns,
-- each by code. $1 kind, $2 parent (NULL: any).
SELECT coalesce(json_agg(json_build_object(
           'code', o.code, 'name', o.name, 'name_en', o.name_en, 'kind', o.kind,
           'parent', o.parent, 'synthetic', o.synthetic, 'source', o.source,
           'bbox', CASE WHEN o.geom IS NOT NULL THEN json_build_array(
                       round(ST_XMin(o.geom)::numeric, 6), round(ST_YMin(o.geom)::numeric, 6),
                       round(ST_XMax(o.geom)::numeric, 6), round(ST_YMax(o.geom)::numeric, 6))
                   END)
         ORDER BY array_position(ARRAY['department', 'district', 'zone', 'town'], o.kind),
                  o.code), '[]'::json)::text
  FROM organisations o
 WHERE ($1::text IS NULL OR o.kind = $1)
   AND ($2::text IS NULL OR o.parent = $2)
