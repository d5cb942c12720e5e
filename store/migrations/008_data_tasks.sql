-- 008: data_tasks lists one-time data changes that Open runs in Go after the migrations (they need the subject keys); command-text cuts stored command messages to their name, as the router now stores them, so old rows hold no "/forget 07700 900987"
CREATE TABLE data_tasks (
	name TEXT PRIMARY KEY
) STRICT;
INSERT INTO data_tasks (name) VALUES ('command-text');
