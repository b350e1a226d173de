DROP TABLE assessment_task_evidence;
DROP TABLE assessment_task_updates;
DROP TABLE assessment_tasks;
DROP FUNCTION onemap_task_visible(text);
