-- Hidden hazards, newest first, filtered by unit, status, open and overdue (each NULL or
-- false: no filter). The select is hidden_hazards.SELECT_HAZARD, the full record.
-- $1 unit code   $2 status   $3 open only   $4 overdue only   $5 limit
-- $6 time zone of the due dates   $7 now
{{select_hazard}}
 WHERE ($1::text IS NULL OR ru.code = $1) AND ($2::text IS NULL OR h.status = $2)
   AND (NOT $3 OR (h.verified_at IS NULL AND h.closed_at IS NULL
        AND h.status NOT IN ('verified', 'closed')))
   AND (NOT $4 OR (h.verified_at IS NULL AND h.closed_at IS NULL
        AND h.status NOT IN ('verified', 'closed')
        AND ((h.due_date + 1)::timestamp AT TIME ZONE $6) <= $7))
 ORDER BY h.reported_at DESC, h.id DESC LIMIT $5
