-- 009: media: one row per attachment (photo, voice note, document…), recorded pending right after its message so the message never waits on a download; the bytes live in <data>/media/<file>, sealed with a per-file key that is itself sealed with the subject's key
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
) STRICT;
CREATE INDEX media_subject ON media(subject_id);
CREATE INDEX media_message ON media(message_id);
CREATE INDEX media_due ON media(next_attempt) WHERE state = 'pending';
