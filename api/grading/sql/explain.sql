-- Explain graded units in one pass, set-based: each unit's facts (onemap_grade_facts,
-- migration 0035), from which onemap_render_explanation() writes the JSON
-- api/grading/records.py's Grade.to_json builds (docs/grading-model.md, "The explanation
-- every grade carries") when grade_history is read: the numbers, codes and levels, and
-- the records each factor lists (built here as json: what they list is what stood at
-- as_of). For units whose level is not held by hysteresis (a unit graded for the first
-- time, or whose level did not fall); the engine explains the others with the pure
-- model. The same selections as api/grading/loader.py, taken at as_of; the same sort
-- orders as the model (codes compare as Python compares strings: COLLATE "C"). tests/db
-- compare both.
--
-- $1 text          the parameter set (JSON)
-- $2 timestamptz   as_of
-- $3 text          as_of as the model writes it (Python's isoformat)
-- $4 int           the parameter set's version
-- $5 bigint[]      unit ids
-- $6 text[]        their previous levels (same order; NULL: none)
--                  ($5 and $6 only in the "listed" variant: first.sql explains the units
--                  never graded with ids from $6 to $7, and the chunk_ru and chunk_mp
--                  placeholders repeat that range where a scan beside `u` would read
--                  every unit: statements.CHUNK_COLUMNS)
WITH p AS MATERIALIZED (
    SELECT $2::timestamptz AS t, j,
           j #>> '{timezone}' AS tz,
           (j #>> '{accident_window_days}')::int AS acc_days,
           (j #>> '{exposure,radius_m}')::numeric AS radius,
           ARRAY(SELECT (b ->> 0)::int FROM jsonb_array_elements(j #> '{exposure,population_bands}') b)
               AS e_edges,
           ARRAY(SELECT (b ->> 1)::numeric
                   FROM jsonb_array_elements(j #> '{exposure,population_bands}') b) AS e_values,
           (j #>> '{exposure,vulnerable_site_bonus}')::numeric AS e_bonus,
           (j #>> '{exposure,max}')::numeric AS e_max,
           (j #>> '{exposure,unknown_population}')::numeric AS e_unknown,
           (j #>> '{hazard,unassessed}')::numeric AS h_unassessed,
           (j #>> '{k,sum_cap}')::numeric AS sum_cap,
           {{levels}} AS levels,
           {{warning_colours}} AS colours,
           -- every number read once here as a scalar or an array by rank: a jsonb read per
           -- unit costs a detoast of the whole parameter set
           ARRAY(SELECT (j #>> ARRAY['hazard', 'gb18218', g::text])::numeric
                   FROM generate_series(1, 4) g ORDER BY g) AS h_gb,
           ARRAY(SELECT (j #>> ARRAY['hazard', 'registered', l])::numeric
                   FROM unnest({{levels}}) WITH ORDINALITY AS x (l, n) ORDER BY n) AS h_reg,
           {{control_levels}} AS g_codes,
           ARRAY(SELECT (j #>> ARRAY['control', c])::numeric
                   FROM unnest({{control_levels}}) WITH ORDINALITY AS x (c, n) ORDER BY n)
               AS g_values,
           ARRAY(SELECT (j #>> ARRAY['k', 'alarm_level', g::text])::numeric
                   FROM generate_series(1, 4) g ORDER BY g) AS k_alarm,
           ARRAY(SELECT (j #>> ARRAY['k', 'weather', c])::numeric
                   FROM unnest({{warning_colours}}) WITH ORDINALITY AS x (c, n) ORDER BY n)
               AS k_weather,
           ARRAY(SELECT j #>> ARRAY['floors', 'F3', c]
                   FROM unnest({{warning_colours}}) WITH ORDINALITY AS x (c, n) ORDER BY n)
               AS f3_levels,
           (j #>> '{k,further_alarm_point,each}')::numeric AS kfa_each,
           (j #>> '{k,further_alarm_point,cap}')::numeric AS kfa_cap,
           (j #>> '{k,offline_point,each}')::numeric AS kof_each,
           (j #>> '{k,offline_point,cap}')::numeric AS kof_cap,
           (j #>> '{k,hidden_general,each}')::numeric AS kgen_each,
           (j #>> '{k,hidden_general,cap}')::numeric AS kgen_cap,
           (j #>> '{k,hidden_general,overdue_factor}')::numeric AS kgen_over,
           (j #>> '{k,hidden_large,each}')::numeric AS klarge_each,
           (j #>> '{k,hidden_large,cap}')::numeric AS klarge_cap,
           (j #>> '{k,hidden_major,each}')::numeric AS kmajor_each,
           (j #>> '{k,hidden_major,cap}')::numeric AS kmajor_cap,
           (j #>> '{k,special_period,each}')::numeric AS ksp_each,
           (j #>> '{k,special_period,cap}')::numeric AS ksp_cap,
           (j #>> '{k,accident_general,each}')::numeric AS kag_each,
           (j #>> '{k,accident_general,cap}')::numeric AS kag_cap,
           (j #>> '{k,accident_large,each}')::numeric AS kal_each,
           (j #>> '{k,accident_large,cap}')::numeric AS kal_cap,
           (j #>> '{bands,general}')::numeric AS b_general,
           (j #>> '{bands,large}')::numeric AS b_large,
           (j #>> '{bands,major}')::numeric AS b_major,
           (j #>> '{floors,F0}')::boolean AS f0_on,
           j #>> '{floors,F1,level}' AS f1_level,
           j #>> '{floors,F2,level}' AS f2_level,
           j #>> '{floors,F4,level}' AS f4_level,
           (j #>> '{floors,F5,min_fired}')::int AS f5_min,
           j #>> '{floors,F5,level}' AS f5_level
      FROM (SELECT $1::text::jsonb AS j) s
),
u AS MATERIALIZED (
    -- the units explained and their previous levels: listed ($5, $6), or every unit
    -- never graded (first.sql)
    {{units}}
),
gb AS (
    SELECT hs.risk_unit_id AS uid, min(hs.gb_grade) AS grade,
           array_agg(hs.code ORDER BY hs.code) AS codes
      FROM hazard_sources hs JOIN u ON u.id = hs.risk_unit_id
     WHERE hs.gb_grade IS NOT NULL
     GROUP BY hs.risk_unit_id
),
-- ---------------------------------------------------------------- alarms at as_of
al_rows AS (
    SELECT a.risk_unit_id AS uid, a.code AS id, mp.code AS point, a.level, a.started_at,
           a.ended_at, a.false_alarm_at IS NOT NULL AS false_alarm
      FROM alarms a
      JOIN u ON u.id = a.risk_unit_id
      JOIN monitoring_points mp ON mp.id = a.point_id
     CROSS JOIN p
     WHERE a.started_at <= p.t AND (a.ended_at IS NULL OR a.ended_at > p.t)
),
al_top AS (
    SELECT uid, min(level) AS top, count(DISTINCT point) AS points
      FROM al_rows WHERE NOT false_alarm GROUP BY uid
),
al AS (
    SELECT r.uid, t.top, t.points,
           json_agg(onemap_alarm_record(r.id, r.point, r.level, r.started_at, r.ended_at)
                     ORDER BY r.level, r.point COLLATE "C", r.started_at, r.id COLLATE "C")
               FILTER (WHERE NOT r.false_alarm AND r.level = t.top) AS top_records,
           json_agg(onemap_alarm_record(r.id, r.point, r.level, r.started_at, r.ended_at)
                     ORDER BY r.level, r.point COLLATE "C", r.started_at, r.id COLLATE "C")
               FILTER (WHERE NOT r.false_alarm AND r.level <> t.top) AS further_records,
           array_agg(r.id ORDER BY r.id COLLATE "C")
               FILTER (WHERE NOT r.false_alarm AND r.level = 1) AS red,
           array_agg(r.id) FILTER (WHERE r.false_alarm) AS false_ids
      FROM al_rows r LEFT JOIN al_top t ON t.uid = r.uid
     GROUP BY r.uid, t.top, t.points
),
-- ---------------------------------------------------------------- offline points at as_of
off_rows AS (
    SELECT mp.risk_unit_id AS uid, mp.code AS point, o.started_at AS since,
           o.ended_at AS until, false AS never
      FROM monitoring_offline_periods o
      JOIN monitoring_points mp ON mp.id = o.point_id
      JOIN u ON u.id = mp.risk_unit_id
     CROSS JOIN p
     WHERE o.started_at <= p.t AND o.ended_at > p.t
    UNION ALL
    SELECT mp.risk_unit_id, mp.code, s.last_at + mp.expected_interval_s * interval '1 second',
           NULL, s.last_at IS NULL
      FROM monitoring_points mp
      JOIN u ON u.id = mp.risk_unit_id
      LEFT JOIN point_liveness l ON l.block = onemap_liveness_block(mp.id)
     CROSS JOIN LATERAL (SELECT onemap_last_reading(l.last_us, mp.id) AS last_at) s
     CROSS JOIN p
     WHERE coalesce(s.last_at + mp.expected_interval_s * interval '1 second' <= p.t, true)
       AND {{chunk_mp}}
),
off AS (
    SELECT uid, count(DISTINCT point) AS points,
           json_agg(json_build_object('type', 'offline_point', 'point', point,
                                        'since', onemap_iso(since), 'until', onemap_iso(until))
                     ORDER BY point COLLATE "C", coalesce(onemap_iso(since), '') COLLATE "C")
               AS records,
           to_json(array_agg(DISTINCT point COLLATE "C")) AS all_points,
           to_json(array_agg(DISTINCT point COLLATE "C") FILTER (WHERE never)) AS never_points
      FROM off_rows GROUP BY uid
),
-- ---------------------------------------------------------------- hidden hazards at as_of
hz_rows AS (
    SELECT h.risk_unit_id AS uid, h.code AS id, h.severity, h.due_date, h.reported_at,
           e.until, d.deadline <= p.t AND (e.until IS NULL OR e.until > d.deadline) AS overdue
      FROM hidden_hazards h
      JOIN u ON u.id = h.risk_unit_id
     CROSS JOIN p
     CROSS JOIN LATERAL (SELECT least(h.verified_at, h.closed_at) AS until) e
     CROSS JOIN LATERAL (
           SELECT ((h.due_date + 1)::timestamp AT TIME ZONE p.tz) AS deadline) d
     WHERE h.reported_at <= p.t AND (e.until IS NULL OR e.until > p.t)
       AND NOT (h.status IN ('verified', 'closed') AND e.until IS NULL)
),
hz AS (
    SELECT r.uid,
           count(*) FILTER (WHERE r.severity = 'general') AS gen,
           count(*) FILTER (WHERE r.severity = 'general' AND coalesce(r.overdue, false))
               AS gen_over,
           count(*) FILTER (WHERE r.severity = 'large') AS large,
           count(*) FILTER (WHERE r.severity = 'major') AS major,
           json_agg(x.rec ORDER BY r.id COLLATE "C") FILTER (WHERE r.severity = 'general')
               AS gen_records,
           json_agg(x.rec ORDER BY r.id COLLATE "C") FILTER (WHERE r.severity = 'large')
               AS large_records,
           json_agg(x.rec ORDER BY r.id COLLATE "C") FILTER (WHERE r.severity = 'major')
               AS major_records,
           array_agg(r.id ORDER BY r.id COLLATE "C") FILTER (WHERE r.severity = 'major')
               AS major_ids
      FROM hz_rows r
     CROSS JOIN LATERAL (
           SELECT json_build_object('type', 'hidden_hazard', 'id', r.id, 'severity', r.severity,
                                     'due', to_char(r.due_date, 'YYYY-MM-DD'),
                                     'overdue', coalesce(r.overdue, false),
                                     'since', onemap_iso(r.reported_at),
                                     'until', onemap_iso(r.until)) AS rec) x
     GROUP BY r.uid
),
-- ---------------------------------------------------------------- weather warnings at as_of
-- the warnings in force, each with the categories it is relevant to (read from the
-- parameter set once a warning, not once a unit: a jsonb read detoasts the whole set)
ww_on AS MATERIALIZED (
    SELECT w.code, w.type, w.colour, w.valid_from, least(w.valid_to, w.cancelled_at) AS until,
           w.geom, p.j -> 'relevance' -> w.type AS rel
      FROM weather_warnings w CROSS JOIN p
     WHERE w.valid_from <= p.t AND least(w.valid_to, w.cancelled_at) > p.t
),
ww_rows AS (
    SELECT ru.id AS uid, w.code AS id, w.type, w.colour, w.valid_from, w.until,
           coalesce(w.rel ? ru.category, false) AS relevant, ru.category
      FROM ww_on w
      JOIN risk_units ru ON ST_Intersects(ru.geom, w.geom)
      JOIN u ON u.id = ru.id
     WHERE {{chunk_ru}}
),
-- each row with its unit's top colour (of the relevant warnings): a window over the rows,
-- not a join of the rows with their grouped top (estimated at a row or two, the chunk of a
-- first grading made that join a nested loop, quadratic in the units under a warning)
ww_top AS (
    SELECT r.*, (p.colours)[max(array_position(p.colours, r.colour)) FILTER (WHERE r.relevant)
                                OVER (PARTITION BY r.uid)] AS top
      FROM ww_rows r CROSS JOIN p
),
ww AS (
    SELECT r.uid, r.top,
           json_agg(json_build_object('type', 'weather_warning', 'id', r.id,
                                        'warning_type', r.type, 'colour', r.colour,
                                        'since', onemap_iso(r.valid_from),
                                        'until', onemap_iso(r.until))
                     ORDER BY r.id COLLATE "C") FILTER (WHERE r.relevant AND r.colour = r.top)
               AS records,
           to_json(array_agg(r.id ORDER BY r.id COLLATE "C")
                    FILTER (WHERE r.relevant AND r.colour = r.top)) AS top_ids,
           json_agg(json_build_object('type', 'weather_warning', 'id', r.id,
                                        'reason', r.type || ' is not relevant to ' || r.category))
               FILTER (WHERE NOT r.relevant) AS ignored
      FROM ww_top r
     GROUP BY r.uid, r.top
),
-- ---------------------------------------------------------------- special periods at as_of
sp_on AS MATERIALIZED (
    SELECT s.code, s.geom,
           json_build_object('type', 'special_period', 'id', s.code,
                             'since', onemap_iso(s.starts_at),
                             'until', onemap_iso(least(s.ends_at, s.cancelled_at))) AS rec
      FROM special_periods s CROSS JOIN p
     WHERE s.starts_at <= p.t AND least(s.ends_at, s.cancelled_at) > p.t
),
-- the city-wide ones: every unit's list unless it lies in a local one (built once, not
-- once a unit)
sp_city AS MATERIALIZED (
    SELECT count(*) AS n, json_agg(rec ORDER BY code COLLATE "C") AS records
      FROM sp_on WHERE geom IS NULL
),
-- the units in a local one: their whole list (city-wide and local)
sp AS (
    SELECT ru.id AS uid, count(*) AS n, json_agg(o.rec ORDER BY o.code COLLATE "C") AS records
      FROM (SELECT DISTINCT ru.id
              FROM sp_on l
              JOIN risk_units ru ON ST_Intersects(ru.geom, l.geom)
              JOIN u ON u.id = ru.id
             WHERE l.geom IS NOT NULL AND {{chunk_ru}}) inside
      JOIN risk_units ru ON ru.id = inside.id
      JOIN sp_on o ON o.geom IS NULL OR ST_Intersects(ru.geom, o.geom)
     GROUP BY ru.id
),
-- ---------------------------------------------------------------- accidents at as_of
ac AS (
    SELECT a.risk_unit_id AS uid,
           count(*) FILTER (WHERE a.grade = 'general') AS gen,
           count(*) FILTER (WHERE a.grade IN ('large', 'major', 'especially_major')) AS large,
           json_agg(x.rec ORDER BY a.occurred_at, a.code COLLATE "C")
               FILTER (WHERE a.grade = 'general') AS gen_records,
           json_agg(x.rec ORDER BY a.occurred_at, a.code COLLATE "C")
               FILTER (WHERE a.grade IN ('large', 'major', 'especially_major')) AS large_records,
           to_json(array_agg(a.code ORDER BY a.code COLLATE "C")
                    FILTER (WHERE a.grade IN ('large', 'major', 'especially_major')))
               AS large_ids
      FROM accidents a
      JOIN u ON u.id = a.risk_unit_id
     CROSS JOIN p
     CROSS JOIN LATERAL (
           SELECT json_build_object('type', 'accident', 'id', a.code, 'grade', a.grade,
                                     'at', onemap_iso(a.occurred_at)) AS rec) x
     WHERE a.occurred_at <= p.t AND a.occurred_at + p.acc_days * interval '86400 seconds' > p.t
     GROUP BY a.risk_unit_id
),
-- ---------------------------------------------------------------- H, E, G and the factors
base AS (
    SELECT u.id, u.prev, ru.code, ru.category, ru.registered_level, ru.control_level,
           gb.grade AS gb_grade, gb.codes AS hs_codes,
           ex.population, coalesce(ex.vulnerable_site, false) AS vs,
           coalesce(ex.vulnerable_sites, '{}') AS vs_codes,
           CASE WHEN gb.grade IS NOT NULL THEN 'gb18218'
                WHEN ru.registered_level IS NOT NULL THEN 'registered_level'
                ELSE 'unassessed' END AS basis,
           CASE WHEN gb.grade IS NOT NULL THEN p.h_gb[gb.grade]
                WHEN ru.registered_level IS NOT NULL
                THEN p.h_reg[array_position(p.levels, ru.registered_level)]
                ELSE p.h_unassessed END AS h,
           CASE WHEN ex.population IS NULL THEN p.e_unknown
                ELSE p.e_values[greatest(1, width_bucket(ex.population, p.e_edges))] END
               AS e_base,
           CASE WHEN coalesce(ex.vulnerable_site, false) THEN p.e_bonus ELSE 0 END AS e_bonus,
           p.g_values[array_position(p.g_codes, ru.control_level)] AS g,
           al.top, coalesce(al.points, 0) AS al_points, al.top_records, al.further_records,
           al.red, al.false_ids,
           coalesce(off.points, 0) AS off_points, off.records AS off_records,
           off.all_points AS off_all, off.never_points AS off_never,
           coalesce(hz.gen, 0) AS hz_gen, coalesce(hz.gen_over, 0) AS hz_gen_over,
           coalesce(hz.large, 0) AS hz_large, coalesce(hz.major, 0) AS hz_major,
           hz.gen_records, hz.large_records, hz.major_records, hz.major_ids,
           ww.top AS ww_top, ww.records AS ww_records, ww.top_ids AS ww_ids,
           ww.ignored AS ww_ignored,
           coalesce(sp.n, spc.n) AS sp_n, coalesce(sp.records, spc.records) AS sp_records,
           coalesce(ac.gen, 0) AS ac_gen, coalesce(ac.large, 0) AS ac_large,
           ac.gen_records AS ac_gen_records, ac.large_records AS ac_large_records,
           ac.large_ids AS ac_large_ids
      FROM u
      JOIN risk_units ru ON ru.id = u.id
     CROSS JOIN p
      LEFT JOIN gb ON gb.uid = u.id
      LEFT JOIN risk_unit_exposure ex ON ex.risk_unit_id = u.id
      LEFT JOIN al ON al.uid = u.id
      LEFT JOIN off ON off.uid = u.id
      LEFT JOIN hz ON hz.uid = u.id
      LEFT JOIN ww ON ww.uid = u.id
      LEFT JOIN sp ON sp.uid = u.id
     CROSS JOIN sp_city spc
      LEFT JOIN ac ON ac.uid = u.id
     WHERE {{chunk_ru}}
),
-- each factor's k where it applies (NULL: it does not)
fk AS (
    SELECT b.*,
           CASE WHEN b.top IS NOT NULL THEN p.k_alarm[b.top] END AS k1,
           CASE WHEN b.al_points > 1
                THEN least(p.kfa_cap, p.kfa_each * (b.al_points - 1)) END AS k2,
           CASE WHEN b.off_points > 0 THEN least(p.kof_cap, p.kof_each * b.off_points) END AS k3,
           CASE WHEN b.hz_gen > 0
                THEN least(p.kgen_cap, p.kgen_each * ((b.hz_gen - b.hz_gen_over)
                                                     + p.kgen_over * b.hz_gen_over)) END AS k4,
           CASE WHEN b.hz_large > 0 THEN least(p.klarge_cap, p.klarge_each * b.hz_large) END AS k5,
           CASE WHEN b.hz_major > 0 THEN least(p.kmajor_cap, p.kmajor_each * b.hz_major) END AS k6,
           CASE WHEN b.ww_top IS NOT NULL
                THEN p.k_weather[array_position(p.colours, b.ww_top)] END AS k7,
           CASE WHEN b.sp_n > 0 THEN least(p.ksp_cap, p.ksp_each * b.sp_n) END AS k8,
           CASE WHEN b.ac_gen > 0 THEN least(p.kag_cap, p.kag_each * b.ac_gen) END AS k9,
           CASE WHEN b.ac_large > 0 THEN least(p.kal_cap, p.kal_each * b.ac_large) END AS k10
      FROM base b CROSS JOIN p
),
-- Σk (NULL k's count as none, as sum() skips them)
ks AS (
    SELECT fk.*,
           coalesce(fk.k1, 0) + coalesce(fk.k2, 0) + coalesce(fk.k3, 0) + coalesce(fk.k4, 0)
           + coalesce(fk.k5, 0) + coalesce(fk.k6, 0) + coalesce(fk.k7, 0) + coalesce(fk.k8, 0)
           + coalesce(fk.k9, 0) + coalesce(fk.k10, 0) AS sum_k
      FROM fk
    -- OFFSET 0: computed once a row and read as a column below (a CTE read once is
    -- inlined, and its expressions with it, into every expression that reads them: Σk
    -- would be summed again in R, the score level, the level and the deciding rule)
    OFFSET 0
),
sc AS (
    SELECT b.*, b.h * least(p.e_max, b.e_base + b.e_bonus) * b.g AS r0,
           least(p.e_max, b.e_base + b.e_bonus) AS e,
           least(p.sum_cap, b.sum_k) AS applied,
           -- the floors' levels (NULL: not fired)
           CASE WHEN p.f0_on AND b.registered_level IS NOT NULL
                THEN b.registered_level END AS f0,
           CASE WHEN b.hz_major > 0 THEN p.f1_level END AS f1,
           CASE WHEN b.red IS NOT NULL THEN p.f2_level END AS f2,
           p.f3_levels[array_position(p.colours, b.ww_top)] AS f3,
           CASE WHEN b.ac_large > 0 THEN p.f4_level END AS f4
      FROM ks b
     CROSS JOIN p
),
lv AS (
    SELECT sc.*, sc.r0 * (1 + sc.applied) AS r,
           CASE WHEN sc.r0 * (1 + sc.applied) >= p.b_major THEN 'major'
                WHEN sc.r0 * (1 + sc.applied) >= p.b_large THEN 'large'
                WHEN sc.r0 * (1 + sc.applied) >= p.b_general THEN 'general'
                ELSE 'low' END AS score_level,
           -- no subquery: lv is inlined wherever `fired` is read
           array_remove(ARRAY[CASE WHEN sc.f1 IS NOT NULL THEN 'F1' END,
                              CASE WHEN sc.f2 IS NOT NULL THEN 'F2' END,
                              CASE WHEN sc.f3 IS NOT NULL THEN 'F3' END,
                              CASE WHEN sc.f4 IS NOT NULL THEN 'F4' END], NULL) AS fired
      FROM sc CROSS JOIN p
    OFFSET 0  -- R, the score level and the rules fired: once a row (see ks)
),
f5 AS (
    SELECT lv.*,
           CASE WHEN cardinality(lv.fired) >= p.f5_min THEN p.f5_level END AS f5
      FROM lv CROSS JOIN p
),
fin AS (
    SELECT f5.*, (p.levels)[greatest(array_position(p.levels, f5.score_level),
                                     array_position(p.levels, f5.f0),
                                     array_position(p.levels, f5.f1),
                                     array_position(p.levels, f5.f2),
                                     array_position(p.levels, f5.f3),
                                     array_position(p.levels, f5.f4),
                                     array_position(p.levels, f5.f5))] AS level
      FROM f5 CROSS JOIN p
    OFFSET 0  -- the level: once a row (see ks)
),
dec AS (
    SELECT fin.*,
           CASE WHEN fin.level = fin.score_level THEN 'score'
                WHEN fin.f5 = fin.level THEN 'F5'
                WHEN fin.f0 = fin.level THEN 'F0'
                WHEN fin.f1 = fin.level THEN 'F1'
                WHEN fin.f2 = fin.level THEN 'F2'
                WHEN fin.f3 = fin.level THEN 'F3'
                WHEN fin.f4 = fin.level THEN 'F4'
                ELSE 'score' END AS decided_by
      FROM fin
)
SELECT d.id, d.level, d.r, d.r0, d.prev,
       ROW(d.level, d.prev, d.r, d.r0, d.sum_k, d.applied, p.sum_cap,
           d.h, d.gb_grade, d.registered_level, d.hs_codes, d.basis,
           d.e, p.radius, d.population, d.vs, d.vs_codes, d.e_base, d.e_bonus,
           d.g, d.control_level,
           -- the factors: what each counts, its k, the records it lists (in the model's
           -- order: alarm_highest ... accident_large; rendered by onemap_factors)
           d.top, d.al_points, d.hz_gen, d.hz_gen_over, d.hz_large, d.hz_major, d.sp_n,
           d.ac_gen, d.ac_large, p.acc_days,
           ARRAY[d.k1, d.k2, d.k3, d.k4, d.k5, d.k6, d.k7, d.k8, d.k9, d.k10],
           ARRAY[d.top_records, coalesce(d.further_records, '[]'::json), d.off_records,
                 d.gen_records, d.large_records, d.major_records, d.ww_records, d.sp_records,
                 d.ac_gen_records, d.ac_large_records],
           d.score_level,
           d.f0, d.f1, d.f2, d.f3, d.f4, d.f5, d.fired,
           d.major_ids, d.red, d.ww_top, d.ww_ids, d.ac_large_ids,
           d.decided_by, $4::int, $3::text, d.code, d.category,
           d.off_points, d.off_all, d.off_never, d.false_ids, d.ww_ignored
       )::onemap_grade_facts AS facts
  FROM dec d CROSS JOIN p
