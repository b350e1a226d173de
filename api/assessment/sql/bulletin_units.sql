-- The month's red and orange units: each unit's level at the month's end (its last grade
-- before $1); a unit with no grade recorded before then (graded only since) takes its current
-- level, flagged `current`. $1 end of the month (exclusive)
SELECT u.code, u.name, u.category, u.district, coalesce(g.to_level, u.current_level) AS level,
       g.to_level IS NULL AS current,
       ST_X(ST_PointOnSurface(u.geom)) AS lon, ST_Y(ST_PointOnSurface(u.geom)) AS lat
  FROM risk_units u
  LEFT JOIN LATERAL (SELECT h.to_level FROM grade_history h
                      WHERE h.risk_unit_id = u.id AND h.as_of < $1
                      ORDER BY h.as_of DESC LIMIT 1) g ON true
 WHERE coalesce(g.to_level, u.current_level) IN ('major', 'large')
 ORDER BY (coalesce(g.to_level, u.current_level) = 'major') DESC, u.code
