-- trigger messages_ai_restricted
CREATE TRIGGER messages_ai_restricted AFTER INSERT ON messages
	WHEN (SELECT ai_restricted FROM subjects WHERE id = NEW.subject_id) = 1
BEGIN
	UPDATE messages SET ai_restricted = 1 WHERE id = NEW.id;
END;

-- table audit
CREATE TABLE audit (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	actor   TEXT NOT NULL DEFAULT '',
	action  TEXT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	detail  TEXT NOT NULL DEFAULT ''
) STRICT;

-- table card_removals
CREATE TABLE card_removals (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	ref        BLOB NOT NULL,                -- sealed JSON of bot.CardRef
	created_at INTEGER NOT NULL
) STRICT;

-- table cards
CREATE TABLE "cards" (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	draft_id     INTEGER NOT NULL UNIQUE REFERENCES drafts(id),
	subject_id   TEXT NOT NULL REFERENCES subjects(id),
	conversation TEXT NOT NULL,
	activity_id  TEXT NOT NULL,
	posted_at    INTEGER NOT NULL
, state TEXT NOT NULL DEFAULT 'posted', rendered INTEGER NOT NULL DEFAULT 1, window_ends INTEGER NOT NULL DEFAULT 0) STRICT;

-- table closed_acks
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

-- table data_tasks
CREATE TABLE data_tasks (
	name TEXT PRIMARY KEY
) STRICT;

-- table decisions
CREATE TABLE "decisions" (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	draft_id   INTEGER NOT NULL REFERENCES drafts(id),
	subject_id TEXT NOT NULL REFERENCES subjects(id),
	by_subject TEXT REFERENCES subjects(id),
	by_ident   BLOB,                         -- sealed under by_subject
	by_name    BLOB,                         -- sealed under by_subject
	kind       TEXT NOT NULL,
	text       BLOB,                         -- sealed under subject_id (the edited reply)
	action_id  TEXT,
	at         INTEGER NOT NULL
) STRICT;

-- table drafts
CREATE TABLE "drafts" (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	subject_id TEXT NOT NULL REFERENCES subjects(id),
	message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL, -- NULL once the sender revoked the message
	platform   TEXT NOT NULL,
	chat_bidx  BLOB NOT NULL,
	chat       BLOB NOT NULL,                -- sealed
	text       BLOB,                         -- sealed
	result     BLOB,                         -- sealed JSON of bot.DraftResult, NULL for none
	status     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
, token TEXT NOT NULL DEFAULT '', attachment_id INTEGER REFERENCES media(id) ON DELETE SET NULL) STRICT;

-- table erasures
CREATE TABLE erasures (
	subject_id TEXT PRIMARY KEY,
	step       TEXT NOT NULL,
	started_at INTEGER NOT NULL
) STRICT;

-- table forgets
CREATE TABLE forgets (
	id         TEXT PRIMARY KEY, -- f_…, also its key's id in keys.db
	subject_id TEXT NOT NULL,    -- the erased subject; no foreign key: its row is gone
	ids        BLOB NOT NULL,    -- the identities handed to the forgetters, sealed under the record's key
	owed       TEXT NOT NULL,    -- JSON array of the names of the forgetters that have not succeeded yet
	due_at     INTEGER NOT NULL, -- next try while running (Unix ns); every record is tried at start-up
	created_at INTEGER NOT NULL
) STRICT;

-- table identities
CREATE TABLE identities (
	id         INTEGER PRIMARY KEY,
	subject_id TEXT NOT NULL REFERENCES subjects(id),
	kind       TEXT NOT NULL,
	bidx       BLOB NOT NULL,
	bidx_ver   INTEGER NOT NULL,
	value      BLOB NOT NULL,                -- sealed
	created_at INTEGER NOT NULL
) STRICT;

