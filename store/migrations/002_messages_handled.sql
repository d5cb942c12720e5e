-- 002: messages.handled marks inbound messages answered without a draft (commands, confirmations, staff text), so a restart does not draft them
ALTER TABLE messages ADD COLUMN handled INTEGER NOT NULL DEFAULT 0;
DROP INDEX messages_undrafted;
CREATE INDEX messages_undrafted ON messages(id) WHERE dir = 'in' AND handled = 0;
