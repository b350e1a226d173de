-- One page of tasks (row-level security leaves a scoped caller its own), soonest due first,
-- with the count of all that match. $1 today  $2 org or NULL (a district: with its towns)
-- $3 status (open | in_progress | done | overdue) or NULL  $4 item or NULL
-- $5 year or NULL  $6 limit  $7 offset
WITH hit AS (
    {{columns}}
     WHERE ($2::text IS NULL OR t.org = $2 OR o.parent = $2)
       AND ($3::text IS NULL
            OR ($3 = 'overdue' AND t.status <> 'done' AND t.due < $1::date)
            OR t.status = $3)
       AND ($4::text IS NULL OR t.item = $4)
       AND ($5::int IS NULL OR t.year = $5)
)
SELECT *, count(*) OVER () AS matched FROM hit ORDER BY due, id LIMIT $6 OFFSET $7
