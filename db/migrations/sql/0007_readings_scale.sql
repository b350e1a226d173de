-- Readings at scale.
--
-- Every batch of readings moves each of its points' liveness row forward. With room
-- left on every page the update stays on the page and skips the primary-key index
-- (a HOT update). The table holds one small row per monitoring point, so the room
-- costs little; CLUSTER rewrites the rows already there with it.
--
-- prev_reading_at is the reading before the last one: the update that moves a row
-- forward returns it, so a batch learns each point's previous reading from the row
-- it has just locked (batches sharing points then apply one after the other without
-- a global lock). '-infinity' in last_reading_at marks a point that never reported.
ALTER TABLE monitoring_point_state ADD COLUMN prev_reading_at timestamptz;
ALTER TABLE monitoring_point_state SET (fillfactor = 40);
CLUSTER monitoring_point_state USING monitoring_point_state_pkey;
