-- Every explanation kept as facts is written out as its JSON first (nothing is lost).
ALTER TABLE grade_history DISABLE TRIGGER USER;
UPDATE grade_history h SET explanation = onemap_explanation(h), facts = NULL
 WHERE h.explanation IS NULL;
ALTER TABLE grade_history ENABLE TRIGGER USER;
ALTER TABLE grade_history DROP CONSTRAINT grade_history_explained;
ALTER TABLE grade_history ALTER COLUMN explanation SET NOT NULL;
DROP FUNCTION onemap_explanation(grade_history);
ALTER TABLE grade_history DROP COLUMN facts;
DROP FUNCTION onemap_render_explanation(onemap_grade_facts);
DROP FUNCTION onemap_factors(onemap_grade_facts);
DROP TYPE onemap_grade_facts;
DROP FUNCTION onemap_factor(text, numeric, text, text, json);
