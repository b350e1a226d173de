DROP INDEX hidden_hazards_status_idx;
DROP POLICY onemap_update ON hidden_hazards;
CREATE POLICY onemap_update ON hidden_hazards FOR UPDATE
    USING (onemap_may_write(onemap_unit_category(risk_unit_id), geom)
           OR assignee = onemap_scope_org())
    WITH CHECK (onemap_may_write(onemap_unit_category(risk_unit_id), geom)
                OR assignee = onemap_scope_org());
DROP TABLE hidden_hazard_evidence;
ALTER TABLE hidden_hazard_events DROP COLUMN actor_org;
ALTER TABLE hidden_hazards
    DROP COLUMN assigned_org, DROP COLUMN reported_by, DROP COLUMN reported_org,
    DROP COLUMN rectified_by, DROP COLUMN rectified_org, DROP COLUMN verified_by,
    DROP COLUMN verified_org;
