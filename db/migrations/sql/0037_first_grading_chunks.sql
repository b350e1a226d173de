-- onemap 0037: a first grading in chunks on several connections (issue 17 item 7).
--
-- The first grading of a big city is split into chunks of units graded at once on
-- several connections, each chunk a transaction of its own that imports the regrade's
-- snapshot (api/grading/engine.py, "first grading in chunks"). Each chunk's UPDATE of
-- risk_units would bump layer_versions['risk_units'] at its end, and in REPEATABLE READ
-- the second chunk to bump that row fails ("could not serialize access due to concurrent
-- update"); the regrade's own transaction, whose snapshot is older than every chunk's
-- commit, could not bump it after them either. So a transaction may defer its layers'
-- bumps: with onemap.layer_bump = 'deferred' set (SET LOCAL, by the engine, in the chunks'
-- transactions only) the statement trigger leaves the version alone, and the regrade
-- bumps the layer once with onemap_bump_layer, in a statement of its own when it ends
-- (until then tile caches keep the version they had). Every other statement bumps as before.

-- One layer's version bumped and announced (what the statement trigger does).
CREATE FUNCTION onemap_bump_layer(which text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO layer_versions AS lv (layer, version, changed_at)
    VALUES (which, 1, now())
    ON CONFLICT (layer) DO UPDATE
        SET version = lv.version + 1, changed_at = now();
    PERFORM pg_notify('onemap_layer_changed', which);
END $$;

CREATE OR REPLACE FUNCTION onemap_bump_layer_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    IF current_setting('onemap.layer_bump', true) = 'deferred' THEN
        RETURN NULL;  -- the transaction's caller bumps the layer itself, once
    END IF;
    IF TG_OP = 'DELETE' THEN
        SELECT EXISTS (SELECT 1 FROM old_rows) INTO changed;
    ELSIF TG_OP = 'TRUNCATE' THEN
        changed := true;
    ELSE
        SELECT EXISTS (SELECT 1 FROM new_rows) INTO changed;
    END IF;
    IF changed THEN
        PERFORM onemap_bump_layer(TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;
