-- One version of one feature.
SELECT version, at, op, data
  FROM feature_history
 WHERE layer = $1 AND code = $2 AND version = $3
