-- onemap 0017: the seed's per-area table, and every unit, hazard, shelter and depot placed
-- in its organisation.
--
-- area_statistics holds 西安市推进基层应急管理体系和能力建设工作情况统计表 as decoded in
-- geodata/area_statistics.csv (one row per district-level area; the notes per column and per
-- garbled cell live beside the CSV). risk_units, hidden_hazards and shelters get the town
-- (镇街) they lie in, reserve_depots the area (zone, else district) that manages them; both
-- are set by location whenever a row is written (import, edit, event), so no write path
-- can forget them.

CREATE TABLE area_statistics (
    area                      text PRIMARY KEY REFERENCES organisations (code)
                                  ON UPDATE CASCADE ON DELETE CASCADE,
    row_no                    integer NOT NULL UNIQUE CHECK (row_no BETWEEN 1 AND 20),
    printed_name              text NOT NULL,
    towns                     integer NOT NULL CHECK (towns >= 0),
    towns_with_plans          integer CHECK (towns_with_plans >= 0),
    town_plan_rate            numeric(5, 1) CHECK (town_plan_rate BETWEEN 0 AND 100),
    depots                    integer NOT NULL CHECK (depots >= 0),
    stock                     integer NOT NULL CHECK (stock >= 0),
    towns_with_shelters       integer CHECK (towns_with_shelters >= 0),
    town_shelter_coverage     numeric(5, 1) CHECK (town_shelter_coverage BETWEEN 0 AND 100),
    villages                  integer CHECK (villages >= 0),
    village_plan_rate         numeric(5, 1) CHECK (village_plan_rate BETWEEN 0 AND 100),
    village_drills            integer CHECK (village_drills >= 0),
    village_drill_people      integer CHECK (village_drill_people >= 0),
    villages_with_shelters    integer CHECK (villages_with_shelters >= 0),
    village_shelter_coverage  numeric(5, 1) CHECK (village_shelter_coverage BETWEEN 0 AND 100),
    villages_with_broadcasts  integer CHECK (villages_with_broadcasts >= 0),
    broadcasts                integer CHECK (broadcasts >= 0),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER area_statistics_touch BEFORE UPDATE ON area_statistics
    FOR EACH ROW EXECUTE FUNCTION onemap_touch_updated_at();

-- The town containing a geometry (a point of it): the covering town, else the nearest one
-- within ~1 km (a point on a gap between synthetic boundaries); NULL outside every town.
CREATE OR REPLACE FUNCTION onemap_town_at(g geometry) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH p AS (SELECT ST_PointOnSurface(g) AS pt WHERE g IS NOT NULL)
    SELECT coalesce(
        (SELECT o.code FROM organisations o, p
          WHERE o.kind = 'town' AND ST_Covers(o.geom, p.pt) ORDER BY o.code LIMIT 1),
        (SELECT o.code FROM organisations o, p
          WHERE o.kind = 'town' AND ST_DWithin(o.geom, p.pt, 0.01)
          ORDER BY o.geom <-> p.pt, o.code LIMIT 1))
$$;

-- The district-level area managing a geometry's ground: a zone covering it, else a district.
CREATE OR REPLACE FUNCTION onemap_area_at(g geometry) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT o.code FROM organisations o
     WHERE g IS NOT NULL AND o.kind IN ('zone', 'district')
       AND ST_Covers(o.geom, ST_PointOnSurface(g))
     ORDER BY o.kind = 'zone' DESC, o.code LIMIT 1
$$;

ALTER TABLE risk_units ADD COLUMN town text
    REFERENCES organisations (code) ON UPDATE CASCADE ON DELETE SET NULL;
ALTER TABLE hidden_hazards ADD COLUMN town text
    REFERENCES organisations (code) ON UPDATE CASCADE ON DELETE SET NULL;
ALTER TABLE shelters ADD COLUMN town text
    REFERENCES organisations (code) ON UPDATE CASCADE ON DELETE SET NULL;
ALTER TABLE reserve_depots ADD COLUMN org text
    REFERENCES organisations (code) ON UPDATE CASCADE ON DELETE SET NULL;
CREATE INDEX risk_units_town_idx ON risk_units (town);
CREATE INDEX hidden_hazards_town_idx ON hidden_hazards (town);
CREATE INDEX shelters_town_idx ON shelters (town);
CREATE INDEX reserve_depots_org_idx ON reserve_depots (org);

CREATE OR REPLACE FUNCTION onemap_set_town() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.town := onemap_town_at(NEW.geom);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION onemap_set_org() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.org := onemap_area_at(NEW.geom);
    RETURN NEW;
END $$;

CREATE TRIGGER risk_units_town BEFORE INSERT OR UPDATE OF geom ON risk_units
    FOR EACH ROW EXECUTE FUNCTION onemap_set_town();
CREATE TRIGGER hidden_hazards_town BEFORE INSERT OR UPDATE OF geom ON hidden_hazards
    FOR EACH ROW EXECUTE FUNCTION onemap_set_town();
CREATE TRIGGER shelters_town BEFORE INSERT OR UPDATE OF geom ON shelters
    FOR EACH ROW EXECUTE FUNCTION onemap_set_town();
CREATE TRIGGER reserve_depots_org BEFORE INSERT OR UPDATE OF geom ON reserve_depots
    FOR EACH ROW EXECUTE FUNCTION onemap_set_org();

-- Re-place every row after the organisations changed (the demo load calls it).
CREATE OR REPLACE FUNCTION onemap_place_in_organisations() RETURNS void
LANGUAGE sql AS $$
    UPDATE risk_units SET town = onemap_town_at(geom)
     WHERE town IS DISTINCT FROM onemap_town_at(geom);
    UPDATE hidden_hazards SET town = onemap_town_at(geom)
     WHERE town IS DISTINCT FROM onemap_town_at(geom);
    UPDATE shelters SET town = onemap_town_at(geom)
     WHERE town IS DISTINCT FROM onemap_town_at(geom);
    UPDATE reserve_depots SET org = onemap_area_at(geom)
     WHERE org IS DISTINCT FROM onemap_area_at(geom);
$$;
