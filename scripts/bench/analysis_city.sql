-- A deterministic synthetic city for the analysis benchmark (scripts/bench/analysis.py):
-- a 100 km x 100 km square centred on Xi'an (lon 108.40..109.487, lat 33.80..34.70,
-- 10,000 km², about Xi'an's area) with $1 risk units spread uniformly over it
-- (1,000,000 units: 100 per km², so a 1 km buffer holds about 314), 10,000 shelters,
-- 5,000 depots with stock, 500 rescue teams, 25,000 vulnerable sites and a 100 x 100
-- population grid of 1,300 residents a cell (13 M). Statements are separated by blank
-- lines; $1 (the number of risk units) is bound.

SELECT setseed(0.2024);

INSERT INTO districts (code, name, adcode, population, area_km2, source, geom)
VALUES ('SYN', 'Synthetic city', '619999', 13000000, 10000, 'bench-synthetic',
        ST_Multi(ST_MakeEnvelope(108.40, 33.80, 109.487, 34.70, 4326)));

INSERT INTO risk_units (code, name, district, category, registered_level, current_level,
                        current_r, source, geom)
SELECT 'SU' || lpad(i::text, 7, '0'), 'synthetic unit ' || i, 'SYN',
       (ARRAY['gas', 'hazardous_chemicals', 'construction', 'crowded_place', 'high_rise',
              'underground_space', 'bridge_tunnel', 'rail_transit', 'industrial',
              'waterlogging_point', 'drainage', 'power', 'heat_supply', 'water_supply',
              'geological_hazard'])[1 + (i * 7) % 15],
       lv, lv, 3 + (i % 23), 'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM (SELECT i, (ARRAY['low', 'low', 'low', 'general', 'general', 'large', 'major'])[
                    1 + (i * 13) % 7] AS lv
          FROM generate_series(1, $1::int) i) s;

INSERT INTO shelters (code, name, district, type, capacity, occupied, source, geom)
SELECT 'SS' || lpad(i::text, 5, '0'), 'synthetic shelter ' || i, 'SYN',
       (ARRAY['emergency', 'fixed', 'central'])[1 + i % 3],
       500 + (i * 37) % 9500, (i * 11) % 400, 'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM generate_series(1, 10000) i;

INSERT INTO reserve_depots (code, name, district, level, source, geom)
SELECT 'SD' || lpad(i::text, 5, '0'), 'synthetic depot ' || i, 'SYN',
       (ARRAY['city', 'district', 'street'])[1 + i % 3], 'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM generate_series(1, 5000) i;

INSERT INTO depot_stock (depot_id, item_type, quantity)
SELECT d.id, item, 10 + (d.id * 7 + length(item)) % 990
  FROM reserve_depots d,
       unnest(ARRAY['tent', 'quilt', 'water', 'food', 'pump', 'generator']) item;

INSERT INTO rescue_teams (code, name, district, kind, speciality, headcount, source, geom)
SELECT 'ST' || lpad(i::text, 4, '0'), 'synthetic team ' || i, 'SYN',
       CASE WHEN i % 4 = 0 THEN 'social' ELSE 'professional' END,
       (ARRAY['fire', 'hazmat', 'mine', 'flood', 'medical'])[1 + i % 5],
       20 + i % 180, 'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM generate_series(1, 500) i;

INSERT INTO vulnerable_sites (code, name, district, kind, occupants, source, geom)
SELECT 'SV' || lpad(i::text, 6, '0'), 'synthetic site ' || i, 'SYN',
       (ARRAY['school', 'kindergarten', 'hospital', 'nursing_home'])[1 + i % 4],
       50 + i % 2000, 'bench-synthetic',
       ST_SetSRID(ST_MakePoint(108.40 + random() * 1.087, 33.80 + random() * 0.90), 4326)
  FROM generate_series(1, 25000) i;

INSERT INTO population_cells (code, name, district, population, source, geom)
SELECT 'SC' || lpad(x::text, 2, '0') || lpad(y::text, 2, '0'), 'cell ' || x || ',' || y, 'SYN',
       1300, 'bench-synthetic',
       ST_Multi(ST_MakeEnvelope(108.40 + x * 0.01087, 33.80 + y * 0.009,
                                108.40 + (x + 1) * 0.01087, 33.80 + (y + 1) * 0.009, 4326))
  FROM generate_series(0, 99) x, generate_series(0, 99) y;

ANALYZE;
