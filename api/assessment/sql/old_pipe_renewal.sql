-- Old-pipe renewal (1.2.4 part 2): water, heat and gas mains by length; a main laid within the
-- last 30 years before the assessment year counts as renewed, an older one as old (评分标准 note:
-- 运行/使用年限30年以上). Mains of unknown age are left out and counted apart.
-- $2: an area's organisation code (district, zone or town), NULL for the city: a main is on
-- the area's ground when the point PostGIS puts on it (ST_PointOnSurface) lies inside the
-- area's boundary, so each main counts whole in exactly one town, zone or district.
WITH area AS (
    SELECT geom FROM organisations WHERE code = $2
), m AS (
    SELECT coalesce(sum(ST_Length(geom::geography)) FILTER (WHERE laid_year > $1 - 30), 0) AS renewed,
           coalesce(sum(ST_Length(geom::geography)) FILTER (WHERE laid_year IS NOT NULL), 0) AS total,
           count(*) FILTER (WHERE laid_year <= $1 - 30) AS old_count,
           count(*) FILTER (WHERE laid_year IS NULL) AS unknown_age
    FROM lifelines
    WHERE kind IN ('water', 'heat', 'gas')
      AND ($2::text IS NULL OR EXISTS (
          SELECT 1 FROM area a
           WHERE a.geom && lifelines.geom AND ST_Covers(a.geom, ST_PointOnSurface(lifelines.geom))))
)
SELECT round(renewed::numeric / 1000, 3) AS renewed_km, round(total::numeric / 1000, 3) AS total_km,
       CASE WHEN total > 0 THEN round((renewed / total)::numeric, 4) END AS ratio,
       old_count, unknown_age
FROM m;
