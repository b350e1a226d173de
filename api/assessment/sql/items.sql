-- The items of one edition, each with its path of positions (tree order).
WITH RECURSIVE tree AS (
    SELECT i.*, ARRAY[i.position] AS path FROM assessment_items i
    WHERE i.framework = $1 AND i.parent IS NULL
    UNION ALL
    SELECT i.*, t.path || i.position FROM assessment_items i
    JOIN tree t ON i.framework = t.framework AND i.parent = t.id
)
SELECT id, parent, level, name, max, found, departments, criterion, scoring,
       rule::text AS rule, source::text AS source
FROM tree ORDER BY path;
