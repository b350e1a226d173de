-- One edition: its header and its items flat in tree order (the client nests by parent).
SELECT jsonb_build_object(
           'version', f.version, 'title', f.title, 'pass_mark', f.pass_mark::text,
           'expected', f.expected, 'sources', f.sources, 'loaded_at', f.loaded_at,
           'items', (SELECT jsonb_agg(jsonb_build_object(
                        'id', id, 'parent', parent, 'level', level, 'name', name,
                        'max', max::text, 'found', found, 'departments', departments,
                        'criterion', criterion, 'scoring', scoring, 'rule', rule::jsonb,
                        'source', source::jsonb))
                     FROM (SELECT * FROM assessment_items WHERE framework = f.version ORDER BY level, id) i))::text
FROM assessment_frameworks f WHERE f.version = $1;
