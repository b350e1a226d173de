-- onemap 0021: incidents (应急处置), what each kind needs, minimum needs (InaSAFE), dispatches
-- of teams and depot items with their states, the incident's timeline (streamed), CAP alerts.

-- What each kind of incident reaches and needs: the impact radius and the team specialities.
CREATE TABLE incident_kinds (
    kind           text PRIMARY KEY CHECK (kind ~ '^[a-z_]{2,40}$'),
    name_zh        text NOT NULL,
    name_en        text NOT NULL,
    radius_m       double precision NOT NULL CHECK (radius_m > 0 AND radius_m <= 20000),
    specialities   text[] NOT NULL,
    -- an accident at the unit it touches (grading), or not (waterlogging)
    accident       boolean NOT NULL DEFAULT true,
    -- CAP <category>
    cap_category   text NOT NULL CHECK (cap_category IN (
                     'Geo', 'Met', 'Safety', 'Security', 'Rescue', 'Fire', 'Health', 'Env',
                     'Transport', 'Infra', 'CBRNE', 'Other'))
);
INSERT INTO incident_kinds (kind, name_zh, name_en, radius_m, specialities, accident, cap_category)
VALUES
 ('fire', '火灾', 'fire', 500, '{消防救援}', true, 'Fire'),
 ('explosion', '爆炸', 'explosion', 1000, '{消防救援,危化品救援,医疗救护}', true, 'Fire'),
 ('gas_leak', '燃气泄漏', 'gas leak', 500, '{消防救援,燃气抢险}', true, 'Safety'),
 ('waterlogging', '城市内涝', 'waterlogging', 800, '{防汛抢险,水域救援}', false, 'Met'),
 ('collapse', '建筑坍塌', 'building collapse', 300, '{地震救援,消防救援,医疗救护}', true, 'Rescue'),
 ('hazchem_release', '危险化学品泄漏', 'hazardous-chemical release', 1500,
  '{危化品救援,消防救援,医疗救护}', true, 'CBRNE'),
 ('traffic_accident', '交通事故', 'traffic accident', 200, '{医疗救护,消防救援}', true, 'Transport');

-- Minimum needs per person per week, as InaSAFE uses them (versioned: a new version is a
-- new set of rows; the plan uses the highest version). `item_type` names the depot_stock item
-- that covers the need (NULL: none stocked).
CREATE TABLE minimum_needs (
    version        integer NOT NULL CHECK (version >= 1),
    need           text NOT NULL,
    name_zh        text NOT NULL,
    unit           text NOT NULL,
    per_person_week double precision NOT NULL CHECK (per_person_week >= 0),
    -- family kits and toilets are per family / per N people, given as a per-person share
    item_type      text,
    -- how much of the need one stocked item covers (a 矿泉水 box: 24 x 0.55 l = 13.2 l)
    per_item       double precision CHECK (per_item > 0),
    source         text NOT NULL DEFAULT 'InaSAFE minimum needs (BNPB Perka 7/2008)',
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, need)
);
INSERT INTO minimum_needs (version, need, name_zh, unit, per_person_week, item_type, per_item)
VALUES
 (1, 'rice', '大米', 'kg', 2.8, '方便食品', 5),
 (1, 'drinking_water', '饮用水', 'l', 17.5, '矿泉水', 13.2),
 (1, 'clean_water', '清洁用水', 'l', 105, NULL, NULL),
 (1, 'family_kits', '家庭包', 'unit', 0.2, NULL, NULL),
 (1, 'toilets', '厕所', 'unit', 0.05, NULL, NULL);

CREATE TABLE incidents (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL REFERENCES incident_kinds (kind),
    severity       smallint NOT NULL CHECK (severity BETWEEN 1 AND 4),
    title          text NOT NULL,
    description    text,
    reporter       text,
    occurred_at    timestamptz NOT NULL,
    reported_at    timestamptz NOT NULL DEFAULT now(),
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at      timestamptz,
    district       text REFERENCES districts (code) ON UPDATE CASCADE,
    accident_code  text,
    created_by     text NOT NULL,
    geom           geometry(Geometry, 4326) NOT NULL
                   CHECK (GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON')),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX incidents_geom_idx ON incidents USING gist (geom);
CREATE INDEX incidents_open_idx ON incidents (status, occurred_at DESC);

CREATE TABLE dispatches (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id    bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    team_id        bigint REFERENCES rescue_teams (id),
    depot_id       bigint REFERENCES reserve_depots (id),
    items          jsonb NOT NULL DEFAULT '[]',
    status         text NOT NULL DEFAULT 'dispatched' CHECK (status IN (
                     'dispatched', 'en_route', 'on_scene', 'released')),
    eta_s          double precision,
    dispatched_at  timestamptz NOT NULL DEFAULT now(),
    en_route_at    timestamptz,
    on_scene_at    timestamptz,
    released_at    timestamptz,
    created_by     text NOT NULL,
    CHECK ((team_id IS NULL) <> (depot_id IS NULL))
);
CREATE INDEX dispatches_incident_idx ON dispatches (incident_id);
-- a team is on one job at a time: a second dispatch while it is not released is refused
CREATE UNIQUE INDEX dispatches_team_busy_idx ON dispatches (team_id)
    WHERE team_id IS NOT NULL AND status <> 'released';

-- The incident's timeline; every row is NOTIFYed (the one hub hears it, SSE sends it).
CREATE TABLE incident_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id    bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at             timestamptz NOT NULL DEFAULT now(),
    type           text NOT NULL,
    actor          text NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, id);

CREATE FUNCTION onemap_incident_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('onemap_incident_changed', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER incident_events_notify AFTER INSERT ON incident_events
    FOR EACH ROW EXECUTE FUNCTION onemap_incident_notify();

-- CAP 1.2 alerts as issued (the XML kept as sent); Alert -> Update -> Cancel by `refs`.
CREATE TABLE cap_alerts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier     text NOT NULL UNIQUE,
    sent           timestamptz NOT NULL,
    msg_type       text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
    subject        text NOT NULL,  -- 'incident:<id>' or 'warning:<code>'
    refs           text,           -- the CAP <references> value
    active         boolean NOT NULL DEFAULT true,
    headline       text NOT NULL,
    -- what the subject looked like when the alert was issued: a change makes an Update
    digest         text NOT NULL,
    expires        timestamptz,
    xml            text NOT NULL
);
CREATE INDEX cap_alerts_subject_idx ON cap_alerts (subject, id);
CREATE INDEX cap_alerts_active_idx ON cap_alerts (active) WHERE active;