-- table key_check
CREATE TABLE key_check (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	mac        BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- table media
CREATE TABLE media (
	id           INTEGER PRIMARY KEY AUTOINCREMENT, -- leaves the process (export file names, view links): never reused
	subject_id   TEXT NOT NULL REFERENCES subjects(id),
	message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE, -- the store deletes the files first; the sweep catches any other path
	platform     TEXT NOT NULL,
	kind         TEXT NOT NULL,
	mime         TEXT NOT NULL DEFAULT '',  -- declared until fetched, then the checked type
	size         INTEGER NOT NULL DEFAULT 0,
	sha256       BLOB,                      -- sealed: a fingerprint of the content
	name         BLOB,                      -- sealed file name, NULL for none
	ref          BLOB,                      -- sealed channel handle (Cloud API media id, whatsmeow media keys)
	state        TEXT NOT NULL,             -- pending, fetched, failed
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	note         TEXT NOT NULL DEFAULT '',  -- plain words for staff; never text or names
	file         TEXT UNIQUE,               -- random name of the sealed file, NULL until fetched
	file_key     BLOB,                      -- sealed per-file data key
	thumb        BLOB,                      -- sealed JPEG preview
	transcript   BLOB,                      -- sealed
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	fetched_at   INTEGER NOT NULL DEFAULT 0
, dir TEXT NOT NULL DEFAULT 'in') STRICT;

-- table messages
CREATE TABLE "messages" (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	subject_id  TEXT NOT NULL REFERENCES subjects(id),
	platform    TEXT NOT NULL,
	chat_bidx   BLOB NOT NULL,
	chat        BLOB NOT NULL,               -- sealed
	platform_id TEXT,                        -- NULL when the platform gave none
	dir         TEXT NOT NULL,
	kind        TEXT NOT NULL,
	text        BLOB,                        -- sealed, NULL for no text
	sent_at     INTEGER NOT NULL,
	stored_at   INTEGER NOT NULL,
	status      TEXT NOT NULL
, handled INTEGER NOT NULL DEFAULT 0, ai_restricted INTEGER NOT NULL DEFAULT 0) STRICT;

-- table outbox
CREATE TABLE "outbox" (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	draft_id     INTEGER REFERENCES drafts(id),
	subject_id   TEXT NOT NULL REFERENCES subjects(id),
	platform     TEXT NOT NULL,
	chat_bidx    BLOB NOT NULL,
	chat         BLOB NOT NULL,              -- sealed
	text         BLOB NOT NULL,              -- sealed
	status       TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	platform_id  TEXT,
	last_error   TEXT NOT NULL DEFAULT '',   -- operator-facing, never message text
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
, key TEXT NOT NULL DEFAULT '', sending_at INTEGER NOT NULL DEFAULT 0, waiting TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT 'reply', template TEXT NOT NULL DEFAULT '', template_lang TEXT NOT NULL DEFAULT '', template_params TEXT NOT NULL DEFAULT '') STRICT;

-- table requests
CREATE TABLE requests (
	id           INTEGER PRIMARY KEY,
	kind         TEXT NOT NULL,
	scope        TEXT NOT NULL,
	received_at  INTEGER NOT NULL,
	due_at       INTEGER NOT NULL,
	done_at      INTEGER NOT NULL DEFAULT 0,
	requested_by TEXT NOT NULL DEFAULT '',   -- a subject id; kept after that subject is erased (points at nobody)
	counts       TEXT NOT NULL DEFAULT '{}', -- JSON table → rows
	status       TEXT NOT NULL
) STRICT;

-- table schema_migrations
CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT;

-- table sqlite_sequence
CREATE TABLE sqlite_sequence(name,seq);

-- table subjects
CREATE TABLE subjects (
	id            TEXT PRIMARY KEY,          -- random "s_…", no personal data
	name          BLOB,                      -- sealed display name, NULL if unknown
	role          TEXT NOT NULL,
	tenant        TEXT NOT NULL DEFAULT '',  -- Entra tenant id (an organisation, not a person), lower case
	ai_restricted INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
, name_set INTEGER NOT NULL DEFAULT 0) STRICT;

-- index audit_actor
CREATE INDEX audit_actor ON audit(actor);

-- index audit_subject
CREATE INDEX audit_subject ON audit(subject);

-- index cards_subject
CREATE INDEX cards_subject ON cards(subject_id);

-- index cards_unfinished
CREATE INDEX cards_unfinished ON cards(draft_id) WHERE state = 'posting' OR rendered = 0;

-- index cards_window
CREATE INDEX cards_window ON cards(window_ends) WHERE window_ends > 0;

-- index closed_acks_outbox
CREATE INDEX closed_acks_outbox ON closed_acks(outbox_id);

-- index closed_acks_period
CREATE UNIQUE INDEX closed_acks_period ON closed_acks(platform, chat_bidx, period);

-- index closed_acks_subject
CREATE INDEX closed_acks_subject ON closed_acks(subject_id);

-- index decisions_action
CREATE UNIQUE INDEX decisions_action ON decisions(action_id) WHERE action_id IS NOT NULL;

-- index decisions_by
CREATE INDEX decisions_by ON decisions(by_subject) WHERE by_subject IS NOT NULL;

-- index decisions_draft
CREATE INDEX decisions_draft ON decisions(draft_id);

-- index decisions_settling
CREATE UNIQUE INDEX decisions_settling ON decisions(draft_id) WHERE kind IN ('approve', 'edit', 'reject');

-- index decisions_subject
CREATE INDEX decisions_subject ON decisions(subject_id);

-- index drafts_drafting
CREATE INDEX drafts_drafting ON drafts(id) WHERE status = 'drafting';

-- index drafts_message
CREATE INDEX drafts_message ON drafts(message_id);

-- index drafts_open
CREATE INDEX drafts_open ON drafts(platform, chat_bidx, id) WHERE status IN ('drafting', 'pending', 'failed');

-- index drafts_subject
CREATE INDEX drafts_subject ON drafts(subject_id);

-- index identities_bidx
CREATE UNIQUE INDEX identities_bidx ON identities(bidx_ver, bidx);

-- index identities_subject
CREATE INDEX identities_subject ON identities(subject_id);

-- index media_due
CREATE INDEX media_due ON media(next_attempt) WHERE state = 'pending';

-- index media_message
CREATE INDEX media_message ON media(message_id);

-- index media_subject
CREATE INDEX media_subject ON media(subject_id);

-- index messages_dedup
CREATE UNIQUE INDEX messages_dedup ON messages(platform, chat_bidx, platform_id);

-- index messages_sent_id
CREATE INDEX messages_sent_id ON messages(platform, platform_id) WHERE dir = 'out';

-- index messages_subject
CREATE INDEX messages_subject ON messages(subject_id, chat_bidx, id);

-- index messages_undrafted
CREATE INDEX messages_undrafted ON messages(id) WHERE dir = 'in' AND handled = 0;

-- index outbox_draft
CREATE UNIQUE INDEX outbox_draft ON outbox(draft_id, kind) WHERE draft_id IS NOT NULL;

-- index outbox_due
CREATE INDEX outbox_due ON outbox(next_attempt) WHERE status = 'pending';

-- index outbox_in_doubt
CREATE INDEX outbox_in_doubt ON outbox(id) WHERE status IN ('sending', 'unconfirmed');

-- index outbox_key
CREATE UNIQUE INDEX outbox_key ON outbox(key) WHERE key <> '';

-- index outbox_platform_id
CREATE INDEX outbox_platform_id ON outbox(platform, chat_bidx, platform_id) WHERE platform_id IS NOT NULL;

-- index outbox_subject
CREATE INDEX outbox_subject ON outbox(subject_id);

-- index requests_by
CREATE INDEX requests_by ON requests(requested_by);

-- index requests_open
CREATE INDEX requests_open ON requests(due_at) WHERE status = 'open';

-- index subjects_tenant
CREATE INDEX subjects_tenant ON subjects(tenant) WHERE tenant <> '';

