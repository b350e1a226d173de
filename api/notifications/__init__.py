"""api.notifications: what goes out when a grade changes: the SSE fan-out
(grade_events) and signed webhooks (webhooks)."""
