-- Whether the transaction's organisation (onemap.org) may write a record of this category
-- ($1, NULL for none) at this geometry ($2, EWKB; NULL for citywide), as the row-level
-- security policies decide it (0018_policies.sql, 0025_event_scope.sql).
SELECT onemap_may_write($1::text, ST_GeomFromEWKB($2::bytea))
