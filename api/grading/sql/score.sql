-- Grade risk units in one pass (docs/grading-model.md), the set-based twin of api/grading/model.py.
--
-- $1 text          the parameter set (JSON)
-- $2 timestamptz   as_of
-- $3 bigint[]      unit ids (only in the "units" variant; each in_units_<alias>
--                  placeholder below becomes `<alias's unit id> = ANY($3)` there
--                  and TRUE in the "all" variant: api/grading/statements.py;
--                  the levels, control levels and warning colours ranked below
--                  are the arrays of api/codes.py, filled in the same way)
--
-- Every event is read over the hysteresis window [as_of - hours, as_of]; the
-- grade counts the ones active at as_of ("now"). An event is active in [t0, t]
-- when it started at or before t and had not ended by t0. A unit whose level
-- would fall below its previous one is held at the highest level any single
-- moment of the window had ("hold", only for those units): the level peaks at
-- the window's start, when an event starts or when a hidden hazard falls
-- overdue, so those are the moments graded (model.moments). Arithmetic is
-- numeric (exact), as in the model.
WITH p AS MATERIALIZED (
    SELECT
        $2::timestamptz AS t,
        $2::timestamptz - (j #>> '{hysteresis_hours}')::numeric * interval '3600 seconds' AS t0,
        (j #>> '{accident_window_days}')::int * interval '86400 seconds' AS acc_w,
        j #>> '{timezone}' AS tz,
        j -> 'relevance' AS rel,
        ARRAY[(j #>> '{hazard,gb18218,1}')::numeric, (j #>> '{hazard,gb18218,2}')::numeric,
              (j #>> '{hazard,gb18218,3}')::numeric, (j #>> '{hazard,gb18218,4}')::numeric] AS h_gb,
        ARRAY[(j #>> '{hazard,registered,low}')::numeric,
              (j #>> '{hazard,registered,general}')::numeric,
              (j #>> '{hazard,registered,large}')::numeric,
              (j #>> '{hazard,registered,major}')::numeric] AS h_reg,
        (j #>> '{hazard,unassessed}')::numeric AS h_unassessed,
        ARRAY(SELECT (b ->> 0)::int FROM jsonb_array_elements(j #> '{exposure,population_bands}') b)
            AS e_edges,
        ARRAY(SELECT (b ->> 1)::numeric
                FROM jsonb_array_elements(j #> '{exposure,population_bands}') b) AS e_values,
        (j #>> '{exposure,vulnerable_site_bonus}')::numeric AS e_bonus,
        (j #>> '{exposure,max}')::numeric AS e_max,
        (j #>> '{exposure,unknown_population}')::numeric AS e_unknown,
        {{control_levels}} AS g_codes,
        ARRAY[(j #>> '{control,grade1}')::numeric, (j #>> '{control,grade2}')::numeric,
              (j #>> '{control,compliant}')::numeric, (j #>> '{control,noncompliant}')::numeric,
              (j #>> '{control,suspended}')::numeric] AS g_values,
        ARRAY[(j #>> '{k,alarm_level,1}')::numeric, (j #>> '{k,alarm_level,2}')::numeric,
              (j #>> '{k,alarm_level,3}')::numeric, (j #>> '{k,alarm_level,4}')::numeric] AS k_alarm,
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
        ARRAY[(j #>> '{k,weather,blue}')::numeric, (j #>> '{k,weather,yellow}')::numeric,
              (j #>> '{k,weather,orange}')::numeric, (j #>> '{k,weather,red}')::numeric]
            AS k_weather,
        (j #>> '{k,special_period,each}')::numeric AS ksp_each,
        (j #>> '{k,special_period,cap}')::numeric AS ksp_cap,
        (j #>> '{k,accident_general,each}')::numeric AS kag_each,
        (j #>> '{k,accident_general,cap}')::numeric AS kag_cap,
        (j #>> '{k,accident_large,each}')::numeric AS kal_each,
        (j #>> '{k,accident_large,cap}')::numeric AS kal_cap,
        (j #>> '{k,sum_cap}')::numeric AS sum_cap,
        ARRAY[(j #>> '{bands,general}')::numeric, (j #>> '{bands,large}')::numeric,
              (j #>> '{bands,major}')::numeric] AS b_edges,
        (j #>> '{floors,F0}')::boolean AS f0,
        array_position({{levels}}, j #>> '{floors,F1,level}') AS f1,
        array_position({{levels}}, j #>> '{floors,F2,level}') AS f2,
        ARRAY[array_position({{levels}}, j #>> '{floors,F3,blue}'),
              array_position({{levels}}, j #>> '{floors,F3,yellow}'),
              array_position({{levels}}, j #>> '{floors,F3,orange}'),
              array_position({{levels}}, j #>> '{floors,F3,red}')]
            AS f3,
        array_position({{levels}}, j #>> '{floors,F4,level}') AS f4,
        (j #>> '{floors,F5,min_fired}')::int AS f5_min,
        array_position({{levels}}, j #>> '{floors,F5,level}') AS f5
    FROM (SELECT $1::text::jsonb AS j) s
),
gb AS (
    SELECT hs.risk_unit_id AS uid, min(hs.gb_grade) AS grade
      FROM hazard_sources hs
     WHERE hs.gb_grade IS NOT NULL AND hs.risk_unit_id IS NOT NULL AND {{in_units_hs}}
     GROUP BY hs.risk_unit_id
),
al AS (
    SELECT a.risk_unit_id AS uid,
           min(a.level) FILTER (WHERE a.ended_at IS NULL OR a.ended_at > p.t) AS top_now,
           count(DISTINCT a.point_id) FILTER (WHERE a.ended_at IS NULL OR a.ended_at > p.t)
               AS pts_now
      FROM alarms a CROSS JOIN p
     WHERE a.false_alarm_at IS NULL AND a.started_at <= p.t
       AND (a.ended_at IS NULL OR a.ended_at > p.t0)
       AND a.risk_unit_id IS NOT NULL AND {{in_units_a}}
     GROUP BY a.risk_unit_id
),
off AS (
    SELECT mp.risk_unit_id AS uid, o.point_id, o.ended_at > p.t AND o.started_at <= p.t AS now
      FROM monitoring_offline_periods o
      JOIN monitoring_points mp ON mp.id = o.point_id
     CROSS JOIN p
     WHERE o.started_at <= p.t AND o.ended_at > p.t0
       AND mp.risk_unit_id IS NOT NULL AND {{in_units_mp}}
    UNION ALL
    SELECT mp.risk_unit_id, mp.id, true
      FROM monitoring_points mp
      LEFT JOIN point_liveness l ON l.block = onemap_liveness_block(mp.id)
     CROSS JOIN p
     WHERE mp.risk_unit_id IS NOT NULL AND {{in_units_mp}}
       AND coalesce(onemap_last_reading(l.last_us, mp.id)
                    + mp.expected_interval_s * interval '1 second' <= p.t, true)
),
offa AS (
    SELECT uid, count(DISTINCT point_id) FILTER (WHERE now) AS n_now
      FROM off GROUP BY uid
),
hz AS (
    SELECT x.uid,
           count(*) FILTER (WHERE x.now AND x.severity = 'general') AS gen_now,
           count(*) FILTER (WHERE x.now AND x.severity = 'general' AND x.over_now) AS gen_over_now,
           count(*) FILTER (WHERE x.now AND x.severity = 'large') AS large_now,
           count(*) FILTER (WHERE x.now AND x.severity = 'major') AS major_now
      FROM (
        SELECT h.risk_unit_id AS uid, h.severity,
               (e.h_end IS NULL OR e.h_end > p.t) AS now,
               d.deadline <= p.t AS over_now
          FROM hidden_hazards h
         CROSS JOIN p
         CROSS JOIN LATERAL (SELECT least(h.verified_at, h.closed_at) AS h_end) e
         CROSS JOIN LATERAL (
               SELECT ((h.due_date + 1)::timestamp AT TIME ZONE p.tz) AS deadline) d
         WHERE h.risk_unit_id IS NOT NULL AND {{in_units_h}}
           AND h.reported_at <= p.t AND (e.h_end IS NULL OR e.h_end > p.t0)
           AND NOT (h.status IN ('verified', 'closed') AND e.h_end IS NULL)
      ) x
     GROUP BY x.uid
),
ww AS MATERIALIZED (
    SELECT w.type, array_position({{warning_colours}}, w.colour) AS c,
           least(w.valid_to, w.cancelled_at) > p.t AS now, w.geom,
           w.valid_from AS since, least(w.valid_to, w.cancelled_at) AS until
      FROM weather_warnings w CROSS JOIN p
     WHERE w.valid_from <= p.t AND least(w.valid_to, w.cancelled_at) > p.t0
),
wx AS (
    SELECT ru.id AS uid, max(ww.c) FILTER (WHERE ww.now) AS c_now
      FROM ww
      JOIN risk_units ru ON ST_Intersects(ru.geom, ww.geom)
     CROSS JOIN p
     WHERE {{in_units_ru}} AND (p.rel -> ww.type) ? ru.category
     GROUP BY ru.id
),
sp AS MATERIALIZED (
    SELECT least(s.ends_at, s.cancelled_at) > p.t AS now, s.geom,
           s.starts_at AS since, least(s.ends_at, s.cancelled_at) AS until
      FROM special_periods s CROSS JOIN p
     WHERE s.starts_at <= p.t AND least(s.ends_at, s.cancelled_at) > p.t0
),
sp_city AS (
    SELECT count(*) FILTER (WHERE now) AS n_now FROM sp WHERE geom IS NULL
),
spx AS (
    SELECT ru.id AS uid, count(*) FILTER (WHERE sp.now) AS n_now
      FROM sp
      JOIN risk_units ru ON ST_Intersects(ru.geom, sp.geom)
     WHERE sp.geom IS NOT NULL AND {{in_units_ru}}
     GROUP BY ru.id
),
ac AS (
    SELECT x.uid,
           count(*) FILTER (WHERE x.now AND x.grade = 'general') AS g_now,
           count(*) FILTER (WHERE x.now AND x.grade <> 'general') AS l_now
      FROM (
        SELECT a.risk_unit_id AS uid, a.grade, a.occurred_at + p.acc_w > p.t AS now
          FROM accidents a CROSS JOIN p
         WHERE a.occurred_at <= p.t AND a.occurred_at + p.acc_w > p.t0
           AND a.risk_unit_id IS NOT NULL AND {{in_units_a}}
      ) x
     GROUP BY x.uid
),
base AS (
    SELECT ru.id, ru.code, ru.current_level AS prev, ru.current_r AS prev_r,
           CASE WHEN p.f0 THEN array_position({{levels}},
                                              ru.registered_level) END AS fl0,
           CASE WHEN gb.grade IS NOT NULL THEN p.h_gb[gb.grade]
                WHEN ru.registered_level IS NOT NULL
                THEN p.h_reg[array_position({{levels}},
                                            ru.registered_level)]
                ELSE p.h_unassessed END AS h,
           least(p.e_max,
                 CASE WHEN ex.population IS NULL THEN p.e_unknown
                      ELSE p.e_values[width_bucket(ex.population, p.e_edges)] END
                 + CASE WHEN ex.vulnerable_site THEN p.e_bonus ELSE 0 END) AS e,
           p.g_values[array_position(p.g_codes, ru.control_level)] AS g,
           al.top_now, coalesce(al.pts_now, 0) AS pts_now,
           coalesce(offa.n_now, 0) AS off_now,
           coalesce(hz.gen_now, 0) AS gen_now, coalesce(hz.gen_over_now, 0) AS gen_over_now,
           coalesce(hz.large_now, 0) AS large_now, coalesce(hz.major_now, 0) AS major_now,
           wx.c_now,
           sp_city.n_now + coalesce(spx.n_now, 0) AS sp_now,
           coalesce(ac.g_now, 0) AS accg_now, coalesce(ac.l_now, 0) AS accl_now
      FROM risk_units ru
     CROSS JOIN p
     CROSS JOIN sp_city
      LEFT JOIN gb ON gb.uid = ru.id
      LEFT JOIN risk_unit_exposure ex ON ex.risk_unit_id = ru.id
      LEFT JOIN al ON al.uid = ru.id
      LEFT JOIN offa ON offa.uid = ru.id
      LEFT JOIN hz ON hz.uid = ru.id
      LEFT JOIN wx ON wx.uid = ru.id
      LEFT JOIN spx ON spx.uid = ru.id
      LEFT JOIN ac ON ac.uid = ru.id
     WHERE {{in_units_ru}}
),
k AS (
    SELECT b.*, b.h * b.e * b.g AS r0,
           coalesce(p.k_alarm[b.top_now], 0) AS k_alarm_now,
           least(p.kfa_cap, p.kfa_each * greatest(b.pts_now - 1, 0)) AS k_further_now,
           least(p.kof_cap, p.kof_each * b.off_now) AS k_offline_now,
           least(p.kgen_cap, p.kgen_each * ((b.gen_now - b.gen_over_now)
                                            + p.kgen_over * b.gen_over_now)) AS k_general_now,
           least(p.klarge_cap, p.klarge_each * b.large_now) AS k_large_now,
           least(p.kmajor_cap, p.kmajor_each * b.major_now) AS k_major_now,
           coalesce(p.k_weather[b.c_now], 0) AS k_weather_now,
           least(p.ksp_cap, p.ksp_each * b.sp_now) AS k_period_now,
           least(p.kag_cap, p.kag_each * b.accg_now) AS k_accg_now,
           least(p.kal_cap, p.kal_each * b.accl_now) AS k_accl_now,
           CASE WHEN b.major_now > 0 THEN p.f1 END AS fl1_now,
           CASE WHEN b.top_now = 1 THEN p.f2 END AS fl2_now,
           p.f3[b.c_now] AS fl3_now,
           CASE WHEN b.accl_now > 0 THEN p.f4 END AS fl4_now
      FROM base b CROSS JOIN p
),
s AS (
    SELECT k.*,
           k.k_alarm_now + k.k_further_now + k.k_offline_now + k.k_general_now + k.k_large_now
           + k.k_major_now + k.k_weather_now + k.k_period_now + k.k_accg_now + k.k_accl_now
               AS sum_k,
           CASE WHEN (k.fl1_now IS NOT NULL)::int + (k.fl2_now IS NOT NULL)::int
                     + (k.fl3_now IS NOT NULL)::int + (k.fl4_now IS NOT NULL)::int >= p.f5_min
                THEN p.f5 END AS fl5_now
      FROM k CROSS JOIN p
),
r AS (
    SELECT s.*, s.r0 * (1 + least(p.sum_cap, s.sum_k)) AS r
      FROM s CROSS JOIN p
),
lv AS (
    SELECT r.*,
           1 + width_bucket(r.r, p.b_edges) AS score_rank,
           greatest(1 + width_bucket(r.r, p.b_edges), r.fl0, r.fl1_now, r.fl2_now, r.fl3_now,
                    r.fl4_now, r.fl5_now) AS now_rank,
           array_position({{levels}}, r.prev) AS prev_rank
      FROM r CROSS JOIN p
),
-- the units whose level would fall: graded again at every moment of the window
dn AS MATERIALIZED (
    SELECT lv.id AS uid, lv.r0, lv.fl0 FROM lv WHERE lv.prev_rank > lv.now_rank
),
ev AS MATERIALIZED (
    -- their events active in the window, one row each (kind, since, until, what it counts)
    SELECT a.risk_unit_id AS uid, 'alarm' AS kind, a.started_at AS since, a.ended_at AS until,
           a.level AS n, a.point_id AS pt, NULL::text AS sev, NULL::timestamptz AS deadline
      FROM alarms a JOIN dn ON dn.uid = a.risk_unit_id CROSS JOIN p
     WHERE a.false_alarm_at IS NULL AND a.started_at <= p.t
       AND (a.ended_at IS NULL OR a.ended_at > p.t0) AND {{in_units_a}}
    UNION ALL
    SELECT dn.uid, 'offline', o.started_at, o.ended_at, NULL, o.point_id, NULL, NULL
      FROM monitoring_offline_periods o
      JOIN monitoring_points mp ON mp.id = o.point_id
      JOIN dn ON dn.uid = mp.risk_unit_id
     CROSS JOIN p
     WHERE o.started_at <= p.t AND o.ended_at > p.t0 AND {{in_units_mp}}
    UNION ALL
    SELECT dn.uid, 'offline',
           coalesce(s.last_at + mp.expected_interval_s * interval '1 second', '-infinity'),
           NULL, NULL, mp.id, NULL, NULL
      FROM monitoring_points mp
      JOIN dn ON dn.uid = mp.risk_unit_id
      LEFT JOIN point_liveness l ON l.block = onemap_liveness_block(mp.id)
     CROSS JOIN LATERAL (SELECT onemap_last_reading(l.last_us, mp.id) AS last_at) s
     CROSS JOIN p
     WHERE {{in_units_mp}}
       AND coalesce(s.last_at + mp.expected_interval_s * interval '1 second' <= p.t, true)
    UNION ALL
    SELECT dn.uid, 'hazard', h.reported_at, e.h_end, NULL, NULL, h.severity,
           ((h.due_date + 1)::timestamp AT TIME ZONE p.tz)
      FROM hidden_hazards h
      JOIN dn ON dn.uid = h.risk_unit_id
     CROSS JOIN p
     CROSS JOIN LATERAL (SELECT least(h.verified_at, h.closed_at) AS h_end) e
     WHERE h.reported_at <= p.t AND (e.h_end IS NULL OR e.h_end > p.t0)
       AND NOT (h.status IN ('verified', 'closed') AND e.h_end IS NULL)
       AND {{in_units_h}}
    UNION ALL
    SELECT dn.uid, 'weather', ww.since, ww.until, ww.c, NULL, NULL, NULL
      FROM ww
      JOIN risk_units ru ON ST_Intersects(ru.geom, ww.geom)
      JOIN dn ON dn.uid = ru.id
     CROSS JOIN p
     WHERE (p.rel -> ww.type) ? ru.category AND {{in_units_ru}}
    UNION ALL
    SELECT dn.uid, 'period', sp.since, sp.until, NULL, NULL, NULL, NULL
      FROM sp
      JOIN risk_units ru ON sp.geom IS NULL OR ST_Intersects(ru.geom, sp.geom)
      JOIN dn ON dn.uid = ru.id
     WHERE {{in_units_ru}}
    UNION ALL
    SELECT dn.uid, 'accident', a.occurred_at, a.occurred_at + p.acc_w, NULL, NULL, a.grade, NULL
      FROM accidents a JOIN dn ON dn.uid = a.risk_unit_id CROSS JOIN p
     WHERE a.occurred_at <= p.t AND a.occurred_at + p.acc_w > p.t0 AND {{in_units_a}}
),
mo AS (
    SELECT dn.uid, p.t0 AS m FROM dn CROSS JOIN p
    UNION
    SELECT ev.uid, ev.since FROM ev CROSS JOIN p WHERE ev.since > p.t0
    UNION
    SELECT ev.uid, ev.deadline FROM ev CROSS JOIN p WHERE ev.deadline > p.t0 AND ev.deadline <= p.t
),
em AS (
    -- what was active at each moment (as "now" counts it at as_of)
    SELECT mo.uid, mo.m,
           min(ev.n) FILTER (WHERE ev.kind = 'alarm') AS top,
           count(DISTINCT ev.pt) FILTER (WHERE ev.kind = 'alarm') AS pts,
           count(DISTINCT ev.pt) FILTER (WHERE ev.kind = 'offline') AS off,
           count(*) FILTER (WHERE ev.kind = 'hazard' AND ev.sev = 'general') AS gen,
           count(*) FILTER (WHERE ev.kind = 'hazard' AND ev.sev = 'general'
                              AND ev.deadline <= mo.m) AS gen_over,
           count(*) FILTER (WHERE ev.kind = 'hazard' AND ev.sev = 'large') AS large,
           count(*) FILTER (WHERE ev.kind = 'hazard' AND ev.sev = 'major') AS major,
           max(ev.n) FILTER (WHERE ev.kind = 'weather') AS c,
           count(*) FILTER (WHERE ev.kind = 'period') AS sp,
           count(*) FILTER (WHERE ev.kind = 'accident' AND ev.sev = 'general') AS accg,
           count(*) FILTER (WHERE ev.kind = 'accident' AND ev.sev <> 'general') AS accl
      FROM mo
      LEFT JOIN ev ON ev.uid = mo.uid AND ev.since <= mo.m
                  AND (ev.until IS NULL OR ev.until > mo.m)
     GROUP BY mo.uid, mo.m
),
hk AS (
    SELECT em.uid, dn.r0, dn.fl0,
           coalesce(p.k_alarm[em.top], 0)
           + least(p.kfa_cap, p.kfa_each * greatest(em.pts - 1, 0))
           + least(p.kof_cap, p.kof_each * em.off)
           + least(p.kgen_cap, p.kgen_each * ((em.gen - em.gen_over) + p.kgen_over * em.gen_over))
           + least(p.klarge_cap, p.klarge_each * em.large)
           + least(p.kmajor_cap, p.kmajor_each * em.major)
           + coalesce(p.k_weather[em.c], 0)
           + least(p.ksp_cap, p.ksp_each * em.sp)
           + least(p.kag_cap, p.kag_each * em.accg)
           + least(p.kal_cap, p.kal_each * em.accl) AS sum_k,
           CASE WHEN em.major > 0 THEN p.f1 END AS fl1,
           CASE WHEN em.top = 1 THEN p.f2 END AS fl2,
           p.f3[em.c] AS fl3,
           CASE WHEN em.accl > 0 THEN p.f4 END AS fl4
      FROM em JOIN dn ON dn.uid = em.uid CROSS JOIN p
),
hold AS (
    SELECT hk.uid,
           max(greatest(1 + width_bucket(hk.r0 * (1 + least(p.sum_cap, hk.sum_k)), p.b_edges),
                        hk.fl0, hk.fl1, hk.fl2, hk.fl3, hk.fl4,
                        CASE WHEN (hk.fl1 IS NOT NULL)::int + (hk.fl2 IS NOT NULL)::int
                                  + (hk.fl3 IS NOT NULL)::int + (hk.fl4 IS NOT NULL)::int
                                  >= p.f5_min THEN p.f5 END)) AS hold_rank
      FROM hk CROSS JOIN p
     GROUP BY hk.uid
)
SELECT lv.*, hold.hold_rank,
       ({{levels}})[
           CASE WHEN lv.prev_rank > lv.now_rank
                THEN greatest(lv.now_rank, least(lv.prev_rank, hold.hold_rank))
                ELSE lv.now_rank END] AS level
  FROM lv
  LEFT JOIN hold ON hold.uid = lv.id
