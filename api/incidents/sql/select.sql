-- One incident or many as the API shows them. $1 the id (NULL: all), $2 status (NULL: any),
-- $3 the limit.
SELECT i.id, i.kind, k.name_zh AS kind_name, i.severity, i.title, i.description, i.reporter,
       i.occurred_at, i.reported_at, i.status, i.closed_at, i.district, i.accident_code,
       i.created_by, k.radius_m,
       ST_AsGeoJSON(i.geom, 7)::json AS geometry,
       ARRAY[ST_X(ST_PointOnSurface(i.geom)), ST_Y(ST_PointOnSurface(i.geom))] AS point
  FROM incidents i JOIN incident_kinds k ON k.kind = i.kind
 WHERE ($1::bigint IS NULL OR i.id = $1) AND ($2::text IS NULL OR i.status = $2)
 ORDER BY i.occurred_at DESC, i.id DESC
 LIMIT $3
