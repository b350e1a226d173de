-- onemap 0031: grade_history explanations compressed with LZ4.
--
-- An explanation is ~2.4 kB of JSON, over the TOAST threshold, so every one is
-- compressed as it is written. With pglz (the default) compressing took ~80 µs a row,
-- a third of the first grading's explanation phase (100,000 units: ~8 s); LZ4 takes a
-- fraction of that and decompresses faster on read, for ~20 % more disk
-- (docs/bench.md, "The write path: first grading and PATCH"). Rows already written keep
-- pglz (both are read transparently); new rows use LZ4.
ALTER TABLE grade_history ALTER COLUMN explanation SET COMPRESSION lz4;
