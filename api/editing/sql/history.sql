-- Every version of one feature, newest first: who, when, through what, the diff.
SELECT version, at, actor, actor_kind, via, op, diff
  FROM feature_history
 WHERE layer = $1 AND code = $2
 ORDER BY version DESC
 LIMIT $3
