-- 011: closed_acks records, per chat, each closed period a customer's message was acknowledged in (the business's closed-hours reply), so the reply goes once per period also across restarts; the row names its subject and goes with the person's erasure; the reply itself is an outbox row of its own
CREATE TABLE closed_acks (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	subject_id TEXT NOT NULL REFERENCES subjects(id),
	platform   TEXT NOT NULL,
	chat_bidx  BLOB NOT NULL,                 -- blind index of the chat, as in messages
	period     INTEGER NOT NULL,              -- the closed period: when the business opens again (Unix ns), 0 if not known
	from_at    INTEGER NOT NULL,              -- stored_at of the message it answered: cards of messages from then to until show it
	until      INTEGER NOT NULL,              -- = period, or the largest integer when 0
	outbox_id  INTEGER NOT NULL REFERENCES outbox(id),
	created_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX closed_acks_period ON closed_acks(platform, chat_bidx, period);
CREATE INDEX closed_acks_subject ON closed_acks(subject_id);
CREATE INDEX closed_acks_outbox ON closed_acks(outbox_id);
