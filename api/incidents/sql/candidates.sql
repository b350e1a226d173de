-- The plan's candidates near the incident, nearest first as the crow flies (travel times come
-- after): teams of the kind's specialities, depots holding stock, shelters with free room.
-- $1 incident point (EWKB)  $2 specialities  $3 how many of each
(SELECT 'team' AS what, t.code, t.name, t.speciality AS detail, t.headcount AS amount,
        ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat,
        EXISTS (SELECT 1 FROM dispatches d WHERE d.team_id = t.id AND d.status <> 'released')
            AS busy
   FROM rescue_teams t
  WHERE t.speciality = ANY ($2::text[])
  ORDER BY t.geom <-> ST_GeomFromEWKB($1) LIMIT $3)
UNION ALL
(SELECT 'depot', r.code, r.name, r.level, NULL, ST_X(r.geom), ST_Y(r.geom), false
   FROM reserve_depots r
  WHERE EXISTS (SELECT 1 FROM depot_stock s WHERE s.depot_id = r.id AND s.quantity > 0)
  ORDER BY r.geom <-> ST_GeomFromEWKB($1) LIMIT $3)
UNION ALL
(SELECT 'shelter', s.code, s.name, s.type, greatest(s.capacity - s.occupied, 0),
        ST_X(ST_PointOnSurface(s.geom)), ST_Y(ST_PointOnSurface(s.geom)), false
   FROM shelters s
  WHERE s.capacity > s.occupied
  ORDER BY s.geom <-> ST_GeomFromEWKB($1) LIMIT $3)
