-- The month's red and orange units: each unit's level at the month's end (its last grade
-- before $1), major or large. $1 end of the month (exclusive)
SELECT u.code, u.name, u.category, u.district, g.to_level AS level,
       ST_X(ST_PointOnSurface(u.geom)) AS lon, ST_Y(ST_PointOnSurface(u.geom)) AS lat
  FROM risk_units u
 CROSS JOIN LATERAL (SELECT h.to_level FROM grade_history h
                      WHERE h.risk_unit_id = u.id AND h.as_of < $1
                      ORDER BY h.as_of DESC LIMIT 1) g
 WHERE g.to_level IN ('major', 'large')
 ORDER BY (g.to_level = 'major') DESC, u.code
