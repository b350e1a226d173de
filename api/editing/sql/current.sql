-- One feature as it stands: its attributes (with the code of its risk unit when it
-- links one), its geometry as GeoJSON and its history version.
SELECT t.id,
       to_jsonb(t) - 'geom' AS props,
       ST_AsGeoJSON(t.geom, 15)::jsonb AS geometry,
       {{unit_code}} AS risk_unit_code,
       {{unit_id}} AS risk_unit_id,
       (SELECT coalesce(max(h.version), 0) FROM feature_history h
         WHERE h.layer = {{layer}} AND h.code = t.code) AS version
  FROM {{table}} t
 WHERE t.code = $1
