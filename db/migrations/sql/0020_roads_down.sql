DROP TABLE road_snaps;
DROP TABLE roads;
DROP TABLE road_vertices;
DROP TABLE road_speeds;
DELETE FROM onemap_meta WHERE key = 'roads';
