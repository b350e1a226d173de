-- Whether the transaction's organisation (onemap.org) may write this feature, as the
-- row-level security policies decide it (db/migrations/sql/0018_policies.sql).
SELECT onemap_may_write({{category}}, t.geom) FROM {{table}} t WHERE t.code = $1
