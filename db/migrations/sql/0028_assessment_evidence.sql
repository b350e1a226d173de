-- The assessment's evidence (issue 16): documents, photos (the hazard loop's sanitised store
-- rules: sniffed type, size cap, metadata stripped, SHA-256) and links that the responsible
-- organisation submits for an item of a year; a reviewer accepts or rejects it with a reason
-- and records the findings that deduct by the item's rule. A reviewed row never changes.
CREATE TABLE assessment_evidence (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    framework     text NOT NULL,
    item          text NOT NULL,
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    org           text NOT NULL REFERENCES organisations (code) ON UPDATE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('file', 'link')),
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),  -- of the file, or of the URL
    media_type    text CHECK (media_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    size          integer CHECK (size > 0),
    content       bytea,
    filename      text CHECK (length(filename) BETWEEN 1 AND 200),
    url           text CHECK (url ~ '^https?://' AND length(url) <= 2000),
    note          text CHECK (length(note) <= 1000),
    exif_lon      double precision CHECK (exif_lon BETWEEN -180 AND 180),
    exif_lat      double precision CHECK (exif_lat BETWEEN -90 AND 90),
    synthetic     boolean NOT NULL DEFAULT false,
    state         text NOT NULL DEFAULT 'submitted'
                  CHECK (state IN ('submitted', 'accepted', 'rejected')),
    submitted_by  text NOT NULL,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    reviewed_by   text,
    reviewed_org  text REFERENCES organisations (code) ON UPDATE CASCADE,
    reviewed_at   timestamptz,
    reason        text CHECK (length(reason) BETWEEN 1 AND 1000),
    findings      integer NOT NULL DEFAULT 0 CHECK (findings BETWEEN 0 AND 1000),
    FOREIGN KEY (framework, item) REFERENCES assessment_items (framework, id),
    UNIQUE (framework, item, year, org, sha256),
    CHECK ((kind = 'file') = (content IS NOT NULL AND media_type IS NOT NULL
                              AND size IS NOT NULL AND filename IS NOT NULL)),
    CHECK ((kind = 'link') = (url IS NOT NULL)),
    CHECK (content IS NULL OR octet_length(content) = size),
    CHECK ((exif_lon IS NULL) = (exif_lat IS NULL)),
    CHECK ((state = 'submitted') = (reviewed_at IS NULL)),
    CHECK (state = 'submitted' OR (reviewed_by IS NOT NULL AND reason IS NOT NULL)),
    CHECK (reviewed_org IS NULL OR reviewed_org <> org),
    CHECK (reviewed_by IS NULL OR reviewed_by <> submitted_by)
);
CREATE INDEX assessment_evidence_item_idx ON assessment_evidence (framework, year, item);

-- submitted evidence may be reviewed once; reviewed evidence and every deletion are refused
CREATE FUNCTION assessment_evidence_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.state <> 'submitted' THEN
        RAISE EXCEPTION 'reviewed assessment evidence is immutable' USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER assessment_evidence_frozen BEFORE UPDATE OR DELETE ON assessment_evidence
    FOR EACH ROW EXECUTE FUNCTION assessment_evidence_frozen();

-- Scoped writes (0018's row-level security): an organisation submits its own evidence and
-- reviews only other organisations' evidence; city-wide principals are unrestricted.
ALTER TABLE assessment_evidence ENABLE ROW LEVEL SECURITY;
ALTER TABLE assessment_evidence FORCE ROW LEVEL SECURITY;
CREATE POLICY onemap_read ON assessment_evidence FOR SELECT USING (true);
CREATE POLICY onemap_insert ON assessment_evidence FOR INSERT
    WITH CHECK (CASE WHEN onemap_scope_org() IS NULL THEN current_user <> 'onemap_app'
                     ELSE org = onemap_scope_org() END);
CREATE POLICY onemap_update ON assessment_evidence FOR UPDATE
    USING (CASE WHEN onemap_scope_org() IS NULL THEN current_user <> 'onemap_app'
                ELSE org <> onemap_scope_org() END)
    WITH CHECK (CASE WHEN onemap_scope_org() IS NULL THEN current_user <> 'onemap_app'
                     ELSE org <> onemap_scope_org() END);
GRANT SELECT, INSERT, UPDATE ON assessment_evidence TO onemap_app;
