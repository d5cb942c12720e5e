package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	key := testKey
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"OK", Options{Dir: "x", MasterKey: key}, ""},
		{"NoDir", Options{MasterKey: key}, "Dir is required"},
		{"ShortKey", Options{Dir: "x", MasterKey: key[:16]}, "32 bytes"},
		{"NoKey", Options{Dir: "x"}, "32 bytes"},
		{"NegativeCache", Options{Dir: "x", MasterKey: key, KeyCacheSize: -1}, "KeyCacheSize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := New(tc.opts)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, filepath.Join("x", "switchboard.db"), db.MainPath())
				assert.Equal(t, filepath.Join("x", "keys.db"), db.KeysPath())
				_, statErr := os.Stat("x")
				assert.True(t, os.IsNotExist(statErr), "New must do no I/O")
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
			assert.NotContains(t, err.Error(), string(key))
		})
	}
}

func TestOpenCloseReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := New(Options{Dir: dir, MasterKey: testKey})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, db.Open(ctx))
	assert.Error(t, db.Open(ctx), "second Open")
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	for _, p := range []string{db.MainPath(), db.KeysPath(), db.MainPath() + "-wal", db.MainPath() + "-shm", db.KeysPath() + "-wal"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
	}
	require.NoError(t, db.Close())
	require.NoError(t, db.Close(), "second Close")
	_, err = db.FindSubject(ctx, "s_x")
	assert.ErrorContains(t, err, "not open")

	// Reopening applies nothing twice.
	require.NoError(t, db.Open(ctx))
	defer db.Close()
	var n int
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n))
	ms, err := loadMigrations(mainMigrations, "migrations")
	require.NoError(t, err)
	assert.Equal(t, len(ms), n)
}

// TestPragmas checks every connection of both pools runs with the DSN and
// ConnectHook settings.
func TestPragmas(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	want := map[string]string{
		"foreign_keys":       "1",
		"journal_mode":       "wal",
		"busy_timeout":       "5000",
		"secure_delete":      "1",
		"synchronous":        "2", // FULL
		"temp_store":         "2",
		"journal_size_limit": "16777216",
		"page_size":          "2048",
		"wal_autocheckpoint": "4000",
	}
	for name, h := range map[string]*sql.DB{"write": db.write, "read": db.read, "keys": db.kdb} {
		// Hold several read connections at once so more than one is checked.
		conns := []*sql.Conn{}
		for i := 0; i < 2 && name == "read"; i++ {
			c, err := h.Conn(ctx)
			require.NoError(t, err)
			conns = append(conns, c)
		}
		if len(conns) == 0 {
			c, err := h.Conn(ctx)
			require.NoError(t, err)
			conns = append(conns, c)
		}
		for _, c := range conns {
			for p, v := range want {
				var got string
				require.NoError(t, c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got))
				assert.Equal(t, v, got, "%s: %s", name, p)
			}
			require.NoError(t, c.Close())
		}
	}
}

// dumpSchema renders sqlite_master in a stable order.
func dumpSchema(t *testing.T, h *sql.DB) string {
	t.Helper()
	rows, err := h.Query("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC, name")
	require.NoError(t, err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, sqlText string
		require.NoError(t, rows.Scan(&typ, &name, &sqlText))
		b.WriteString("-- " + typ + " " + name + "\n" + sqlText + ";\n\n")
	}
	require.NoError(t, rows.Err())
	return b.String()
}

