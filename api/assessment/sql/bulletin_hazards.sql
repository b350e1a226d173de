-- The bulletin's hidden-hazard ranking: per organisation of one kind, its hazards as they
-- stood at the month's end (or now, for the current month), so a past month's table does
-- not move when hazards are closed later. Which hazards are an organisation's is as in the
-- supervision figures (risk_events/sql/org_stats.sql): assigned to it, of its categories,
-- on its ground, or in its district. Open at T: reported before T, neither verified nor
-- closed before T; overdue: open and past the end of its due date (in the city's zone).
-- $1 kind   $2 time zone   $3 T (the month's end, or now)   $4 start of the month
WITH orgs AS (
    SELECT code, name, kind, geom FROM organisations WHERE kind = $1
), haz AS (
    SELECT h.*, cd.department AS supervisor,
           (h.reported_at < $3 AND (h.verified_at IS NULL OR h.verified_at >= $3)
            AND (h.closed_at IS NULL OR h.closed_at >= $3)) AS is_open
      FROM hidden_hazards h
      LEFT JOIN risk_units ru ON ru.id = h.risk_unit_id
      LEFT JOIN category_departments cd ON cd.category = ru.category
     WHERE h.reported_at < $3
)
SELECT o.code, o.name, o.kind, hz.*
  FROM orgs o
 CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE h.is_open) AS open,
           count(*) FILTER (WHERE h.is_open AND h.due_date IS NOT NULL
                              AND ((h.due_date + 1)::timestamp AT TIME ZONE $2) <= $3) AS overdue,
           count(*) FILTER (WHERE h.rectified_at >= $4 AND h.rectified_at < $3) AS rectified,
           count(*) FILTER (WHERE h.rectified_at >= $4 AND h.rectified_at < $3
                              AND (h.due_date IS NULL OR h.rectified_at
                                   < ((h.due_date + 1)::timestamp AT TIME ZONE $2))) AS on_time
      FROM haz h
     WHERE h.assigned_org = o.code OR h.supervisor = o.code
        OR (o.geom IS NOT NULL AND ST_Intersects(o.geom, h.geom))
        OR (o.kind = 'district' AND h.district = o.code)) hz
 ORDER BY o.code
