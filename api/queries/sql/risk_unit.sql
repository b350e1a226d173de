-- One risk unit: its fields, geometry, grade (risk_units.current_level/current_r/level_changed_at
-- as written by grading) and what is attached to it. $1 code  $2 {level: colour}
SELECT json_build_object(
    'type', 'Feature',
    'id', x."code",
    'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(x."geom"), 7)::json,
    'properties', json_build_object({{props}}),
    'district_name', (SELECT d."name" FROM districts d WHERE d."code" = x."district"),
    'grade', json_build_object(
        'level', x."current_level",
        'colour', $2::jsonb ->> x."current_level",
        'r', x."current_r",
        'registered_level', x."registered_level",
        'changed_at', x."level_changed_at"),
    'related', json_build_object(
        'hazard_sources', (SELECT coalesce(json_agg(json_build_object(
                               'code', h."code", 'name', h."name", 'gb_grade', h."gb_grade")
                               ORDER BY h."code"), '[]'::json)
                             FROM hazard_sources h WHERE h.risk_unit_id = x.id),
        'monitoring_points', (SELECT count(*) FROM monitoring_points m WHERE m.risk_unit_id = x.id),
        'active_alarms', (SELECT count(*) FROM alarms a
                           WHERE a.risk_unit_id = x.id AND a.ended_at IS NULL
                             AND a.false_alarm_at IS NULL),
        'open_hidden_hazards', (SELECT count(*) FROM hidden_hazards hh
                                 WHERE hh.risk_unit_id = x.id AND hh."status" <> 'closed'),
        'accidents_365d', (SELECT count(*) FROM accidents ac
                            WHERE ac.risk_unit_id = x.id
                              AND ac.occurred_at > now() - interval '365 days'))
)::text
  FROM risk_units x
 WHERE x."code" = $1
