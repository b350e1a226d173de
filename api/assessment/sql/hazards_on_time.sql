-- Hidden hazards rectified on time: of the hazards reported in year $1 that carry a due date,
-- the share not overdue at $2 (closed, verified or rectified, or still within their due date).
-- Closing an overdue hazard takes it out of the overdue count; late_closed counts those
-- rectified after their due date (shown, not held against the rate).
WITH h AS (
    SELECT code, status, due_date, coalesce(rectified_at, verified_at, closed_at) AS done_at
    FROM hidden_hazards
    WHERE due_date IS NOT NULL
      AND reported_at >= make_timestamptz($1, 1, 1, 0, 0, 0, 'Asia/Shanghai')
      AND reported_at < make_timestamptz($1 + 1, 1, 1, 0, 0, 0, 'Asia/Shanghai')
), f AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE status IN ('reported', 'assigned', 'rectifying')
                              AND due_date < ($2::timestamptz AT TIME ZONE 'Asia/Shanghai')::date)
               AS overdue,
           count(*) FILTER (WHERE done_at IS NOT NULL
                              AND (done_at AT TIME ZONE 'Asia/Shanghai')::date > due_date)
               AS late_closed
    FROM h
)
SELECT (total - overdue)::numeric AS numerator, total::numeric AS denominator,
       CASE WHEN total > 0 THEN round((total - overdue)::numeric / total, 4) END AS value,
       jsonb_build_object('overdue', overdue, 'late_closed', late_closed) AS records
FROM f;
