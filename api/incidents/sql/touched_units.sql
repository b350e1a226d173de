-- Risk units an incident touches: within $2 metres of its geometry ($1 EWKB), nearest first.
SELECT ru.code, ru.id
  FROM risk_units ru
 WHERE ST_DWithin(ru.geom::geography, ST_GeomFromEWKB($1)::geography, $2)
 ORDER BY ru.geom <-> ST_GeomFromEWKB($1)
 LIMIT 20
