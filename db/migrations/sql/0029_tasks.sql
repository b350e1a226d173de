-- onemap 0029: the assessment's tasks. The seed's 综合管理系统 breaks the framework into
-- 100 categories and 1,170 tasks for 28 departments and 20 districts and tracks them
-- monthly; here each task names the framework item it serves, the organisation that owes
-- it and its due date. Progress updates (with evidence, sniffed and hashed as the hazard
-- loop's) move it to done. Overdue is computed (due date passed, not done), never stored.
-- Demo rows are flagged `synthetic`.

CREATE TABLE assessment_tasks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    framework     text NOT NULL,
    item          text NOT NULL,
    category      text NOT NULL CHECK (length(category) BETWEEN 1 AND 200),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    org           text NOT NULL REFERENCES organisations (code) ON UPDATE CASCADE,
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    due           date NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done')),
    progress      smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    completed_at  timestamptz,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    synthetic     boolean NOT NULL DEFAULT false,
    FOREIGN KEY (framework, item) REFERENCES assessment_items (framework, id),
    CHECK ((status = 'done') = (completed_at IS NOT NULL)),
    CHECK (status <> 'done' OR progress = 100)
);
CREATE INDEX assessment_tasks_org_idx ON assessment_tasks (org, due);
CREATE INDEX assessment_tasks_item_idx ON assessment_tasks (framework, item);
CREATE INDEX assessment_tasks_year_idx ON assessment_tasks (year, due);
CREATE TRIGGER assessment_tasks_touch BEFORE UPDATE ON assessment_tasks
    FOR EACH ROW EXECUTE FUNCTION onemap_touch_updated_at();

CREATE TABLE assessment_task_updates (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id     bigint NOT NULL REFERENCES assessment_tasks (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    progress    smallint NOT NULL CHECK (progress BETWEEN 0 AND 100),
    status      text NOT NULL CHECK (status IN ('open', 'in_progress', 'done')),
    note        text CHECK (length(note) <= 2000),
    who         text NOT NULL,
    org         text,
    synthetic   boolean NOT NULL DEFAULT false
);
CREATE INDEX assessment_task_updates_task_idx ON assessment_task_updates (task_id, at);

CREATE TABLE assessment_task_evidence (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id       bigint NOT NULL REFERENCES assessment_tasks (id) ON DELETE CASCADE,
    update_id     bigint REFERENCES assessment_task_updates (id) ON DELETE SET NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type    text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    size          integer NOT NULL CHECK (size > 0),
    content       bytea NOT NULL,
    filename      text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    uploaded_by   text NOT NULL,
    uploaded_org  text,
    uploaded_at   timestamptz NOT NULL DEFAULT now(),
    synthetic     boolean NOT NULL DEFAULT false,
    UNIQUE (task_id, sha256)
);

-- Scope: an organisation sees and updates its own tasks (a district also those of its
-- towns); unset organisation (city-wide reviewers, admins, system jobs) sees all. FORCE:
-- the owner is bound too; scoped requests run as onemap_app with onemap.org set.
CREATE OR REPLACE FUNCTION onemap_task_visible(task_org text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN onemap_scope_org() IS NULL THEN current_user <> 'onemap_app'
                ELSE task_org = onemap_scope_org() OR EXISTS (
                    SELECT 1 FROM organisations o
                     WHERE o.code = task_org AND o.parent = onemap_scope_org()) END
$$;

ALTER TABLE assessment_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE assessment_tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY onemap_task_read ON assessment_tasks FOR SELECT
    USING (onemap_task_visible(org));
-- tasks are created city-wide (the 创建办); an organisation only moves its own
CREATE POLICY onemap_task_insert ON assessment_tasks FOR INSERT
    WITH CHECK (onemap_scope_org() IS NULL AND current_user <> 'onemap_app');
CREATE POLICY onemap_task_update ON assessment_tasks FOR UPDATE
    USING (onemap_task_visible(org)) WITH CHECK (onemap_task_visible(org));
CREATE POLICY onemap_task_delete ON assessment_tasks FOR DELETE
    USING (onemap_scope_org() IS NULL AND current_user <> 'onemap_app');

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['assessment_task_updates', 'assessment_task_evidence'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY onemap_task_child ON %I USING (EXISTS ('
                       'SELECT 1 FROM assessment_tasks k WHERE k.id = task_id)) '
                       'WITH CHECK (EXISTS (SELECT 1 FROM assessment_tasks k '
                       'WHERE k.id = task_id))', t);
    END LOOP;
END $$;

GRANT SELECT ON assessment_tasks, assessment_task_updates, assessment_task_evidence
    TO onemap_app;
GRANT UPDATE ON assessment_tasks TO onemap_app;
GRANT INSERT, UPDATE ON assessment_task_updates, assessment_task_evidence TO onemap_app;
