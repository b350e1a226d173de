DROP TABLE category_departments;
DROP FUNCTION onemap_check_category_department();
DROP TABLE organisations;
