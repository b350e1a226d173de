DROP TRIGGER assessment_items_immutable ON assessment_items;
CREATE TRIGGER assessment_items_immutable BEFORE UPDATE OR DELETE ON assessment_items
    FOR EACH ROW EXECUTE FUNCTION assessment_immutable();
DROP FUNCTION assessment_items_guard();
DROP TABLE assessment_corrections;
