-- The inbox of one organisation (or the whole city when $1 is NULL): every hidden hazard
-- assigned to it, lying on its ground (an area whose boundary holds the hazard, or a
-- district by its code) or supervised by it (the department of the unit's category),
-- with why it is there, its status and whether it is overdue. Light rows: the caller
-- counts them and fetches the full records of the page it shows.
-- $1 organisation code or NULL   $2 time zone of the due dates   $3 now
WITH org AS (
    SELECT code, kind, geom FROM organisations WHERE code = $1
)
SELECT h.id, h.status, h.severity, h.reported_at,
       CASE WHEN $1::text IS NULL THEN 'city'
            WHEN h.assigned_org = $1 THEN 'assigned'
            WHEN cd.department = $1 THEN 'supervised'
            ELSE 'ground' END AS why,
       (h.status NOT IN ('verified', 'closed') AND h.verified_at IS NULL
        AND h.closed_at IS NULL AND h.due_date IS NOT NULL
        AND ((h.due_date + 1)::timestamp AT TIME ZONE $2) <= $3) AS overdue
  FROM hidden_hazards h
  LEFT JOIN risk_units ru ON ru.id = h.risk_unit_id
  LEFT JOIN category_departments cd ON cd.category = ru.category
 WHERE $1::text IS NULL
    OR h.assigned_org = $1
    OR cd.department = $1
    OR EXISTS (SELECT 1 FROM org o
                WHERE (o.geom IS NOT NULL AND ST_Intersects(o.geom, h.geom))
                   OR (o.kind = 'district' AND o.code = h.district))
 ORDER BY h.reported_at DESC, h.id DESC
