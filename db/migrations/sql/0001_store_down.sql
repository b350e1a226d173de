-- onemap 0001 down: drop the store (data included).
DROP TABLE IF EXISTS grade_history, grading_param_sets, vulnerable_sites, broadcasts,
    rescue_teams, enterprise_capacity, capacity_enterprises, depot_stock, reserve_depots,
    shelters, lifelines, special_periods, weather_warnings, accidents, hidden_hazard_events,
    hidden_hazards, alarms, readings, monitoring_point_state, monitoring_points,
    hazard_substances, hazard_sources, risk_units, population_cells, districts, onemap_meta,
    layer_versions CASCADE;
DROP FUNCTION IF EXISTS onemap_ensure_reading_partitions(timestamptz, timestamptz),
    onemap_hazard_sources_people_changed(), onemap_hazard_substances_changed(),
    onemap_gb18218_refresh(bigint), onemap_gb18218_grade(double precision),
    onemap_gb18218_alpha(integer), onemap_register_layer(regclass),
    onemap_bump_layer_version(), onemap_touch_updated_at();
