-- onemap 0037 down: the layer version trigger as migration 0001 made it.
CREATE OR REPLACE FUNCTION onemap_bump_layer_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT EXISTS (SELECT 1 FROM old_rows) INTO changed;
    ELSIF TG_OP = 'TRUNCATE' THEN
        changed := true;
    ELSE
        SELECT EXISTS (SELECT 1 FROM new_rows) INTO changed;
    END IF;
    IF changed THEN
        INSERT INTO layer_versions AS lv (layer, version, changed_at)
        VALUES (TG_TABLE_NAME, 1, now())
        ON CONFLICT (layer) DO UPDATE
            SET version = lv.version + 1, changed_at = now();
        PERFORM pg_notify('onemap_layer_changed', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;

DROP FUNCTION onemap_bump_layer(text);
