-- The regrade lock: every regrade (full or of some units) takes
-- `LOCK TABLE grading_lock IN EXCLUSIVE MODE` first thing in its REPEATABLE READ
-- transaction. LOCK TABLE (like SET) takes no snapshot, so the transaction's
-- snapshot is taken by its first query, after the wait: a regrade that waited for
-- another one sees what that one wrote. The lock ends with the transaction; the
-- table holds no rows. (It replaces a session advisory lock, which cost a
-- transaction of its own before the snapshot and an unlock after: four round trips
-- of every regrade.)
CREATE TABLE grading_lock ();
COMMENT ON TABLE grading_lock IS 'locked (EXCLUSIVE) by every regrade; holds no rows';
