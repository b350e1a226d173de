-- onemap 0027 down.
ALTER TABLE minimum_needs DROP CONSTRAINT IF EXISTS minimum_needs_version_fk;
DROP TABLE IF EXISTS minimum_needs_versions;
DROP TRIGGER IF EXISTS roads_version_ins ON roads;
DROP TRIGGER IF EXISTS roads_version_upd ON roads;
DROP TRIGGER IF EXISTS roads_version_del ON roads;
DROP TRIGGER IF EXISTS roads_version_trunc ON roads;
DELETE FROM layer_versions WHERE layer = 'roads';
