"""tests.db: PostgreSQL + PostGIS, no HTTP."""
