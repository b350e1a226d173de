SELECT {{layer}}::text AS layer, x."code" AS code, {{level}} AS level, x.distance_m, x."geom" AS geom,
       json_build_object('layer', {{layer}}, 'distance_m', round(x.distance_m::numeric, 2),
                         {{props}}) AS props
  FROM (SELECT t.*, ST_Distance(t."geom"::geography, q.gg) AS distance_m
          FROM {{table}} t, q
         WHERE t."geom" && q.box{{filters}}
        OFFSET 0) x  -- not flattened: one spheroid distance a candidate, then the test
 WHERE x.distance_m <= $2
