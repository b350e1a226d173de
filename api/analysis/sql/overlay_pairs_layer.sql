    SELECT t.id, b."code" AS o
      FROM {{other}} b
      JOIN {{table}} t ON t."geom" && b."geom" AND {{predicate}}
     WHERE TRUE{{other_filters}}{{filters}}
