DELETE FROM monitoring_point_state WHERE last_reading_at = '-infinity';
ALTER TABLE monitoring_point_state DROP COLUMN prev_reading_at;
ALTER TABLE monitoring_point_state RESET (fillfactor);
