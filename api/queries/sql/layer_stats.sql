-- One layer's size for the catalogue: count, WGS84 extent and the range of its time field.
WITH s AS (
    SELECT count(*) AS n, ST_Extent("geom") AS e, min({{time}}) AS tmin, max({{time}}) AS tmax
      FROM {{table}}
)
SELECT n, ST_XMin(e) AS minx, ST_YMin(e) AS miny, ST_XMax(e) AS maxx, ST_YMax(e) AS maxy,
       tmin, tmax
  FROM s
