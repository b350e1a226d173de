-- No noding (the input is split at its junctions already: OSM ways at shared nodes,
-- the demo lattice by construction): the input as it is.
CREATE TEMP TABLE road_noded ON COMMIT DROP AS
SELECT code, name, road_class, speed_kmh, oneway, closed, osm_way, source_node, target_node, geom
  FROM road_input
