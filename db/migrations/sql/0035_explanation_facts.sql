-- onemap 0035: a level change's explanation is stored as its facts and rendered to the
-- same JSON when it is read (issue 17 item 7: the first grading of a million units).
--
-- Every grade_history row carried its explanation as ~2.4 kB of JSON built at write
-- time: most of it the same sentences for every unit (six floor rules with their
-- reasons in two languages, the formulas, the labels). For a first grading that was a
-- million JSON documents built, parsed into jsonb and compressed in one transaction:
-- 108 s of the 178 s at 1,000,000 units (docs/bench.md). The facts are what varies from
-- unit to unit (the numbers, codes, levels, what each factor counts and the records it
-- lists as they stood at as_of); onemap_render_explanation() writes the JSON from them, and
-- onemap_explanation(h) is what every reader asks for: the stored JSON when there is
-- one, else the rendered facts (as jsonb, so the text is the same as a stored one's).
--
-- Which rows have which: explain.sql (a unit graded for the first time, or whose level
-- rose) writes facts; the pure model (a fall, where hysteresis may hold the level and
-- the explanation grades the window's moments) writes JSON, as does a row marked
-- path_mismatch. Exactly one of the two is set. Rows written before this migration keep
-- their JSON.
--
-- The level labels below are api/codes.py's LEVELS, LEVEL_NAMES_ZH, LEVEL_COLOURS and
-- WARNING_COLOURS (tests/db/test_grading_sql.py renders every level and checks them
-- against the model's JSON).

CREATE TYPE onemap_grade_facts AS (
    level            text,
    prev             text,
    r                numeric,
    r0               numeric,
    sum_k            numeric,
    applied          numeric,
    sum_cap          numeric,
    h                numeric,
    gb_grade         smallint,
    registered_level text,
    hs_codes         text[],
    basis            text,
    e                numeric,
    radius           numeric,
    population       integer,
    vs               boolean,
    vs_codes         text[],
    e_base           numeric,
    e_bonus          numeric,
    g                numeric,
    control_level    text,
    top              integer,
    al_points        bigint,
    hz_gen           bigint,
    hz_gen_over      bigint,
    hz_large         bigint,
    hz_major         bigint,
    sp_n             bigint,
    ac_gen           bigint,
    ac_large         bigint,
    acc_days         integer,
    ks               numeric[],
    records          json[],
    score_level      text,
    f0               text,
    f1               text,
    f2               text,
    f3               text,
    f4               text,
    f5               text,
    fired            text[],
    major_ids        text[],
    red              text[],
    ww_top           text,
    ww_ids           json,
    ac_large_ids     json,
    decided_by       text,
    param_version    integer,
    as_of            text,
    code             text,
    category         text,
    off_points       bigint,
    off_all          json,
    off_never        json,
    false_ids        text[],
    ww_ignored       json
);

ALTER TABLE grade_history ADD COLUMN facts onemap_grade_facts;
ALTER TABLE grade_history ALTER COLUMN explanation DROP NOT NULL;
ALTER TABLE grade_history ADD CONSTRAINT grade_history_explained
    CHECK (num_nonnulls(explanation, facts) = 1);

-- A factor as an explanation lists it (explain.sql builds the list in the unit's row).
CREATE FUNCTION onemap_factor(code text, k numeric, detail text, detail_zh text, records json)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$  -- as json_build_object: so it is inlined
    SELECT json_build_object('code', code, 'k', k, 'detail', detail,
                              'detail_i18n', json_build_object('zh', detail_zh, 'en', detail),
                              'records', records)
$$;

-- The factors that apply, in the model's order, as the explanation lists them: from the
-- facts (what each counts, its k, its records); also the codes a grade event carries.
CREATE FUNCTION onemap_factors(d onemap_grade_facts) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT
    ('[' || concat_ws(', ',
        CASE WHEN d.top IS NOT NULL
             THEN onemap_factor('alarm_highest', d.ks[1],
                                'highest active alarm: level ' || d.top,
                                '最高有效报警：' || d.top || '级', d.records[1])::text END,
        CASE WHEN d.al_points > 1
             THEN onemap_factor('alarm_further_points', d.ks[2],
                                (d.al_points - 1) || ' further alarming point(s)',
                                '另有' || (d.al_points - 1) || '个监测点报警',
                                d.records[2])::text END,
        CASE WHEN d.off_points > 0
             THEN onemap_factor('offline_points', d.ks[3],
                                d.off_points || ' monitoring point(s) offline',
                                d.off_points || '个监测点离线', d.records[3])::text END,
        CASE WHEN d.hz_gen > 0
             THEN onemap_factor('hidden_general', d.ks[4],
                                d.hz_gen || ' open general hidden hazard(s), '
                                || d.hz_gen_over || ' overdue',
                                d.hz_gen || '项一般隐患未整改，其中' || d.hz_gen_over || '项逾期',
                                d.records[4])::text END,
        CASE WHEN d.hz_large > 0
             THEN onemap_factor('hidden_large', d.ks[5],
                                d.hz_large || ' open large hidden hazard(s)',
                                d.hz_large || '项较大隐患未整改',
                                d.records[5])::text END,
        CASE WHEN d.hz_major > 0
             THEN onemap_factor('hidden_major', d.ks[6],
                                d.hz_major || ' open major hidden hazard(s)',
                                d.hz_major || '项重大隐患未整改',
                                d.records[6])::text END,
        CASE WHEN d.ww_top IS NOT NULL
             THEN onemap_factor('weather', d.ks[7],
                                'relevant ' || d.ww_top || ' weather warning',
                                '相关' || (ARRAY['蓝色', '黄色', '橙色', '红色'])[
                                    array_position(ARRAY['blue', 'yellow', 'orange', 'red'],
                                                   d.ww_top)] || '气象预警',
                                d.records[7])::text END,
        CASE WHEN d.sp_n > 0
             THEN onemap_factor('special_period', d.ks[8],
                                d.sp_n || ' special period(s) in scope',
                                '处于' || d.sp_n || '个特殊时段', d.records[8])::text END,
        CASE WHEN d.ac_gen > 0
             THEN onemap_factor('accident_general', d.ks[9],
                                d.ac_gen || ' accident(s) within ' || d.acc_days || ' days',
                                d.acc_days || '天内发生' || d.ac_gen || '起一般事故',
                                d.records[9])::text END,
        CASE WHEN d.ac_large > 0
             THEN onemap_factor('accident_large', d.ks[10],
                                d.ac_large || ' accident(s) within ' || d.acc_days
                                || ' days',
                                d.acc_days || '天内发生' || d.ac_large || '起较大及以上事故',
                                d.records[10])::text END)
     || ']')::json
$$;

-- The explanation docs/grading-model.md lists ("The explanation every grade carries"),
-- key for key what api/grading/records.py's Grade.to_json builds, from the facts.
CREATE FUNCTION onemap_render_explanation(d onemap_grade_facts) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT json_build_object(
           'level', d.level,
           'level_zh', p.lzh[array_position(p.levels, d.level)],
           'colour', p.lcol[array_position(p.levels, d.level)],
           'r', d.r,
           'r0', d.r0,
           'sum_k', d.sum_k,
           'sum_k_applied', d.applied,
           'formula', json_build_object(
               'r0', format('R0 = H × E × G = %s × %s × %s = %s', trim_scale(d.h),
                            trim_scale(d.e), trim_scale(d.g), trim_scale(d.r0)),
               'r', format('R = R0 × (1 + min(%s, Σk)) = %s × (1 + %s) = %s',
                           trim_scale(d.sum_cap), trim_scale(d.r0), trim_scale(d.applied),
                           trim_scale(d.r))),
           'h', CASE WHEN d.hs_codes IS NOT NULL
                     THEN json_build_object('value', d.h, 'gb18218_grade', d.gb_grade,
                                            'registered_level', d.registered_level,
                                            'hazard_sources', to_json(d.hs_codes),
                                            'basis', d.basis)
                     ELSE json_build_object('value', d.h, 'gb18218_grade', d.gb_grade,
                                            'registered_level', d.registered_level,
                                            'basis', d.basis) END,
           'e', CASE WHEN cardinality(d.vs_codes) > 0
                     THEN json_build_object('value', d.e, 'radius_m', d.radius,
                                            'population_within_radius', d.population,
                                            'vulnerable_site_within_radius', d.vs,
                                            'vulnerable_sites', to_json(d.vs_codes),
                                            'base', d.e_base, 'bonus', d.e_bonus)
                     ELSE json_build_object('value', d.e, 'radius_m', d.radius,
                                            'population_within_radius', d.population,
                                            'vulnerable_site_within_radius', d.vs,
                                            'base', d.e_base, 'bonus', d.e_bonus) END,
           'g', json_build_object('value', d.g, 'control', d.control_level),
           'factors', onemap_factors(d),
           'score_level', d.score_level,
           'floors', json_build_array(
               onemap_floor('F0', d.f0,
                            CASE WHEN d.registered_level IS NOT NULL
                                 THEN 'registered level ' || d.registered_level
                                 ELSE 'no registered level' END,
                            CASE WHEN d.registered_level IS NOT NULL
                                 THEN '备案等级' || coalesce(p.lzh[array_position(p.levels, d.registered_level)],
                                                         d.registered_level)
                                 ELSE '无备案等级' END,
                            '[]'::json),
               onemap_floor('F1', d.f1,
                            CASE WHEN d.f1 IS NOT NULL THEN 'an open major hidden hazard'
                                 ELSE 'no open major hidden hazard' END,
                            CASE WHEN d.f1 IS NOT NULL THEN '存在未整改的重大隐患'
                                 ELSE '无未整改的重大隐患' END,
                            coalesce(to_json(d.major_ids), '[]'::json)),
               onemap_floor('F2', d.f2,
                            CASE WHEN d.f2 IS NOT NULL THEN 'an active level-1 alarm'
                                 ELSE 'no active level-1 alarm' END,
                            CASE WHEN d.f2 IS NOT NULL THEN '存在一级（红色）报警'
                                 ELSE '无一级（红色）报警' END,
                            coalesce(to_json(d.red), '[]'::json)),
               onemap_floor('F3', d.f3,
                            CASE WHEN d.f3 IS NOT NULL
                                 THEN 'a relevant ' || d.ww_top || ' weather warning'
                                 ELSE 'no relevant warning of a floor colour' END,
                            CASE WHEN d.f3 IS NOT NULL
                                 THEN '相关' || p.czh[array_position(p.colours, d.ww_top)] || '气象预警'
                                 ELSE '无触发底线的相关气象预警' END,
                            CASE WHEN d.f3 IS NOT NULL THEN d.ww_ids ELSE '[]'::json END),
               onemap_floor('F4', d.f4,
                            CASE WHEN d.f4 IS NOT NULL
                                 THEN 'an accident of large grade or above within the window'
                                 ELSE 'no accident of large grade or above within the window'
                            END,
                            CASE WHEN d.f4 IS NOT NULL THEN '期限内发生较大及以上事故'
                                 ELSE '期限内无较大及以上事故' END,
                            coalesce(d.ac_large_ids, '[]'::json)),
               onemap_floor('F5', d.f5,
                            cardinality(d.fired) || ' of F1-F4 fired'
                            || CASE WHEN cardinality(d.fired) > 0
                                    THEN ' (' || array_to_string(d.fired, ', ') || ')'
                                    ELSE '' END,
                            'F1–F4中' || cardinality(d.fired) || '项触发'
                            || CASE WHEN cardinality(d.fired) > 0
                                    THEN '（' || array_to_string(d.fired, '、') || '）'
                                    ELSE '' END,
                            CASE WHEN d.f5 IS NOT NULL THEN to_json(d.fired)
                                 ELSE '[]'::json END)),
           'decided_by', d.decided_by,
           'decided_by_i18n',
               CASE d.decided_by WHEN 'score' THEN '{"zh": "评分", "en": "score"}'::json
                    ELSE json_build_object('zh', '底线规则 ' || d.decided_by,
                                            'en', 'floor ' || d.decided_by) END,
           'previous_level', d.prev,
           'change', CASE WHEN d.prev IS NULL THEN 'new'
                          WHEN array_position(p.levels, d.level)
                               > array_position(p.levels, d.prev) THEN 'up'
                          WHEN array_position(p.levels, d.level)
                               < array_position(p.levels, d.prev) THEN 'down'
                          ELSE 'same' END,
           'hysteresis', NULL,
           'param_version', d.param_version,
           'as_of', d.as_of,
           'unit', json_build_object('code', d.code, 'category', d.category,
                                      'registered_level', d.registered_level,
                                      'gb18218_grade', d.gb_grade,
                                      'control', d.control_level),
           'data_quality',
               ('[' || concat_ws(', ',
                   CASE WHEN d.basis = 'unassessed'
                        THEN json_build_object('code', 'hazard_unassessed',
                                                'detail', 'H assumed ' || trim_scale(d.h))::text
                   END,
                   CASE WHEN d.population IS NULL
                        THEN json_build_object('code', 'population_unknown',
                                                'detail', 'E assumed ' || trim_scale(d.e_base))::text
                   END,
                   CASE WHEN d.off_points > 0
                        THEN json_build_object('code', 'monitoring_offline',
                                                'points', d.off_all)::text
                   END,
                   CASE WHEN d.off_never IS NOT NULL
                        THEN json_build_object('code', 'never_reported', 'points', d.off_never)::text
                   END) || ']')::json,
           'ignored',
               coalesce((SELECT json_agg(i ORDER BY i ->> 'type' COLLATE "C",
                                          i ->> 'id' COLLATE "C")
                           FROM (SELECT json_build_object('type', 'alarm', 'id', fid,
                                                           'reason', 'confirmed false alarm') AS i
                                   FROM unnest(d.false_ids) AS fid
                                 UNION ALL
                                 SELECT w FROM json_array_elements(d.ww_ignored) AS w) ig),
                        '[]'::json)
       )
  FROM (SELECT ARRAY['low', 'general', 'large', 'major'] AS levels,
               ARRAY['低', '一般', '较大', '重大'] AS lzh,
               ARRAY['blue', 'yellow', 'orange', 'red'] AS lcol,
               ARRAY['blue', 'yellow', 'orange', 'red'] AS colours,
               ARRAY['蓝色', '黄色', '橙色', '红色'] AS czh) p
$$;

-- A grade_history row's explanation, whichever way it is stored: what every reader asks
-- for (the API's history, tests), never the columns themselves.
CREATE FUNCTION onemap_explanation(h grade_history) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(h.explanation, onemap_render_explanation(h.facts)::jsonb)
$$;
