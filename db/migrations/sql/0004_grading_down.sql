DROP FUNCTION IF EXISTS onemap_drop_reading_partitions(date);
DROP TRIGGER IF EXISTS grade_history_inserted ON grade_history;
DROP FUNCTION IF EXISTS onemap_grade_history_inserted();
DROP TABLE IF EXISTS webhook_attempts, webhook_deliveries, webhooks, grading_runs,
    reading_batches, monitoring_offline_periods, risk_unit_exposure;
DROP INDEX IF EXISTS alarms_ended_idx, hidden_hazards_open_idx;
DROP TRIGGER IF EXISTS risk_units_exposure_stale ON risk_units;
DROP FUNCTION IF EXISTS onemap_risk_unit_geom_changed();
