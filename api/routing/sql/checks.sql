-- What the build made: components (undirected, over the drivable edges; the largest is
-- numbered 1), dead ends, and dangles the build would have created: a dead end lying on
-- another edge it is not joined to (a crossing left unnoded). Returns one JSON object.
WITH cc AS (
    SELECT component, node FROM pgr_connectedComponents(
        'SELECT id, source, target, 1.0::float8 AS cost, 1.0::float8 AS reverse_cost
           FROM roads WHERE NOT closed')
), sizes AS (
    SELECT component, count(*) AS n,
           row_number() OVER (ORDER BY count(*) DESC, component) AS rank
      FROM cc GROUP BY component
), numbered AS (
    UPDATE road_vertices v SET component = s.rank
      FROM cc JOIN sizes s USING (component)
     WHERE v.id = cc.node
    RETURNING v.id
), degree AS (
    SELECT v, count(*) AS d
      FROM (SELECT source AS v FROM roads UNION ALL SELECT target FROM roads) x
     GROUP BY v
), dead AS (
    SELECT v FROM degree WHERE d = 1
)
SELECT json_build_object(
    'edges', (SELECT count(*) FROM roads),
    'vertices', (SELECT count(*) FROM road_vertices),
    'length_km', (SELECT round(sum(length_m)::numeric / 1000, 1) FROM roads),
    'oneway_edges', (SELECT count(*) FROM roads WHERE oneway AND NOT closed),
    'closed_edges', (SELECT count(*) FROM roads WHERE closed),
    'components', (SELECT count(*) FROM sizes),
    'largest_component_vertices', (SELECT n FROM sizes WHERE rank = 1),
    'vertices_numbered', (SELECT count(*) FROM numbered),
    'dead_ends', (SELECT count(*) FROM dead),
    'dangles_created', (
        SELECT count(*) FROM dead JOIN road_vertices p ON p.id = dead.v
         WHERE EXISTS (SELECT 1 FROM roads r
                        WHERE r.geom && ST_Expand(p.geom, 1e-7)
                          AND r.source <> p.id AND r.target <> p.id
                          AND ST_DWithin(r.geom, p.geom, 1e-7))),
    'classes', (SELECT json_object_agg(road_class, n ORDER BY road_class)
                  FROM (SELECT road_class, count(*) AS n FROM roads GROUP BY 1) c)
)::text