func TestSchemaGolden(t *testing.T) {
	db, _ := openTest(t)
	for _, tc := range []struct {
		golden string
		h      *sql.DB
	}{
		{"schema.golden.sql", db.read},
		{"keys_schema.golden.sql", db.kdb},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got := dumpSchema(t, tc.h)
			path := filepath.Join("testdata", tc.golden)
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create it")
			assert.Equal(t, string(want), got)
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	ok := "-- 001: first\nCREATE TABLE a (x);"
	tests := []struct {
		name    string
		files   fstest.MapFS
		wantErr string
	}{
		{"OK", fstest.MapFS{"m/001_a.sql": {Data: []byte(ok)}, "m/002_b.sql": {Data: []byte("-- 002: b\nSELECT 1;")}}, ""},
		{"Gap", fstest.MapFS{"m/001_a.sql": {Data: []byte(ok)}, "m/003_c.sql": {Data: []byte("-- 003: c\n")}}, "without gaps"},
		{"BadName", fstest.MapFS{"m/1_a.sql": {Data: []byte(ok)}}, "NNN_name.sql"},
		{"NoHeader", fstest.MapFS{"m/001_a.sql": {Data: []byte("CREATE TABLE a (x);")}}, "first line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.files, "m")
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, ms, 2)
		})
	}
	_, err := loadMigrations(mainMigrations, "migrations")
	assert.NoError(t, err)
	_, err = loadMigrations(keysMigrations, "migrations/keys")
	assert.NoError(t, err)
}

func TestMigrationFailureRollsBack(t *testing.T) {
	h, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "m.db")+"?"+dsnParams)
	require.NoError(t, err)
	defer h.Close()
	fsys := fstest.MapFS{
		"m/001_a.sql": {Data: []byte("-- 001: a\nCREATE TABLE a (x);")},
		"m/002_b.sql": {Data: []byte("-- 002: b\nCREATE TABLE b (x); CREATE TABLE a (y);")},
	}
	ctx := context.Background()
	require.ErrorContains(t, migrate(ctx, h, fsys, "m"), "migration 002_b")
	var n int
	require.NoError(t, h.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'b'").Scan(&n))
	assert.Equal(t, 0, n, "a failed migration leaves nothing behind")
	require.NoError(t, h.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n))
	assert.Equal(t, 1, n)
}

// TestMigrateAutoincrement rebuilds tables with data, an index, a trigger
// and a column added by an earlier migration, and checks that everything
// survives and that a deleted row's id is not given out again.
func TestMigrateAutoincrement(t *testing.T) {
	h, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "m.db")+"?"+dsnParams)
	require.NoError(t, err)
	defer h.Close()
	h.SetMaxOpenConns(1)
	fsys := fstest.MapFS{
		"m/001_a.sql": {Data: []byte(`-- 001: a
CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT;
CREATE INDEX p_v ON p(v);
CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER NOT NULL REFERENCES p(id), n INTEGER NOT NULL DEFAULT 0) STRICT;
INSERT INTO p (id, v) VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO c (p_id) VALUES (1), (3);`)},
		"m/002_b.sql": {Data: []byte(`-- 002: b adds a column and a trigger
ALTER TABLE p ADD COLUMN w INTEGER NOT NULL DEFAULT 7;
CREATE TRIGGER c_count AFTER INSERT ON c BEGIN UPDATE c SET n = 1 WHERE id = NEW.id; END;`)},
		"m/003_c.sql": {Data: []byte("-- 003: never reuse ids\n-- autoincrement: p c\nCREATE INDEX c_p ON c(p_id);")},
	}
	ctx := context.Background()
	require.NoError(t, migrate(ctx, h, fsys, "m"))
	require.NoError(t, migrate(ctx, h, fsys, "m"), "a second run applies nothing")

	var n int
	require.NoError(t, h.QueryRow("SELECT count(*) FROM sqlite_master WHERE name IN ('p_v', 'c_count', 'c_p')").Scan(&n))
	assert.Equal(t, 3, n, "indexes and triggers are kept")
	require.NoError(t, h.QueryRow("SELECT count(*) FROM p WHERE w = 7").Scan(&n))
	assert.Equal(t, 3, n, "rows and added columns are kept")
	var fk int
	require.NoError(t, h.QueryRow("PRAGMA foreign_keys").Scan(&fk))
	assert.Equal(t, 1, fk, "foreign keys are on again")

	_, err = h.Exec("DELETE FROM c WHERE p_id = 3")
	require.NoError(t, err)
	_, err = h.Exec("DELETE FROM p WHERE id = 3")
	require.NoError(t, err)
	res, err := h.Exec("INSERT INTO p (v) VALUES ('four')")
	require.NoError(t, err)
	id, err := res.LastInsertId()
	require.NoError(t, err)
	assert.Equal(t, int64(4), id, "the deleted newest id is not reused")
	res, err = h.Exec("INSERT INTO c (p_id) VALUES (4)")
	require.NoError(t, err)
	cid, _ := res.LastInsertId()
	require.NoError(t, h.QueryRow("SELECT n FROM c WHERE id = ?", cid).Scan(&n))
	assert.Equal(t, 1, n, "the trigger still fires")
	_, err = h.Exec("INSERT INTO c (p_id) VALUES (99)")
	assert.Error(t, err, "foreign keys are enforced")
}

