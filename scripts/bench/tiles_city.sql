-- A deterministic synthetic city over central Xi'an for the tile benchmark:
-- :units risk-unit points, :points monitoring points and :buildings building
-- footprints (stored as population cells: the store's polygon layer, each
-- footprint with its residents). Positions are Gaussian around the Bell Tower
-- (34.261 N, 108.942 E) with a wider suburban ring, as a real city thins out.
SELECT setseed(0.2023);

CREATE TEMP TABLE bench_pos AS
SELECT i,
       108.942 + s * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * u) AS lon,
       34.261 + 0.83 * s * sqrt(-2 * ln(1 - random())) * sin(2 * pi() * u) AS lat
  FROM generate_series(1, greatest(:units, :points, :buildings)) i,
       LATERAL (SELECT random() + i * 0 AS u,
                       CASE WHEN random() + i * 0 < 0.7 THEN 0.05 ELSE 0.16 END AS s) r;

INSERT INTO risk_units (code, name, category, registered_level, current_level, source, geom)
SELECT 'BENCH-RU-' || i, 'bench unit ' || i,
       (ARRAY['gas', 'hazardous_chemicals', 'construction', 'crowded_place', 'high_rise',
              'underground_space', 'bridge_tunnel', 'rail_transit', 'industrial',
              'waterlogging_point', 'drainage', 'power', 'heat_supply', 'water_supply',
              'geological_hazard'])[1 + (i * 7) % 15],
       lv, lv, 'bench-synthetic', ST_SetSRID(ST_MakePoint(lon, lat), 4326)
  FROM (SELECT i, lon, lat,
               (ARRAY['low', 'low', 'low', 'general', 'general', 'large', 'major'])[
                   1 + floor(random() * 7)::int] AS lv
          FROM bench_pos WHERE i <= :units) p;

INSERT INTO monitoring_points (code, name, kind, domain, source, geom)
SELECT 'BENCH-MP-' || i, 'bench sensor ' || i,
       (ARRAY['gas_concentration', 'pipe_pressure', 'water_level', 'bridge_strain',
              'manhole_gas', 'flow'])[1 + i % 6],
       (ARRAY['lifeline', 'public_safety', 'production_safety'])[1 + i % 3],
       'bench-synthetic',
       ST_SetSRID(ST_MakePoint(lon + 0.0004 * (random() - 0.5),
                               lat + 0.0004 * (random() - 0.5)), 4326)
  FROM bench_pos WHERE i <= :points;

INSERT INTO population_cells (code, name, population, source, geom)
SELECT 'BENCH-B-' || i, 'building ' || i, 5 + (i * 37) % 400, 'bench-synthetic',
       ST_Multi(ST_Rotate(
           ST_MakeEnvelope(lon - w, lat - h, lon + w, lat + h, 4326),
           random() * 0.6 - 0.3, ST_MakePoint(lon, lat)))
  FROM (SELECT i, lon, lat,
               0.00006 + random() * 0.00015 AS w,
               0.00005 + random() * 0.00012 AS h
          FROM bench_pos WHERE i <= :buildings) b;

ANALYZE risk_units;
ANALYZE monitoring_points;
ANALYZE population_cells;
