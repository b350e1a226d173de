-- onemap 0033 undone: readings unscoped again.
REVOKE INSERT ON readings FROM onemap_app;
DROP POLICY onemap_insert ON readings;
DROP POLICY onemap_read ON readings;
ALTER TABLE readings DISABLE ROW LEVEL SECURITY;
DROP FUNCTION onemap_scope_points();
