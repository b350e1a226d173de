-- Lifelines within $2 metres of the incident ($1 EWKB): count and length (m) per kind.
SELECT coalesce(json_object_agg(kind, json_build_object('count', n, 'length_m', len)), '{}')
  FROM (SELECT l.kind, count(*) AS n,
               round(sum(ST_Length(ST_Intersection(l.geom,
                   ST_Buffer(ST_GeomFromEWKB($1)::geography, $2)::geometry)::geography))::numeric)
                   AS len
          FROM lifelines l
         WHERE ST_DWithin(l.geom::geography, ST_GeomFromEWKB($1)::geography, $2)
         GROUP BY l.kind) x
