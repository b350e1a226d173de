-- A new task on an item of the newest edition that holds it. $1 item  $2 category  $3 title
-- $4 org  $5 due  $6 created_by  $7 synthetic
INSERT INTO assessment_tasks (framework, item, category, title, org, year, due, created_by,
                              synthetic)
SELECT i.framework, i.id, $2, $3, $4, extract(year FROM $5::date)::int, $5, $6, $7
  FROM assessment_items i
  JOIN assessment_frameworks f ON f.version = i.framework
 WHERE i.id = $1
 ORDER BY f.loaded_at DESC, f.version DESC
 LIMIT 1
RETURNING id
