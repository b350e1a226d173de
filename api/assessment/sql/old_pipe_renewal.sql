-- Old-pipe renewal (1.2.4 part 2): water, heat and gas mains by length; a main laid within the
-- last 30 years before the assessment year counts as renewed, an older one as old (评分标准 note:
-- 运行/使用年限30年以上). Mains of unknown age are left out and counted apart.
SELECT round(coalesce(sum(ST_Length(geom::geography)) FILTER (WHERE laid_year > $1 - 30), 0)::numeric / 1000, 3) AS renewed_km,
       round(coalesce(sum(ST_Length(geom::geography)) FILTER (WHERE laid_year IS NOT NULL), 0)::numeric / 1000, 3) AS total_km,
       count(*) FILTER (WHERE laid_year <= $1 - 30) AS old_count,
       count(*) FILTER (WHERE laid_year IS NULL) AS unknown_age
FROM lifelines
WHERE kind IN ('water', 'heat', 'gas') AND ($2::text IS NULL OR district = $2);
