-- 005: messages.ai_restricted records that the subject had objected to AI (/stop) when the row was stored, so the message never reaches the model, also after /start; a trigger sets it at insert from the subject's flag (every insert path, in the inserting transaction); existing rows of subjects objecting today are marked, the cautious guess for rows stored before this column
ALTER TABLE messages ADD COLUMN ai_restricted INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET ai_restricted = 1 WHERE subject_id IN (SELECT id FROM subjects WHERE ai_restricted = 1);
CREATE TRIGGER messages_ai_restricted AFTER INSERT ON messages
	WHEN (SELECT ai_restricted FROM subjects WHERE id = NEW.subject_id) = 1
BEGIN
	UPDATE messages SET ai_restricted = 1 WHERE id = NEW.id;
END;
