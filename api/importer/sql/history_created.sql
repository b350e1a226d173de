-- The 'create' version of every row a bulk import wrote into the emptied {{table}}, in one
-- set-based statement: what the onemap_feature_history trigger (0018) writes for an
-- INSERT, key for key. Through the trigger a bulk COPY spent ~75 µs a row there: most of
-- it in to_jsonb(r) turning the geometry into JSON only for the key to be dropped and
-- rebuilt at precision 15. Here the row's JSON is built from its other columns
-- ({{columns}}, from the catalog) and the geometry encoded once; the layer's earlier
-- versions (of retired or truncated features) are one hash join.
INSERT INTO feature_history (layer, code, version, actor, actor_kind, via, op, data, diff)
SELECT {{layer}}, r.code, coalesce(m.v, 0) + 1,
       nullif(current_setting('onemap.actor', true), ''),
       nullif(current_setting('onemap.actor_kind', true), ''),
       coalesce(nullif(current_setting('onemap.via', true), ''), 'import'), 'create',
       to_jsonb(x) || jsonb_build_object('geom', ST_AsGeoJSON(r.geom, 15)::jsonb),
       '{}'::jsonb
  FROM {{table}} r
 CROSS JOIN LATERAL (SELECT {{columns}}) x
  LEFT JOIN (SELECT h.code, max(h.version) AS v FROM feature_history h
              WHERE h.layer = {{layer}}
              GROUP BY h.code) m ON m.code = r.code
