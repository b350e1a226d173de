-- One organisation, inserted or updated in place by code ($8: GeoJSON in WGS84, or NULL).
INSERT INTO organisations (code, name, name_en, kind, parent, synthetic, source, geom)
VALUES ($1, $2, $3, $4, $5, $6, $7,
        ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($8::text), 4326)))
ON CONFLICT (code) DO UPDATE
   SET name = excluded.name, name_en = excluded.name_en, kind = excluded.kind,
       parent = excluded.parent, synthetic = excluded.synthetic, source = excluded.source,
       geom = excluded.geom
 WHERE (organisations.name, organisations.name_en, organisations.kind, organisations.parent,
        organisations.synthetic, organisations.source)
       IS DISTINCT FROM (excluded.name, excluded.name_en, excluded.kind, excluded.parent,
                         excluded.synthetic, excluded.source)
    OR NOT ST_Equals(organisations.geom, excluded.geom)
    OR (organisations.geom IS NULL) <> (excluded.geom IS NULL)
