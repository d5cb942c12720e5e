-- 010: exactly once through crashes: ids that leave the process are never reused (AUTOINCREMENT), an outbox row has an idempotency key and a 'sending' state recorded before the send, a draft has a card-action token, a card is recorded as an intent before it is posted, erased subjects' cards wait in card_removals until the platform deleted them, and an erasure journal lets an interrupted erasure finish after a restart
-- autoincrement: messages drafts decisions outbox cards

-- outbox.key names one reply across every attempt (bot.Outbound.Key); random, no personal data
ALTER TABLE outbox ADD COLUMN key TEXT NOT NULL DEFAULT '';
UPDATE outbox SET key = 'ob_' || lower(hex(randomblob(16))) WHERE key = '';
CREATE UNIQUE INDEX outbox_key ON outbox(key) WHERE key <> '';
-- sending_at: when the attempt in doubt began (status 'sending'); 0 otherwise
ALTER TABLE outbox ADD COLUMN sending_at INTEGER NOT NULL DEFAULT 0;
-- waiting: the platform a pending reply waits for (its channel is off or reconnecting); '' when not waiting
ALTER TABLE outbox ADD COLUMN waiting TEXT NOT NULL DEFAULT '';
-- reason: why the reply failed or is unconfirmed, in plain words for the card (never message text)
ALTER TABLE outbox ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_in_doubt ON outbox(id) WHERE status IN ('sending', 'unconfirmed');

-- drafts.token binds a card's actions to this draft; '' for drafts made before it existed
ALTER TABLE drafts ADD COLUMN token TEXT NOT NULL DEFAULT '';
CREATE INDEX drafts_drafting ON drafts(id) WHERE status = 'drafting';

-- cards.state is 'posting' from before the post until the platform's activity id is recorded ('posted');
-- rendered is 0 while the posted card still shows the placeholder
ALTER TABLE cards ADD COLUMN state TEXT NOT NULL DEFAULT 'posted';
ALTER TABLE cards ADD COLUMN rendered INTEGER NOT NULL DEFAULT 1;
CREATE INDEX cards_unfinished ON cards(draft_id) WHERE state = 'posting' OR rendered = 0;

-- card_removals: posted cards of erased subjects, until the platform deleted them; no subject; the card's place sealed under the store's own key
CREATE TABLE card_removals (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	ref        BLOB NOT NULL,                -- sealed JSON of bot.CardRef
	created_at INTEGER NOT NULL
) STRICT;

-- erasures: the journal of erasures under way, written in the transaction of the first delete; the subject id and the step only
CREATE TABLE erasures (
	subject_id TEXT PRIMARY KEY,
	step       TEXT NOT NULL,
	started_at INTEGER NOT NULL
) STRICT;
