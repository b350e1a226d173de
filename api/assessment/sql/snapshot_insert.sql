-- Freeze a scorecard: the row is immutable (trigger assessment_snapshots_immutable).
INSERT INTO assessment_snapshots (framework, year, org, scorecard, digest, created_by)
VALUES ($1, $2, $3, $4::jsonb, $5, $6)
RETURNING jsonb_build_object('id', id, 'framework', framework, 'year', year, 'org', org,
                             'digest', digest, 'created_by', created_by,
                             'created_at', created_at, 'scorecard', scorecard)::text;
