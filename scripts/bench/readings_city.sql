-- The city the readings benchmark writes into (scripts/bench/grading.py): :units risk
-- units (Xi'an: 3,176) and :points methane monitoring points (Xi'an: 22,067) spread over
-- them, thresholds 5/10/20/50 (levels 4..1), one reading a minute expected (offline
-- after 120 s). Statements are separated by blank lines; :name placeholders are bound.

SELECT setseed(0.2027);

INSERT INTO districts (code, name, adcode, population, area_km2, source, geom)
VALUES ('SYN', 'Synthetic city', '619999', 13000000, 10000, 'bench-synthetic',
        ST_Multi(ST_MakeEnvelope(108.40, 33.80, 109.487, 34.70, 4326)));

INSERT INTO risk_units (code, name, district, category, registered_level, source, geom)
SELECT 'RU' || lpad(i::text, 5, '0'), 'synthetic unit ' || i, 'SYN',
       (ARRAY['gas', 'drainage', 'bridge_tunnel', 'water_supply'])[1 + i % 4],
       (ARRAY['low', 'low', 'general', 'large'])[1 + (i * 7) % 4], 'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM generate_series(1, :units::int) i;

INSERT INTO monitoring_points (code, name, district, risk_unit_id, kind, domain, direction,
                               threshold_l4, threshold_l3, threshold_l2, threshold_l1,
                               expected_interval_s, source, geom)
SELECT 'MP' || lpad(i::text, 6, '0'), 'synthetic point ' || i, 'SYN',
       (SELECT min(id) FROM risk_units) + i % :units::int, 'gas_concentration', 'lifeline',
       'above', 5, 10, 20, 50, 120, 'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM generate_series(1, :points::int) i;

ANALYZE;
