-- The loaded editions with how many items at each level were found in the published texts.
SELECT coalesce(jsonb_agg(jsonb_build_object(
           'version', f.version, 'title', f.title, 'pass_mark', f.pass_mark::text,
           'expected', f.expected, 'sources', f.sources,
           'found', (SELECT jsonb_object_agg('level' || level, n) FROM (
                        SELECT level, count(*) FILTER (WHERE found) AS n
                        FROM assessment_items WHERE framework = f.version GROUP BY level) c),
           'loaded_at', f.loaded_at) ORDER BY f.version), '[]'::jsonb)::text
FROM assessment_frameworks f;
