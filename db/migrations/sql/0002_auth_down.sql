DROP TABLE IF EXISTS audit_log, api_keys, users;
DROP FUNCTION IF EXISTS onemap_api_keys_changed();
