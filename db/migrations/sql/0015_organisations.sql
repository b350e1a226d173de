-- onemap 0015: organisations, the owners of risks (supervision).
--
-- Xi'an's platform is run by 28 city departments and 20 district-level areas
-- (13 districts, 7 development zones) with 204 towns and streets under them.
-- A department supervises the risk categories of its trade (category_departments),
-- an area the units on its ground (its boundary). A district's code is its adcode
-- (the code of its row in `districts`); departments, zones and towns carry codes
-- of their own. Demo rows that are not taken from a source say so (`synthetic`).

CREATE TABLE organisations (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_.-]{2,32}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_en     text,
    kind        text NOT NULL CHECK (kind IN ('department', 'district', 'zone', 'town')),
    parent      text REFERENCES organisations (code) ON UPDATE CASCADE,
    synthetic   boolean NOT NULL DEFAULT false,
    source      text NOT NULL DEFAULT 'unknown',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- the boundary of an area (district, zone, town); a department has none
    geom        geometry(MultiPolygon, 4326),
    CHECK ((kind = 'department') = (geom IS NULL)),
    CHECK (parent IS DISTINCT FROM code)
);
CREATE INDEX organisations_geom_idx ON organisations USING gist (geom);
CREATE INDEX organisations_parent_idx ON organisations (parent);
CREATE INDEX organisations_kind_idx ON organisations (kind);
CREATE TRIGGER organisations_touch BEFORE UPDATE ON organisations
    FOR EACH ROW EXECUTE FUNCTION onemap_touch_updated_at();

-- The department responsible for each risk category (editable by an admin).
CREATE TABLE category_departments (
    category    text PRIMARY KEY CHECK (category IN (
                  'gas', 'hazardous_chemicals', 'construction', 'crowded_place',
                  'high_rise', 'underground_space', 'bridge_tunnel', 'rail_transit',
                  'industrial', 'waterlogging_point', 'drainage', 'power',
                  'heat_supply', 'water_supply', 'geological_hazard')),
    department  text NOT NULL REFERENCES organisations (code) ON UPDATE CASCADE,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER category_departments_touch BEFORE UPDATE ON category_departments
    FOR EACH ROW EXECUTE FUNCTION onemap_touch_updated_at();

-- A category's department must be a department.
CREATE OR REPLACE FUNCTION onemap_check_category_department() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM organisations
                   WHERE code = NEW.department AND kind = 'department') THEN
        RAISE EXCEPTION 'organisation % is not a department', NEW.department
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER category_departments_check BEFORE INSERT OR UPDATE ON category_departments
    FOR EACH ROW EXECUTE FUNCTION onemap_check_category_department();
