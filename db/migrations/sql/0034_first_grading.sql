-- onemap 0034: the writes of a first grading (every unit gets a level at once).
--
-- * risk_units is updated in place. A regrade writes current_level, current_r and
--   level_changed_at (and the touch trigger updated_at); an UPDATE that changes no
--   indexed column and finds room on the row's page is a HOT update: no new entry in
--   any of the table's indexes. Two things stood in the way: the btree on
--   current_level (four values; no statement in api/ looks units up by level alone,
--   the tiles' level filter runs inside the bounding-box lookup) and pages filled to
--   the brim at import. Without them, the first grading of 1,000,000 units updates ~90 % of the
--   rows HOT and its UPDATE takes 21.6 s instead of 75 s (docs/bench.md, "The write
--   path: first grading and PATCH"). The fill factor applies to pages written from now
--   on (an import, a city built after this migration); `VACUUM FULL risk_units`
--   repacks an existing table to it.
-- * grade_history explanations are compressed with LZ4. An explanation is ~2.4 kB of
--   JSON, over the TOAST threshold, so each is compressed as it is written; pglz (the
--   default) took ~80 µs a row, LZ4 a fraction of that and it decompresses faster on
--   read, for ~20 % more disk. Rows already written keep pglz (both read transparently).
DROP INDEX IF EXISTS risk_units_level_idx;
ALTER TABLE risk_units SET (fillfactor = 50);
ALTER TABLE grade_history ALTER COLUMN explanation SET COMPRESSION lz4;
