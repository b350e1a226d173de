-- The safety-development assessment: versioned frameworks (loaded from db/frameworks/*.json
-- by the migration) and immutable scorecard snapshots.
CREATE TABLE assessment_frameworks (
    version     text PRIMARY KEY CHECK (version ~ '^[0-9A-Za-z._-]{1,32}$'),
    title       text NOT NULL,
    pass_mark   numeric NOT NULL,
    expected    jsonb NOT NULL,
    sources     jsonb NOT NULL,
    document    jsonb NOT NULL,          -- the whole file as loaded, for the record
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE assessment_items (
    framework    text NOT NULL REFERENCES assessment_frameworks (version),
    id           text NOT NULL,
    parent       text,
    position     integer NOT NULL,
    level        smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    name         text NOT NULL,
    max          numeric NOT NULL CHECK (max > 0),
    found        boolean NOT NULL,
    departments  text[] NOT NULL DEFAULT '{}',
    criterion    text,
    scoring      text,
    rule         jsonb NOT NULL,
    source       jsonb NOT NULL,
    PRIMARY KEY (framework, id),
    FOREIGN KEY (framework, parent) REFERENCES assessment_items (framework, id)
);

-- a framework edition is never edited: a later edition is a new version
CREATE FUNCTION assessment_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'P0001';
END $$;

CREATE TRIGGER assessment_items_immutable BEFORE UPDATE OR DELETE ON assessment_items
    FOR EACH ROW EXECUTE FUNCTION assessment_immutable();
CREATE TRIGGER assessment_frameworks_immutable BEFORE UPDATE OR DELETE ON assessment_frameworks
    FOR EACH ROW EXECUTE FUNCTION assessment_immutable();

CREATE TABLE assessment_snapshots (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    framework   text NOT NULL REFERENCES assessment_frameworks (version),
    year        integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    org         text REFERENCES organisations (code),
    scorecard   jsonb NOT NULL,
    digest      text NOT NULL,            -- sha256 of the scorecard's canonical JSON
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER assessment_snapshots_immutable BEFORE UPDATE OR DELETE ON assessment_snapshots
    FOR EACH ROW EXECUTE FUNCTION assessment_immutable();
