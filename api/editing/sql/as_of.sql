-- The version of one feature that stood at a time (the last one written by then).
SELECT version, at, op, data
  FROM feature_history
 WHERE layer = $1 AND code = $2 AND at <= $3
 ORDER BY version DESC
 LIMIT 1
