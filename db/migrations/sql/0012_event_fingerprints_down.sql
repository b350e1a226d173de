DROP TABLE IF EXISTS event_fingerprints;
