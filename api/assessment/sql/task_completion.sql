-- The monthly completion rate per organisation, as the bulletin reports it: of the tasks
-- due by the end of the month, the share done by then (a district with its towns; zones
-- and districts together as "districts"). $1 end of the month (exclusive, timestamptz)
-- $2 last day of the month (date)
WITH owner AS (
    SELECT t.*, CASE WHEN o.kind = 'town' THEN o.parent ELSE o.code END AS owner
      FROM assessment_tasks t JOIN organisations o ON o.code = t.org
     WHERE t.due <= $2::date
)
SELECT o.code, o.name, o.kind,
       count(w.id) AS due,
       count(w.id) FILTER (WHERE w.completed_at < $1) AS done,
       count(w.id) FILTER (WHERE w.completed_at IS NULL OR w.completed_at >= $1) AS overdue
  FROM organisations o
  LEFT JOIN owner w ON w.owner = o.code
 WHERE o.kind IN ('department', 'district', 'zone')
 GROUP BY o.code, o.name, o.kind
HAVING count(w.id) > 0
 ORDER BY o.code
