DROP FUNCTION IF EXISTS onemap_population_in(geometry, double precision, geometry);
DROP FUNCTION IF EXISTS onemap_expand_m(geometry, double precision);
