"""api.events: the events that move grades (readings and alarms, hidden hazards, warnings, ...)."""
