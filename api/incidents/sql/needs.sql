-- The minimum needs (newest version) for $1 people over $2 days, against the stock of the
-- depots $3 (codes). per_person_week is InaSAFE's weekly figure; a need is scaled by days / 7.
WITH v AS (SELECT max(version) AS version FROM minimum_needs),
stock AS (
    SELECT s.item_type, sum(s.quantity)::bigint AS quantity
      FROM depot_stock s JOIN reserve_depots r ON r.id = s.depot_id
     WHERE r.code = ANY ($3::text[])
     GROUP BY s.item_type
)
SELECT n.version, n.need, n.name_zh, n.unit, n.per_person_week, n.item_type, n.per_item,
       n.per_person_week * $1::float8 * $2::int / 7.0 AS required,
       CASE WHEN n.per_item IS NULL THEN NULL
            ELSE ceil(n.per_person_week * $1::float8 * $2::int / 7.0 / n.per_item) END
           AS items_required,
       coalesce(st.quantity, 0) AS stock_in_reach
  FROM minimum_needs n JOIN v ON v.version = n.version
  LEFT JOIN stock st ON st.item_type = n.item_type
 ORDER BY n.need
