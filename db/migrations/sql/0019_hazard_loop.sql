-- onemap 0019: the hidden-hazard loop on screen (inbox per organisation, evidence,
-- separation of duties).
--
-- A hazard lies on the ground of the areas (district, zone, town) whose boundary holds
-- it, is supervised by the department of its unit's category, and may be assigned to
-- an organisation (a department, usually). Each step records who took it and for which
-- organisation, so a verification can be refused when it comes from the rectifier or
-- the rectifier's own organisation.

ALTER TABLE hidden_hazards
    ADD COLUMN assigned_org  text REFERENCES organisations (code) ON UPDATE CASCADE,
    ADD COLUMN reported_by   text,
    ADD COLUMN reported_org  text REFERENCES organisations (code) ON UPDATE CASCADE,
    ADD COLUMN rectified_by  text,
    ADD COLUMN rectified_org text REFERENCES organisations (code) ON UPDATE CASCADE,
    ADD COLUMN verified_by   text,
    ADD COLUMN verified_org  text REFERENCES organisations (code) ON UPDATE CASCADE;
CREATE INDEX hidden_hazards_assigned_org_idx ON hidden_hazards (assigned_org);
CREATE INDEX hidden_hazards_status_idx ON hidden_hazards (status);

ALTER TABLE hidden_hazard_events
    ADD COLUMN actor_org text REFERENCES organisations (code) ON UPDATE CASCADE;

-- Evidence (photos and documents) of a step. The bytes served are the sanitised ones
-- (metadata stripped); the location read from the photo's EXIF is kept as data.
-- A file uploaded before its step is pending (event_id NULL) until the step names it.
CREATE TABLE hidden_hazard_evidence (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard_id    bigint NOT NULL REFERENCES hidden_hazards (id),
    event_id     bigint REFERENCES hidden_hazard_events (id),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type   text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    size         integer NOT NULL CHECK (size > 0),
    content      bytea NOT NULL,
    filename     text NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    exif_lon     double precision CHECK (exif_lon BETWEEN -180 AND 180),
    exif_lat     double precision CHECK (exif_lat BETWEEN -90 AND 90),
    uploaded_by  text NOT NULL,
    uploaded_org text REFERENCES organisations (code) ON UPDATE CASCADE,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (hazard_id, sha256),
    CHECK ((exif_lon IS NULL) = (exif_lat IS NULL)),
    CHECK (octet_length(content) = size)
);
CREATE INDEX hidden_hazard_evidence_event_idx ON hidden_hazard_evidence (event_id);

-- Scoped writes (0018's row-level security): the organisation a hazard is assigned to
-- may move it too (it rectifies), beside the area and department whose scope holds it.
DROP POLICY onemap_update ON hidden_hazards;
CREATE POLICY onemap_update ON hidden_hazards FOR UPDATE
    USING (onemap_may_write(onemap_unit_category(risk_unit_id), geom)
           OR assignee = onemap_scope_org() OR assigned_org = onemap_scope_org())
    WITH CHECK (onemap_may_write(onemap_unit_category(risk_unit_id), geom)
                OR assignee = onemap_scope_org() OR assigned_org = onemap_scope_org());
GRANT INSERT, UPDATE ON hidden_hazard_evidence TO onemap_app;
