"""api.risk_events: incoming risk events that move grades: hidden hazards, weather
warnings, special periods, accidents (their shared checks and bulk import)."""
