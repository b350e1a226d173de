-- The bulletin's map: district outlines (simplified, as SVG path data: y is flipped by
-- ST_AsSVG) and the view box that holds them.
SELECT d.code, d.name, ST_AsSVG(ST_SimplifyPreserveTopology(d.geom, 0.002), 0, 4) AS path,
       ST_X(ST_PointOnSurface(d.geom)) AS lon, ST_Y(ST_PointOnSurface(d.geom)) AS lat,
       ext.xmin, ext.ymin, ext.xmax, ext.ymax
  FROM districts d
 CROSS JOIN (SELECT ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax,
                    ST_YMax(e) AS ymax FROM (SELECT ST_Extent(geom) AS e FROM districts) x) ext
 WHERE d.geom IS NOT NULL
 ORDER BY d.code
