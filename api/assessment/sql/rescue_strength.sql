-- Rescue team strength: professional rescue team members per 10,000 residents (districts'
-- population); social teams counted apart.
WITH t AS (
    SELECT coalesce(sum(headcount) FILTER (WHERE kind = 'professional'), 0) AS professional,
           coalesce(sum(headcount) FILTER (WHERE kind = 'social'), 0) AS social,
           count(*) AS teams
    FROM rescue_teams
), p AS (SELECT coalesce(sum(population), 0) AS people FROM districts)
SELECT t.professional::numeric AS numerator, round(p.people::numeric / 10000, 4) AS denominator,
       CASE WHEN p.people > 0 THEN round(t.professional::numeric * 10000 / p.people, 4) END AS value,
       jsonb_build_object('teams', t.teams, 'social_members', t.social, 'residents', p.people)
           AS records
FROM t, p;
