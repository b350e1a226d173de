DROP TABLE assessment_snapshots;
DROP TABLE assessment_items;
DROP TABLE assessment_frameworks;
DROP FUNCTION assessment_immutable();
