-- The last version of a code (its op tells whether it was retired), none when never seen.
SELECT version, at, op
  FROM feature_history
 WHERE layer = $1 AND code = $2
 ORDER BY version DESC
 LIMIT 1
