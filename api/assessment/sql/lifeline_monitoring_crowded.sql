-- Monitoring of the lifelines in crowded areas: gas, water and heat mains within 500 m of a
-- crowded-place risk unit, and of those the ones with a pressure or gas monitoring point of
-- their kind within 200 m (lengths in km). The degree boxes (0.007 and 0.003 degrees, wider
-- than 500 m and 200 m at Xi'an's latitude) let the spatial indexes find the candidates; the
-- geography tests decide.
WITH near AS (
    SELECT l.id, l.kind, l.geom, ST_Length(l.geom::geography) AS m
    FROM lifelines l
    WHERE l.kind IN ('gas', 'water', 'heat')
      AND EXISTS (SELECT 1 FROM risk_units u WHERE u.category = 'crowded_place'
                  AND ST_DWithin(u.geom, l.geom, 0.007)
                  AND ST_DWithin(u.geom::geography, l.geom::geography, 500))
), mon AS (
    SELECT n.*, EXISTS (
        SELECT 1 FROM monitoring_points p
        WHERE p.kind = ANY (CASE n.kind WHEN 'gas' THEN ARRAY['gas_pipe_pressure', 'gas_concentration']
                                        WHEN 'water' THEN ARRAY['water_pipe_pressure']
                                        ELSE ARRAY['heat_pipe_pressure'] END)
          AND ST_DWithin(p.geom, n.geom, 0.003)
          AND ST_DWithin(p.geom::geography, n.geom::geography, 200)) AS monitored
    FROM near n
)
SELECT round(coalesce(sum(m) FILTER (WHERE monitored), 0)::numeric / 1000, 3) AS numerator,
       round(coalesce(sum(m), 0)::numeric / 1000, 3) AS denominator,
       CASE WHEN sum(m) > 0 THEN round((sum(m) FILTER (WHERE monitored) / sum(m))::numeric, 4)
       END AS value,
       jsonb_build_object('mains', count(*), 'unmonitored', count(*) FILTER (WHERE NOT monitored))
           AS records
FROM mon;
