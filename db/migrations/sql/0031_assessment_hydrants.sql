-- The assessment: corrections of a loaded framework edition, logged.
--
-- An edition is immutable (0024): a later edition is a new version. What is not a new edition
-- is a correction of the data this project loaded for an edition: a placeholder whose
-- published text is found later, or a part this project now scores from the store (the
-- hydrant part of 1.2.4). Such an UPDATE passes only when the transaction names its reason
-- (`SET LOCAL onemap.framework_correction = '<why>'`), may change only what was read from the
-- documents or how it is scored (found, criterion, scoring, rule, source; never the tree,
-- the names or the points), and leaves a row in assessment_corrections with the item before
-- and after. Deletes stay refused.
CREATE TABLE assessment_corrections (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    framework   text NOT NULL,
    item        text NOT NULL,
    note        text NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    before      jsonb NOT NULL,
    after       jsonb NOT NULL,
    made_by     text NOT NULL DEFAULT current_user,
    made_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (framework, item) REFERENCES assessment_items (framework, id)
);
CREATE TRIGGER assessment_corrections_immutable BEFORE UPDATE OR DELETE ON assessment_corrections
    FOR EACH ROW EXECUTE FUNCTION assessment_immutable();

CREATE FUNCTION assessment_items_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    why text := nullif(current_setting('onemap.framework_correction', true), '');
BEGIN
    IF TG_OP = 'UPDATE' AND why IS NOT NULL
       AND (NEW.framework, NEW.id, NEW.parent, NEW.position, NEW.level, NEW.name, NEW.max,
            NEW.departments)
           IS NOT DISTINCT FROM
           (OLD.framework, OLD.id, OLD.parent, OLD.position, OLD.level, OLD.name, OLD.max,
            OLD.departments) THEN
        IF (NEW.found, NEW.criterion, NEW.scoring, NEW.rule, NEW.source)
           IS DISTINCT FROM (OLD.found, OLD.criterion, OLD.scoring, OLD.rule, OLD.source) THEN
            INSERT INTO assessment_corrections (framework, item, note, before, after)
            VALUES (OLD.framework, OLD.id, why, to_jsonb(OLD), to_jsonb(NEW));
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% rows are immutable (a correction names its reason; the tree and the '
                    'points never change)', TG_TABLE_NAME USING ERRCODE = 'P0001';
END $$;

DROP TRIGGER assessment_items_immutable ON assessment_items;
CREATE TRIGGER assessment_items_immutable BEFORE UPDATE OR DELETE ON assessment_items
    FOR EACH ROW EXECUTE FUNCTION assessment_items_guard();
