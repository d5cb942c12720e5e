-- 016: schedules the data task reseal-rows, which re-seals every field still of format 1 (its additional data names subject, table and column, not the row, so it could be copied over another row of the same subject and column) as format 2, bound to its row; once it has run, Open refuses format 1
INSERT INTO data_tasks (name) VALUES ('reseal-rows');
