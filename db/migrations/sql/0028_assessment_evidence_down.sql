DROP TABLE assessment_evidence;
DROP FUNCTION assessment_evidence_frozen();
