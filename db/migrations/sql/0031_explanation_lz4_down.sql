ALTER TABLE grade_history ALTER COLUMN explanation SET COMPRESSION default;
