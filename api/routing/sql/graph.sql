SELECT id, source, target, cost_s AS cost, reverse_cost_s AS reverse_cost
  FROM roads WHERE geom && (SELECT geom FROM routing_box LIMIT 1)
UNION ALL
SELECT id, source, target, cost, reverse_cost FROM routing_segments WHERE id < 0
