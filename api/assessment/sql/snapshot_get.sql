-- One frozen scorecard.
SELECT jsonb_build_object('id', id, 'framework', framework, 'year', year, 'org', org,
                          'digest', digest, 'created_by', created_by,
                          'created_at', created_at, 'scorecard', scorecard)::text
FROM assessment_snapshots WHERE year = $1 AND id = $2;
