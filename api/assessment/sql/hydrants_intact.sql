-- Municipal fire hydrants intact (1.2.4 part 1, 评分标准: 未保持完好的，每发现一处扣0.2分):
-- the hydrants are the monitoring points of kind fire_hydrant_pressure. One is not intact at
-- $1 while an alarm of its point is open then (its pressure below the point's level-4
-- threshold; the demo's is 0.14 MPa, GB 50974-2014 7.2.8), false alarms aside: each is a
-- finding. A hydrant whose point has been silent past its expected interval (or never
-- reported) is offline: its state is not known, so it is neither a finding nor counted as
-- intact; the rate is over the hydrants whose state is known (none known: no basis, and the
-- part scores nothing, as every auto part without data).
-- $2: an area's organisation code (its ground: the hydrants inside its boundary), NULL: city.
WITH area AS (
    SELECT geom FROM organisations WHERE code = $2
), h AS (
    SELECT mp.id, mp.code, mp.expected_interval_s
      FROM monitoring_points mp
     WHERE mp.kind = 'fire_hydrant_pressure'
       AND ($2::text IS NULL OR EXISTS (
           SELECT 1 FROM area a WHERE a.geom && mp.geom AND ST_Covers(a.geom, mp.geom)))
), bad AS (
    SELECT DISTINCT h.id, h.code
      FROM h JOIN alarms a ON a.point_id = h.id
     WHERE a.started_at <= $1 AND (a.ended_at IS NULL OR a.ended_at > $1)
       AND a.false_alarm_at IS NULL
), silent AS (  -- liveness read from the hydrants' own blocks (0013's helpers, by key)
    SELECT count(*) AS n
      FROM h LEFT JOIN point_liveness l ON l.block = onemap_liveness_block(h.id)
     CROSS JOIN LATERAL (SELECT onemap_last_reading(l.last_us, h.id) AS last_at) s
     WHERE h.id NOT IN (SELECT id FROM bad)
       AND (s.last_at IS NULL OR s.last_at + h.expected_interval_s * interval '1 second' <= $1)
), f AS (
    SELECT (SELECT count(*) FROM h) AS hydrants, (SELECT n FROM silent) AS offline,
           (SELECT count(*) FROM bad) AS not_intact
)
SELECT (hydrants - offline - not_intact)::numeric AS numerator,
       (hydrants - offline)::numeric AS denominator,
       CASE WHEN hydrants - offline > 0
            THEN round((hydrants - offline - not_intact)::numeric / (hydrants - offline), 4) END
           AS value,
       jsonb_build_object(
           'hydrants', hydrants, 'offline', offline, 'not_intact', not_intact,
           'codes', coalesce((SELECT jsonb_agg(code ORDER BY code)
                                FROM (SELECT code FROM bad ORDER BY code LIMIT 100) c), '[]')
       ) AS records
  FROM f;
