-- The feature_history versions of the units a regrade statement wrote (a fragment:
-- first.sql and apply.sql put it after their UPDATE, whose RETURNING is `upd`): the
-- compact version the history trigger writes for a change of computed columns only
-- (migration 0026), written here because the statement knows it changed nothing else;
-- the engine sets onemap.history_written so the trigger leaves the statement to it
-- (migration 0036). The row before (`o`) is the statement's snapshot of risk_units, or
-- three NULLs for units never graded (first.sql: no join of a million rows to learn it).
-- tests/db/test_grading_sql.py checks these rows against the trigger's.
versions AS (
    INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff,
                                 compact)
    SELECT 'risk_units', n.code, coalesce(m.v, 0) + 1,
           nullif(current_setting('onemap.actor', true), ''),
           nullif(current_setting('onemap.actor_kind', true), ''),
           coalesce(nullif(current_setting('onemap.via', true), ''), 'grading'), 'update',
           jsonb_build_object('current_level', to_jsonb(n.current_level),
                              'current_r', to_jsonb(n.current_r),
                              'level_changed_at', to_jsonb(n.level_changed_at)),
           d.diff, true
      FROM upd n
      {{before}}
     CROSS JOIN LATERAL (
           SELECT CASE WHEN o.current_level IS DISTINCT FROM n.current_level
                       THEN jsonb_build_object('current_level', jsonb_build_array(
                                to_jsonb(o.current_level), to_jsonb(n.current_level)))
                       ELSE '{}'::jsonb END
                  || CASE WHEN o.current_r IS DISTINCT FROM n.current_r
                          THEN jsonb_build_object('current_r', jsonb_build_array(
                                   to_jsonb(o.current_r), to_jsonb(n.current_r)))
                          ELSE '{}'::jsonb END
                  || CASE WHEN o.level_changed_at IS DISTINCT FROM n.level_changed_at
                          THEN jsonb_build_object('level_changed_at', jsonb_build_array(
                                   to_jsonb(o.level_changed_at), to_jsonb(n.level_changed_at)))
                          ELSE '{}'::jsonb END AS diff) d
      LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
                  WHERE h.layer = 'risk_units' AND h.code IN (SELECT code FROM upd)
                  GROUP BY h.code) m ON m.code = n.code
     WHERE d.diff <> '{}'::jsonb
)
