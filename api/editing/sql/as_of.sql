-- The version of one feature that stood at a time (the last one written by then), its
-- whole row (a compact grading version is overlaid on the last full one: migration 0026).
SELECT h.version, h.at, h.op,
       CASE WHEN h.compact THEN onemap_feature_data(h.layer, h.code, h.version)
            ELSE h.data END AS data
  FROM feature_history h
 WHERE h.layer = $1 AND h.code = $2 AND h.at <= $3
 ORDER BY h.version DESC
 LIMIT 1
