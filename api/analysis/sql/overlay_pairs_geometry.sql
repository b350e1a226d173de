    SELECT t.id, NULL::text AS o
      FROM {{table}} t, (SELECT ST_GeomFromWKB($2, 4326) AS g) q
     WHERE t."geom" && q.g AND {{predicate}}{{filters}}