// TestUpgradeToExactlyOnce migrates a database with rows written before
// 009 and checks that the rows survive the rebuilds, outbox rows get keys,
// cards count as posted and old drafts have no token (their cards keep
// working).
func TestUpgradeToExactlyOnce(t *testing.T) {
	h, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "m.db")+"?"+dsnParams)
	require.NoError(t, err)
	defer h.Close()
	h.SetMaxOpenConns(1)
	ctx := context.Background()
	before := fstest.MapFS{}
	ms, err := loadMigrations(mainMigrations, "migrations")
	require.NoError(t, err)
	for _, m := range ms {
		if m.name == "exactly_once" {
			break
		}
		b, err := fs.ReadFile(mainMigrations, fmt.Sprintf("migrations/%03d_%s.sql", m.version, m.name))
		require.NoError(t, err)
		before[fmt.Sprintf("m/%03d_%s.sql", m.version, m.name)] = &fstest.MapFile{Data: b}
	}
	require.NoError(t, migrate(ctx, h, before, "m"))
	for _, q := range []string{
		"INSERT INTO subjects (id, role, created_at, updated_at) VALUES ('s_1', 'customer', 1, 1)",
		"INSERT INTO messages (id, subject_id, platform, chat_bidx, chat, platform_id, dir, kind, sent_at, stored_at, status) VALUES (7, 's_1', 'whatsapp', x'01', x'02', 'W1', 'in', 'text', 1, 1, 'received')",
		"INSERT INTO drafts (id, subject_id, message_id, platform, chat_bidx, chat, status, created_at, updated_at) VALUES (3, 's_1', 7, 'whatsapp', x'01', x'02', 'approved', 1, 1)",
		"INSERT INTO cards (draft_id, subject_id, conversation, activity_id, posted_at) VALUES (3, 's_1', 'conv', 'act-1', 1)",
		"INSERT INTO outbox (draft_id, subject_id, platform, chat_bidx, chat, text, status, next_attempt, created_at, updated_at) VALUES (3, 's_1', 'whatsapp', x'01', x'02', x'03', 'pending', 1, 1, 1)",
	} {
		_, err := h.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, migrate(ctx, h, mainMigrations, "migrations"))
	var key, token, state string
	require.NoError(t, h.QueryRow("SELECT key FROM outbox WHERE draft_id = 3").Scan(&key))
	assert.Regexp(t, `^ob_[0-9a-f]{32}$`, key)
	require.NoError(t, h.QueryRow("SELECT token FROM drafts WHERE id = 3").Scan(&token))
	assert.Empty(t, token)
	require.NoError(t, h.QueryRow("SELECT state FROM cards WHERE draft_id = 3").Scan(&state))
	assert.Equal(t, "posted", state)
	var n int
	require.NoError(t, h.QueryRow("SELECT count(*) FROM messages WHERE id = 7 AND platform_id = 'W1'").Scan(&n))
	assert.Equal(t, 1, n)
	_, err = h.Exec("DELETE FROM outbox")
	require.NoError(t, err)
	_, err = h.Exec("DELETE FROM cards")
	require.NoError(t, err)
	_, err = h.Exec("DELETE FROM drafts")
	require.NoError(t, err)
	res, err := h.Exec("INSERT INTO drafts (subject_id, message_id, platform, chat_bidx, chat, status, created_at, updated_at) VALUES ('s_1', 7, 'whatsapp', x'01', x'02', 'pending', 1, 1)")
	require.NoError(t, err)
	id, err := res.LastInsertId()
	require.NoError(t, err)
	assert.Equal(t, int64(4), id, "the erased draft's id 3 is not given out again")
}
