-- table key_check
CREATE TABLE key_check (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	mac        BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- table schema_migrations
CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT;

-- table subject_keys
CREATE TABLE subject_keys (
	subject_id  TEXT PRIMARY KEY,
	wrapped_dek BLOB NOT NULL,
	kek_version INTEGER NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

