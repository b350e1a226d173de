-- Write a regrade: risk_units rows change only when their level or R changed
-- (layer_versions and tile caches key on those writes).
--
-- The score query (score.sql) is inlined below (same parameters: $1 params, $2 as_of, [$3 unit ids]).
-- Returns one row per written unit; `level_changed` marks the level changes
-- that grade_history must record. The units' feature versions are written by
-- versions.sql, in this statement.
WITH res AS (
    -- only the units to write, only the columns used below: this CTE is read twice,
    -- so it is materialized, and every score column of every unit would be a lot of
    -- rows to spill (the unit's row is compared with the same snapshot the UPDATE sees)
    SELECT s.id, s.code, s.prev, s.level, s.r, s.r0
      FROM (
{{score}}
           ) s
     WHERE s.prev IS DISTINCT FROM s.level OR s.prev_r IS DISTINCT FROM s.r::double precision
),
upd AS (
    UPDATE risk_units ru
       SET current_level = res.level,
           current_r = res.r::double precision,
           level_changed_at = CASE WHEN ru.current_level IS DISTINCT FROM res.level
                                   THEN $2::timestamptz ELSE ru.level_changed_at END,
           updated_at = now()
      FROM res
     WHERE ru.id = res.id
       AND (ru.current_level IS DISTINCT FROM res.level
            OR ru.current_r IS DISTINCT FROM res.r::double precision)
    RETURNING ru.id, ru.code, ru.current_level, ru.current_r, ru.level_changed_at
),
{{versions}}
SELECT res.id, res.code, res.prev, res.level, res.r, res.r0,
       res.prev IS DISTINCT FROM res.level AS level_changed
  FROM res
  JOIN upd ON upd.id = res.id
