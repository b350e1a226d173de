-- The feature_history versions of the units a regrade statement wrote (a fragment:
-- first.sql and apply.sql put it after their UPDATE, whose RETURNING is `upd`): the
-- compact version the history trigger writes for a change of computed columns only
-- (migration 0026), written here because the statement knows it changed nothing else;
-- the engine sets onemap.history_written so the trigger leaves the statement to it
-- (migration 0036). The row before (`o`) is the statement's snapshot of risk_units, or
-- three NULLs for units never graded (first.sql: no join of a million rows to learn it).
-- The data and the diff (only the columns that changed: a key whose value would be null
-- is stripped) are built as jsonb: at 250,000 units 0.9 s against 1.4 s built as json
-- and cast (the json text parsed again). tests/db/test_grading_sql.py checks these rows
-- against the trigger's.
versions AS (
    INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff,
                                 compact)
    SELECT 'risk_units', n.code,
           coalesce((SELECT max(h.version) FROM feature_history h
                      WHERE h.layer = 'risk_units' AND h.code = n.code), 0) + 1,
           nullif(current_setting('onemap.actor', true), ''),
           nullif(current_setting('onemap.actor_kind', true), ''),
           coalesce(nullif(current_setting('onemap.via', true), ''), 'grading'), 'update',
           jsonb_build_object('current_level', n.current_level, 'current_r', n.current_r,
                              'level_changed_at', n.level_changed_at),
           d.diff, true
      FROM upd n
      {{before}}
     CROSS JOIN LATERAL (
           SELECT jsonb_strip_nulls(jsonb_build_object(
                      'current_level',
                      CASE WHEN o.current_level IS DISTINCT FROM n.current_level
                           THEN jsonb_build_array(o.current_level, n.current_level) END,
                      'current_r',
                      CASE WHEN o.current_r IS DISTINCT FROM n.current_r
                           THEN jsonb_build_array(o.current_r, n.current_r) END,
                      'level_changed_at',
                      CASE WHEN o.level_changed_at IS DISTINCT FROM n.level_changed_at
                           THEN jsonb_build_array(o.level_changed_at, n.level_changed_at) END
                  )) AS diff) d
     WHERE d.diff <> '{}'::jsonb
)
