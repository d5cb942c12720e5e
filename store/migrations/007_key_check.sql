-- 007: key_check holds an HMAC of a fixed label under a key derived from the master key, so Open refuses a master key the data (its blind indexes) was not written with
CREATE TABLE key_check (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	mac        BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
