-- Whether the transaction's organisation may move this hidden hazard through its loop,
-- as the hidden_hazards policy decides (its ground, its unit's category, or assigned to it).
SELECT onemap_may_write(onemap_unit_category(h.risk_unit_id), h.geom)
       OR coalesce(h.assignee = onemap_scope_org(), false)
       OR coalesce(h.assigned_org = onemap_scope_org(), false)
  FROM hidden_hazards h
 WHERE h.code = $1
