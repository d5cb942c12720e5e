-- 006: subjects.name_set marks a name the person set themself (/name, rectification), so the platform display name (WhatsApp push name, Teams name) that comes with every later message no longer replaces it; subjects with a completed /name request count as having set theirs
ALTER TABLE subjects ADD COLUMN name_set INTEGER NOT NULL DEFAULT 0;
UPDATE subjects SET name_set = 1 WHERE id IN (SELECT requested_by FROM requests WHERE kind = 'rectify' AND status = 'done');
