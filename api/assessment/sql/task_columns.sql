-- A task as the API shows it (overdue computed: due date passed in the city's zone, not done).
-- $1 today (the city's local date)
SELECT t.id, t.framework, t.item, i.name AS item_name, t.category, t.title, t.org,
       o.name AS org_name, o.kind AS org_kind, t.year, t.due, t.status, t.progress,
       t.completed_at, t.created_by, t.created_at, t.updated_at, t.synthetic,
       (t.status <> 'done' AND t.due < $1::date) AS overdue
  FROM assessment_tasks t
  JOIN organisations o ON o.code = t.org
  JOIN assessment_items i ON i.framework = t.framework AND i.id = t.item
