-- Per organisation, what the supervision dashboard shows and the city view ranks:
-- hidden hazards open and overdue, rectified this month and how many of those on time
-- (rectified before the end of the due date, or with no due date), risk units by level,
-- alarms open on those units. An organisation's hazards are those of its inbox
-- (risk_events/sql/hazard_inbox.sql); its units are those on its ground (areas) or of its categories
-- (departments).
-- $1 organisation code or NULL (every organisation of kind $2)   $2 kind or NULL
-- $3 time zone   $4 now   $5 start of this month (in that zone)
WITH orgs AS (
    SELECT code, name, name_en, kind, geom FROM organisations
     WHERE ($1::text IS NULL OR code = $1) AND ($2::text IS NULL OR kind = $2)
), haz AS (
    SELECT h.*, cd.department AS supervisor,
           (h.status NOT IN ('verified', 'closed') AND h.verified_at IS NULL
            AND h.closed_at IS NULL) AS is_open
      FROM hidden_hazards h
      LEFT JOIN risk_units ru ON ru.id = h.risk_unit_id
      LEFT JOIN category_departments cd ON cd.category = ru.category
)
SELECT o.code, o.name, o.name_en, o.kind, hz.*, un.*, al.*
  FROM orgs o
 CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE h.is_open) AS open,
           count(*) FILTER (WHERE h.is_open AND h.due_date IS NOT NULL
                              AND ((h.due_date + 1)::timestamp AT TIME ZONE $3) <= $4) AS overdue,
           count(*) FILTER (WHERE h.rectified_at >= $5) AS rectified_month,
           count(*) FILTER (WHERE h.rectified_at >= $5 AND (h.due_date IS NULL
                              OR h.rectified_at < ((h.due_date + 1)::timestamp AT TIME ZONE $3)))
               AS rectified_on_time_month
      FROM haz h
     WHERE h.assigned_org = o.code OR h.supervisor = o.code
        OR (o.geom IS NOT NULL AND ST_Intersects(o.geom, h.geom))
        OR (o.kind = 'district' AND h.district = o.code)) hz
 CROSS JOIN LATERAL (
    SELECT count(*) AS units,
           count(*) FILTER (WHERE u.current_level = 'major') AS units_major,
           count(*) FILTER (WHERE u.current_level = 'large') AS units_large,
           count(*) FILTER (WHERE u.current_level = 'general') AS units_general,
           count(*) FILTER (WHERE u.current_level = 'low') AS units_low,
           count(*) FILTER (WHERE u.current_level IS NULL) AS units_ungraded,
           coalesce(array_agg(u.id) FILTER (WHERE true), '{}') AS unit_ids
      FROM risk_units u
     WHERE (o.kind = 'department'
            AND u.category IN (SELECT category FROM category_departments WHERE department = o.code))
        OR (o.geom IS NOT NULL AND ST_Intersects(o.geom, u.geom))
        OR (o.kind = 'district' AND u.district = o.code)) un
 CROSS JOIN LATERAL (
    SELECT count(*) AS alarms_open FROM alarms a
     WHERE a.ended_at IS NULL AND a.false_alarm_at IS NULL
       AND a.risk_unit_id = ANY(un.unit_ids)) al
 ORDER BY o.code
