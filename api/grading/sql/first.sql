-- Grade every unit never graded (no level, no R: a city just imported), in one
-- statement: explain.sql's pass grades each unit and gathers its facts, which go to
-- grade_history as they come (nothing is held but the narrow rows it returns), and the
-- units take the level they were explained with. A unit never graded has no
-- previous one, so no hysteresis: the score.sql pass would grade it the same
-- (tests/db/test_grading_sql.py checks both against the model), and running both was
-- the first grading's cost twice. The others are regraded by apply.sql.
--
-- $1 text params, $2 timestamptz as_of, $3 text as_of as the model writes it, $4 int the
-- parameter set's version, $5 bigint the first of the grade_history ids reserved for
-- these units (one each, numbered in no particular order: the engine reserves them, so
-- that the chunks of a big first grading commit in the order of their ids), $6 and $7
-- bigint the units' ids from and to (a chunk; every unit never graded in one
-- statement: their least and greatest). Returns one row per unit graded. The units'
-- feature versions are written by versions.sql, in this statement.
WITH ins AS (
    INSERT INTO grade_history (id, risk_unit_id, as_of, from_level, to_level, r, r0,
                               param_version, facts)
    OVERRIDING SYSTEM VALUE
    SELECT $5::bigint + row_number() OVER () - 1, x.id, $2, NULL, x.level, x.r::float8,
           x.r0::float8, $4, x.facts
      FROM (
{{explain}}
           ) x
    RETURNING risk_unit_id, to_level, r
),
upd AS (
    UPDATE risk_units ru
       SET current_level = ins.to_level, current_r = ins.r, level_changed_at = $2::timestamptz,
           updated_at = now()
      FROM ins
     WHERE ru.id = ins.risk_unit_id
       -- the chunk's ids again: estimated from ins, a chunk's join read and hashed every unit
       AND ru.id BETWEEN $6::bigint AND $7::bigint
    RETURNING ru.id, ru.code, ru.current_level, ru.current_r, ru.level_changed_at
),
{{versions}}
SELECT upd.id, upd.code, upd.current_level AS level, upd.current_r AS r FROM upd
