-- {{layer}}: below zoom {{cluster_below}}, its points aggregated on a grid of
-- {{cells}}x{{cells}} cells a tile (aligned across tiles): one point per cell at
-- the members' centroid, with their count{{level_note}}.
(SELECT coalesce(ST_AsMVT(t, '{{layer}}', {{extent}}, 'geom'), ''::bytea)
   FROM (SELECT c.count{{cluster_props}},
                ST_AsMVTGeom(c.centre, b.tile, {{extent}}, {{buffer}}, true) AS geom
           FROM (SELECT count(*)::int AS count{{cluster_aggs}},
                        ST_Centroid(ST_Collect(g.p)) AS centre
                   FROM (SELECT ST_Transform({{point}}, 3857) AS p{{cluster_inner}}
                           FROM {{table}} f, tile_bounds b
                          WHERE f.geom && b.query
                            AND $1 < {{cluster_below}}{{where}}{{filters}}) g,
                        tile_bounds b
                  GROUP BY floor(ST_X(g.p) / b.cell), floor(ST_Y(g.p) / b.cell)) c,
                tile_bounds b) t
  WHERE t.geom IS NOT NULL)
