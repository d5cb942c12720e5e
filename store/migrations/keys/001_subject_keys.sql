-- 001: subject_keys holds each subject's data key wrapped by the master key, in its own file so that deleting a row crypto-shreds that subject in every backup of the main db
CREATE TABLE subject_keys (
	subject_id  TEXT PRIMARY KEY,
	wrapped_dek BLOB NOT NULL,
	kek_version INTEGER NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;
