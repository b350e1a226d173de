-- Move a task: its progress and status, and the update row that records it.
-- $1 task  $2 progress  $3 status  $4 note  $5 who  $6 org  $7 at
WITH moved AS (
    UPDATE assessment_tasks
       SET progress = $2, status = $3,
           completed_at = CASE WHEN $3 = 'done' THEN $7::timestamptz END
     WHERE id = $1
    RETURNING id
)
INSERT INTO assessment_task_updates (task_id, at, progress, status, note, who, org)
SELECT id, $7, $2, $3, $4, $5, $6 FROM moved
RETURNING id
