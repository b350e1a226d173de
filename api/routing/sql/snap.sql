-- Each point snapped onto the nearest drivable edge (not only to a vertex): the edge, the
-- fraction along it, how far the point was from it (metres on the spheroid) and where it
-- landed. NULL edge: there is no road at all. The five nearest edges by box distance are
-- ranked by true distance (ties: the lower id).
-- $1 longitudes   $2 latitudes
SELECT q.n::int AS n, s.edge, s.fraction, s.distance_m, ST_X(s.at) AS lon, ST_Y(s.at) AS lat
  FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS q(lon, lat, n)
 CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(q.lon, q.lat), 4326) AS g) p
  LEFT JOIN LATERAL (
    SELECT c.id AS edge, ST_LineLocatePoint(c.geom, p.g) AS fraction,
           ST_Distance(c.geom::geography, p.g::geography) AS distance_m,
           ST_ClosestPoint(c.geom, p.g) AS at
      FROM (SELECT r.id, r.geom FROM roads r WHERE NOT r.closed
             ORDER BY r.geom <-> p.g LIMIT 5) c
     ORDER BY 3, 1 LIMIT 1) s ON true
 ORDER BY q.n
