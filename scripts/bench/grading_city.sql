-- A deterministic synthetic city for the grading benchmark (scripts/bench/grading.py):
-- :units risk units spread over a 100 km x 100 km square on Xi'an, with the events that
-- move grades in realistic proportions, all as of :as_of:
--   * one monitoring point per 5 units (200,000 for 1 M), online (a reading 30 s ago)
--     except 1 % that never reported (offline); 0.5 % of points in an open alarm;
--   * an open hidden hazard at 2 % of units (a tenth of them overdue, a few major);
--   * an accident in the last year at 0.1 % of units;
--   * an orange rainstorm warning over the square's south-west quarter, and a
--     citywide special period;
--   * exposure cached (risk_unit_exposure, stamped as the engine expects), as after
--     the first grading: computing exposure is a per-unit cache, not part of a regrade.
-- Statements are separated by blank lines; :name placeholders are bound by the bench.

SELECT setseed(0.2026);

INSERT INTO districts (code, name, adcode, population, area_km2, source, geom)
VALUES ('SYN', 'Synthetic city', '619999', 13000000, 10000, 'bench-synthetic',
        ST_Multi(ST_MakeEnvelope(108.40, 33.80, 109.487, 34.70, 4326)));

INSERT INTO risk_units (code, name, district, category, registered_level, control_level,
                        source, geom)
SELECT 'GU' || lpad(i::text, 7, '0'), 'synthetic unit ' || i, 'SYN',
       (ARRAY['gas', 'hazardous_chemicals', 'construction', 'crowded_place', 'high_rise',
              'underground_space', 'bridge_tunnel', 'rail_transit', 'industrial',
              'waterlogging_point', 'drainage', 'power', 'heat_supply', 'water_supply',
              'geological_hazard'])[1 + (i * 7) % 15],
       (ARRAY['low', 'low', 'low', 'general', 'general', 'large', NULL])[1 + (i * 13) % 7],
       (ARRAY['grade1', 'grade2', 'compliant', 'compliant', 'compliant', 'noncompliant',
              'suspended'])[1 + (i * 11) % 7],
       'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM generate_series(1, :units::int) i;

-- one reading an hour expected: the points that reported stay online for the whole
-- bench (with a minute, whether they were online at a regrade depended on how long the
-- regrades before it took)
INSERT INTO monitoring_points (code, name, district, risk_unit_id, kind, domain, direction,
                               threshold_l4, threshold_l3, threshold_l2, threshold_l1,
                               expected_interval_s, source, geom)
SELECT 'GP' || lpad(ru.id::text, 7, '0'), 'synthetic point ' || ru.id, 'SYN', ru.id,
       'gas_concentration', 'lifeline', 'above', 5, 10, 20, 50, 3600, 'bench-synthetic', ru.geom
  FROM risk_units ru WHERE ru.id % 5 = 0;

SELECT onemap_note_readings(array_agg(mp.id), :as_of::timestamptz - interval '30 seconds')
  FROM monitoring_points mp WHERE mp.id % 100 <> 7;

INSERT INTO alarms (code, name, district, point_id, risk_unit_id, episode, level, value,
                    started_at, source, geom)
SELECT 'GA' || mp.id, 'synthetic alarm ' || mp.id, 'SYN', mp.id, mp.risk_unit_id,
       'GA' || mp.id, 1 + (mp.id / 200) % 4, 60, :as_of::timestamptz - interval '2 hours',
       'bench-synthetic', mp.geom
  FROM monitoring_points mp WHERE mp.id % 200 = 3;

INSERT INTO hidden_hazards (code, name, district, risk_unit_id, severity, status, reported_at,
                            due_date, source, geom)
SELECT 'GH' || ru.id, 'synthetic hazard ' || ru.id, 'SYN', ru.id,
       CASE WHEN ru.id % 1000 = 1 THEN 'major' WHEN ru.id % 10 = 1 THEN 'large'
            ELSE 'general' END,
       'assigned', :as_of::timestamptz - interval '20 days',
       CASE WHEN ru.id % 500 = 1 THEN (:as_of::timestamptz - interval '3 days')::date
            ELSE (:as_of::timestamptz + interval '30 days')::date END,
       'bench-synthetic', ru.geom
  FROM risk_units ru WHERE ru.id % 50 = 1;

INSERT INTO accidents (code, name, district, risk_unit_id, grade, occurred_at, source, geom)
SELECT 'GC' || ru.id, 'synthetic accident ' || ru.id, 'SYN', ru.id,
       CASE WHEN ru.id % 3000 = 17 THEN 'large' ELSE 'general' END,
       :as_of::timestamptz - interval '100 days', 'bench-synthetic', ru.geom
  FROM risk_units ru WHERE ru.id % 1000 = 17;

INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, source, geom)
VALUES ('GW-RAIN', 'synthetic rainstorm', 'rainstorm', 'orange',
        :as_of::timestamptz - interval '3 hours', :as_of::timestamptz + interval '9 hours',
        'bench-synthetic', ST_Multi(ST_MakeEnvelope(108.40, 33.80, 108.94, 34.25, 4326)));

INSERT INTO special_periods (code, name, starts_at, ends_at, source)
VALUES ('GS-CITY', 'synthetic special period', :as_of::timestamptz - interval '1 day',
        :as_of::timestamptz + interval '6 days', 'bench-synthetic');

INSERT INTO risk_unit_exposure (risk_unit_id, radius_m, population, vulnerable_site,
                                vulnerable_sites, stamp)
SELECT ru.id, :radius::numeric, (ru.id * 7919) % 60000, ru.id % 40 = 0,
       CASE WHEN ru.id % 40 = 0 THEN ARRAY['SV' || ru.id] ELSE '{}'::text[] END, :stamp::text
  FROM risk_units ru;

ANALYZE;
