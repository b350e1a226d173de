-- One area's row of the seed's table, inserted or replaced (columns as in area_statistics).
INSERT INTO area_statistics (
    area, row_no, printed_name, towns, towns_with_plans, town_plan_rate, depots, stock,
    towns_with_shelters, town_shelter_coverage, villages, village_plan_rate, village_drills,
    village_drill_people, villages_with_shelters, village_shelter_coverage,
    villages_with_broadcasts, broadcasts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
ON CONFLICT (area) DO UPDATE SET
    row_no = excluded.row_no, printed_name = excluded.printed_name, towns = excluded.towns,
    towns_with_plans = excluded.towns_with_plans, town_plan_rate = excluded.town_plan_rate,
    depots = excluded.depots, stock = excluded.stock,
    towns_with_shelters = excluded.towns_with_shelters,
    town_shelter_coverage = excluded.town_shelter_coverage, villages = excluded.villages,
    village_plan_rate = excluded.village_plan_rate, village_drills = excluded.village_drills,
    village_drill_people = excluded.village_drill_people,
    villages_with_shelters = excluded.villages_with_shelters,
    village_shelter_coverage = excluded.village_shelter_coverage,
    villages_with_broadcasts = excluded.villages_with_broadcasts,
    broadcasts = excluded.broadcasts
