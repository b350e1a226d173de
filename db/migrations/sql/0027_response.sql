-- onemap 0027: the response chain's last parts.
--
-- 1. `roads` gets the layer version triggers (not the updated_at one: roads has no such
--    column): every statement that changes a road (an import, a closure set by hand) bumps
--    layer_versions['roads'] and NOTIFYs onemap_layer_changed, so the road tiles' cache keys
--    move and every app node's in-memory network (api/routing/network.py, keyed on that
--    version) is read again at its next request.
CREATE TRIGGER roads_version_ins AFTER INSERT ON roads REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version();
CREATE TRIGGER roads_version_upd AFTER UPDATE ON roads REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version();
CREATE TRIGGER roads_version_del AFTER DELETE ON roads REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version();
CREATE TRIGGER roads_version_trunc AFTER TRUNCATE ON roads
    FOR EACH STATEMENT EXECUTE FUNCTION onemap_bump_layer_version();
INSERT INTO layer_versions (layer) VALUES ('roads') ON CONFLICT DO NOTHING;

-- 2. Minimum needs: each version is a row here (who made it, when, why); the needs of a
--    version are the rows of minimum_needs with that number. PUT /minimum-needs adds a
--    version (old ones stay: a plan names the version it used).
CREATE TABLE minimum_needs_versions (
    version     integer PRIMARY KEY CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    note        text NOT NULL DEFAULT ''
);
INSERT INTO minimum_needs_versions (version, created_at, created_by, note)
SELECT version, min(created_at), 'migration', 'InaSAFE defaults (BNPB Perka 7/2008)'
  FROM minimum_needs GROUP BY version;
ALTER TABLE minimum_needs
    ADD CONSTRAINT minimum_needs_version_fk FOREIGN KEY (version)
        REFERENCES minimum_needs_versions (version);
