-- 002: key_check holds an HMAC of a fixed label under a key derived from the master key, so Open refuses a master key the data was not written with instead of answering "nobody known"
CREATE TABLE key_check (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	mac        BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
