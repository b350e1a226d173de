"""tests.unit: pure functions, no database (fast)."""
