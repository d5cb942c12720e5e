-- 015: forgets holds what an erasure still owes the channels (whatsmeow's rows, Teams cards, Cloud API media about the person), written in the transaction that deletes the subject's rows, so an erasure cut off after its commit still reaches the channels at the next start; the identities are sealed under a key of the record's own in keys.db (subject_keys, id "f_…"), destroyed with the row once every forgetter succeeded
CREATE TABLE forgets (
	id         TEXT PRIMARY KEY, -- f_…, also its key's id in keys.db
	subject_id TEXT NOT NULL,    -- the erased subject; no foreign key: its row is gone
	ids        BLOB NOT NULL,    -- the identities handed to the forgetters, sealed under the record's key
	owed       TEXT NOT NULL,    -- JSON array of the names of the forgetters that have not succeeded yet
	due_at     INTEGER NOT NULL, -- next try while running (Unix ns); every record is tried at start-up
	created_at INTEGER NOT NULL
) STRICT;
