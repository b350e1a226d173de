DROP VIEW monitoring_point_state;
CREATE TABLE monitoring_point_state (
    point_id         bigint PRIMARY KEY REFERENCES monitoring_points (id) ON DELETE CASCADE,
    last_reading_at  timestamptz NOT NULL,
    last_value       double precision NOT NULL,
    prev_reading_at  timestamptz
) WITH (fillfactor = 40);
INSERT INTO monitoring_point_state (point_id, last_reading_at, last_value)
SELECT l.block * 128 + u.k - 1,
       'epoch'::timestamptz + u.us * interval '1 microsecond',
       coalesce((SELECT r.value FROM readings r
                  WHERE r.point_id = l.block * 128 + u.k - 1
                    AND r.ts = 'epoch'::timestamptz + u.us * interval '1 microsecond'), 'NaN')
  FROM point_liveness l
 CROSS JOIN LATERAL unnest(l.last_us) WITH ORDINALITY AS u(us, k)
 WHERE u.us IS NOT NULL
   AND EXISTS (SELECT 1 FROM monitoring_points mp WHERE mp.id = l.block * 128 + u.k - 1);
DROP FUNCTION onemap_note_readings(bigint[], timestamptz);
DROP FUNCTION onemap_last_reading(bigint[], bigint);
DROP FUNCTION onemap_liveness_block(bigint);
DROP TABLE point_liveness;
