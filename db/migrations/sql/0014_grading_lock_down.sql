DROP TABLE grading_lock;
