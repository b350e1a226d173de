-- Dispatches as the API shows them. $1 incident id, $2 dispatch id (NULL: all of the incident).
SELECT d.id, d.incident_id, t.code AS team, t.name AS team_name, r.code AS depot,
       r.name AS depot_name, d.items, d.status, d.eta_s, d.dispatched_at, d.en_route_at,
       d.on_scene_at, d.released_at, d.created_by
  FROM dispatches d
  LEFT JOIN rescue_teams t ON t.id = d.team_id
  LEFT JOIN reserve_depots r ON r.id = d.depot_id
 WHERE d.incident_id = $1 AND ($2::bigint IS NULL OR d.id = $2)
 ORDER BY d.id
