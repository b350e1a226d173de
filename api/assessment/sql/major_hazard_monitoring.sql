-- Monitoring of major hazard sources (2.4.11): sources whose risk unit has at least one
-- monitoring point over all major hazard sources; the unmonitored ones named (first 200).
WITH s AS (
    SELECT h.code, EXISTS (SELECT 1 FROM monitoring_points m
                           WHERE m.risk_unit_id = h.risk_unit_id) AS monitored
    FROM hazard_sources h
)
SELECT count(*) FILTER (WHERE monitored)::numeric AS numerator, count(*)::numeric AS denominator,
       CASE WHEN count(*) > 0 THEN round(count(*) FILTER (WHERE monitored)::numeric / count(*), 4)
       END AS value,
       jsonb_build_object('unmonitored', count(*) FILTER (WHERE NOT monitored),
                          'codes', coalesce((array_agg(code ORDER BY code)
                                             FILTER (WHERE NOT monitored))[1:200], '{}')) AS records
FROM s;
