-- {{layer}}: its features in the tile, trimmed to the columns the style uses,
-- simplified for the zoom (lines and areas), at most {{limit}} of them (a plain
-- LIMIT on the index scan: nothing is sorted, nothing spills).
(SELECT coalesce(ST_AsMVT(t, '{{layer}}', {{extent}}, 'geom', 'id'), ''::bytea)
   FROM (SELECT f.id{{props}},
                ST_AsMVTGeom(ST_Transform({{geom}}, 3857), b.tile, {{extent}}, {{buffer}}, true) AS geom
           FROM {{table}} f, tile_bounds b
          WHERE f.geom && b.query
            AND $1 >= {{cluster_below}}{{where}}{{filters}}
          LIMIT {{limit}}) t
  WHERE t.geom IS NOT NULL)
