-- One feature as it stands: its attributes (with the code of its risk unit when it
-- links one), its geometry as GeoJSON, its history version, and whether the
-- transaction's organisation may write it (onemap_may_write, as the policies say).
SELECT t.id,
       to_jsonb(t) - 'geom' AS props,
       ST_AsGeoJSON(t.geom, 9)::jsonb AS geometry,
       {{unit_code}} AS risk_unit_code,
       {{unit_id}} AS risk_unit_id,
       (SELECT coalesce(max(h.version), 0) FROM feature_history h
         WHERE h.layer = {{layer}} AND h.code = t.code) AS version,
       onemap_may_write({{category}}, t.geom) AS writable
  FROM {{table}} t
 WHERE t.code = $1
