ALTER TABLE grade_history ALTER COLUMN explanation SET COMPRESSION default;
ALTER TABLE risk_units RESET (fillfactor);
CREATE INDEX IF NOT EXISTS risk_units_level_idx ON risk_units (current_level);
