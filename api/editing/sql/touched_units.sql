-- The risk units an edit of a feature at these geometries touches: those within the
-- exposure radius (a vulnerable site counts for the units around it).
SELECT u.id
  FROM risk_units u
 WHERE ST_DWithin(u.geom::geography, ST_GeomFromGeoJSON($1)::geography, $2)
UNION
SELECT u.id
  FROM risk_units u
 WHERE $3::text IS NOT NULL
   AND ST_DWithin(u.geom::geography, ST_GeomFromGeoJSON($3)::geography, $2)
