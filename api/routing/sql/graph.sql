SELECT id, source, target, cost, reverse_cost FROM routing_segments
