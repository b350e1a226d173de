-- The department responsible for a risk category, set or replaced.
INSERT INTO category_departments (category, department) VALUES ($1, $2)
ON CONFLICT (category) DO UPDATE SET department = excluded.department
 WHERE category_departments.department IS DISTINCT FROM excluded.department
