ALTER TABLE monitoring_point_state RESET (fillfactor);
