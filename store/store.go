// Package store keeps Switchboard's data in SQLite (mattn/go-sqlite3): embedded
// forward-only migrations, every personal field sealed with AES-256-GCM under
// the subject's own data key, lookups by identifier through a keyed blind
// index, and physical erasure (secure_delete plus a TRUNCATE checkpoint).
//
// Two files live in the data directory: switchboard.db holds the rows and
// keys.db holds each subject's data key wrapped by the master key. Deleting a
// subject's key makes that subject's ciphertext in every older copy of
// switchboard.db unreadable, as long as no copy of keys.db still holds it.
//
// Backups: use DB.Backup (VACUUM INTO), never a file copy, and keep keys.db
// backups apart from and shorter-lived than main db backups (see Backup).
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
)

// File names inside Options.Dir.
const (
	MainFile = "switchboard.db"
	KeysFile = "keys.db"
)

// dsnParams is set on every connection to either file: foreign keys, a
// busy timeout, BEGIN IMMEDIATE for transactions (no lock upgrades that
// deadlock), secure_delete so erased rows are zeroed, and FULL sync: in WAL
// mode every commit fsyncs the WAL before it returns, so a commit that was
// acknowledged (an inbound message WhatsApp was told about, a new subject's
// key in keys.db) survives a power cut or an OS crash; NORMAL syncs only at
// checkpoints and may lose the last commits. Inbound messages share commits
// (group commit, inboundBatcher) and new subjects' keys are committed in
// batches (keyPool), so FULL costs one fsync per batch, not per message.
// WAL is set by connectPragmas, after the page size.
const dsnParams = "_foreign_keys=on&_busy_timeout=5000&_txlock=immediate&_secure_delete=on&_synchronous=FULL"

// connectPragmas are set by a ConnectHook on every connection; the DSN has
// no keys for them. page_size 2048 (default 4096) applies to a new file
// only, so it comes before journal_mode = WAL (a WAL file keeps its page
// size; an existing file keeps the one it has): a new sender's commit
// writes about 11 WAL frames, and halving each frame made new-sender ingest
// about 10-15% faster on the benchmark machine. journal_size_limit (16 MB)
// bounds the WAL file kept after a checkpoint; it is above the ~8.3 MB the
// autocheckpoint lets the WAL reach, so the next cycle overwrites blocks
// the file already has instead of growing it again from 1 MB (new-sender
// ingest ~15% faster on ext4). Erasure is unaffected: its TRUNCATE
// checkpoint empties the WAL whatever the limit. temp_store keeps sorts
// and temporary tables out of temp files. wal_autocheckpoint lets the WAL grow to 4000 pages (8 MB)
// before a passive checkpoint (default 1000): fewer, larger checkpoints
// cut fsyncs and page reads by about 3x at ingest. Erasure does not rely
// on it: DeleteSubject ends with its own TRUNCATE checkpoint.
const connectPragmas = "PRAGMA page_size = 2048; PRAGMA journal_mode = WAL; PRAGMA journal_size_limit = 16777216; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 4000;"

// Options configure a DB.
type Options struct {
	// Dir is the data directory; it is created (0700) by Open. The main
	// database is Dir/switchboard.db and the keys database Dir/keys.db.
	Dir string
	// MasterKey is 32 secret bytes; required. Purpose keys (the key-wrapping
	// key, the blind-index key) are derived from it with HKDF.
	MasterKey []byte
	// Log receives operational events (ids only). If zero, nothing is logged.
	Log zerolog.Logger
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// KeyCacheSize bounds the number of unwrapped subject keys kept in
	// memory. If 0, 4096.
	KeyCacheSize int
}

// DB is the SQLite store. It implements bot.Store and the extra methods the
// privacy engine and channels use. Its methods are safe for concurrent use.
type DB struct {
	dir  string
	log  zerolog.Logger
	now  func() time.Time
	keys *keyring
	// keyCheck is the key check value of the master key (see
	// checkMasterKey).
	keyCheck []byte

	inbound  inboundBatcher // group commit of SaveInbound and Ingest
	subjects *subjectCache  // returning senders, by blind index
	pool     keyPool        // data keys of subjects to come
	media    mediaFiles     // media files being written

	stmts *writeStmts // prepared on the writer connection by Open; guarded by mu

	mu    sync.Mutex // guards the handles below during Open/Close
	write *sql.DB    // main db, one connection: all writes
	read  *sql.DB    // main db, several connections: reads
	kdb   *sql.DB    // keys db, one connection

	recovery Recovery // what the last Open recovered; guarded by mu

	// Tests only: the rows per transaction of the data task reseal-rows
	// (if 0, resealBatchRows), and a function it calls after each
	// committed batch. Set before Open.
	resealBatch      int
	afterResealBatch func(table string)
}

var _ bot.Store = (*DB)(nil)
var _ bot.HandledMarker = (*DB)(nil)
var _ bot.MessageFinder = (*DB)(nil)

// New validates opts and returns a DB. It does no I/O; call Open.
func New(opts Options) (*DB, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: Dir is required")
	}
	if len(opts.MasterKey) != 32 {
		return nil, fmt.Errorf("store: MasterKey must be 32 bytes, got %d", len(opts.MasterKey))
	}
	if opts.KeyCacheSize < 0 {
		return nil, errors.New("store: KeyCacheSize must not be negative")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	size := opts.KeyCacheSize
	if size == 0 {
		size = 4096
	}
	kr, err := newKeyring(opts.MasterKey, size)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	check, err := keyCheckValue(opts.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	macKey := make([]byte, 32)
	if _, err := rand.Read(macKey); err != nil {
		return nil, fmt.Errorf("store: name mac key: %w", err)
	}
	return &DB{
		dir:      opts.Dir,
		log:      opts.Log.With().Str("component", "store").Logger(),
		now:      opts.Now,
		keys:     kr,
		keyCheck: check,
		subjects: newSubjectCache(size, macKey),
	}, nil
}

// MainPath is the path of the main database file.
func (db *DB) MainPath() string { return filepath.Join(db.dir, MainFile) }

// KeysPath is the path of the keys database file.
func (db *DB) KeysPath() string { return filepath.Join(db.dir, KeysFile) }

// Open creates the data directory (0700), opens both databases, applies
// pending migrations and checks the master key against the key check value
// the databases hold: data written with another key gives an error
// wrapping ErrWrongMasterKey, and the store stays closed. Then it runs the
// one-time data changes migrations scheduled (see runDataTasks), and
// finishes what a crash of an earlier process left (LastRecovery says
// what): it completes journaled erasures and destroys subject keys that no
// subject uses (spare keys of the pool, keys of subjects rolled back or
// merged).
func (db *DB) Open(ctx context.Context) error {
	if err := db.open(ctx); err != nil {
		return err
	}
	if err := db.runDataTasks(ctx); err != nil {
		_ = db.Close()
		return fmt.Errorf("store: %w", err)
	}
	rec, err := db.recover(ctx)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("store: recover: %w", err)
	}
	db.mu.Lock()
	db.recovery = rec
	db.mu.Unlock()
	if rec.OrphanKeys > 0 && rec.Erasures == 0 {
		// The deleted keys' pages leave the WAL now (secure_delete zeroed
		// them in the file); an erasure above checkpointed already.
		if err := db.Checkpoint(ctx); err != nil {
			db.log.Warn().Err(err).Msg("checkpoint after destroying orphan keys")
		}
	}
	db.log.Info().Msg("store opened")
	return nil
}

// open is Open up to the data tasks.
func (db *DB) open(ctx context.Context) (err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.write != nil {
		return errors.New("store: already open")
	}
	if err := os.MkdirAll(db.dir, 0o700); err != nil {
		return fmt.Errorf("store: create data dir: %w", err)
	}
	// Create the files owner-only before SQLite opens them: it gives the
	// -wal and -shm files the main file's mode.
	for _, p := range []string{db.MainPath(), db.KeysPath()} {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("store: create db file: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("store: create db file: %w", err)
		}
	}
	var opened []*sql.DB
	defer func() {
		if err != nil {
			for _, h := range opened {
				_ = h.Close()
			}
		}
	}()
	open := func(path string, conns int) *sql.DB {
		h := sql.OpenDB(connector{dsn: path + "?" + dsnParams})
		h.SetMaxOpenConns(conns)
		h.SetMaxIdleConns(conns)
		h.SetConnMaxIdleTime(0)
		opened = append(opened, h)
		return h
	}
	write := open(db.MainPath(), 1)
	kdb := open(db.KeysPath(), 1)
	// Migrate before the read pool opens so readers see the schema.
	if err := migrate(ctx, write, mainMigrations, "migrations"); err != nil {
		return fmt.Errorf("store: migrate main db: %w", err)
	}
	if err := migrate(ctx, kdb, keysMigrations, "migrations/keys"); err != nil {
		return fmt.Errorf("store: migrate keys db: %w", err)
	}
	if err := db.checkMasterKey(ctx, write, kdb); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	stmts, err := prepareWriteStmts(ctx, write)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	read := open(db.MainPath(), 4)
	if err := read.PingContext(ctx); err != nil {
		return fmt.Errorf("store: open main db: %w", err)
	}
	for _, base := range []string{db.MainPath(), db.KeysPath()} {
		for _, p := range []string{base, base + "-wal", base + "-shm"} {
			if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("store: restrict db file mode: %w", err)
			}
		}
	}
	if _, err := db.sweepMedia(ctx, read); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	db.write, db.read, db.kdb = write, read, kdb
	db.stmts = &stmts
	return nil
}

// Close closes both databases (SQLite checkpoints and removes the WAL when
// the last connection closes). It is safe to call twice.
func (db *DB) Close() error {
	db.dropSpareKeys(context.Background())
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.write == nil {
		return nil
	}
	db.stmts.close()
	db.stmts = nil
	errs := []error{db.read.Close(), db.write.Close(), db.kdb.Close()}
	db.write, db.read, db.kdb = nil, nil, nil
	db.keys.cache.clear()
	db.subjects.clear()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// writeStmts are the statements of the ingest path, prepared once on the
// writer connection and bound to each batch's transaction.
type writeStmts struct {
	insertMessage, findMessage                *sql.Stmt
	lookupIdentity, insertIdentity            *sql.Stmt
	loadSubject, insertSubject, updateSubject *sql.Stmt
	nextID                                    map[string]*sql.Stmt // by table (rowTables)
}

func prepareWriteStmts(ctx context.Context, write *sql.DB) (writeStmts, error) {
	var s writeStmts
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		// Only a duplicate (messages_dedup) is not inserted; an id taken
		// twice would fail.
		{&s.insertMessage, `INSERT INTO messages (id, subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, chat_bidx, platform_id) DO NOTHING`},
		{&s.findMessage, "SELECT id FROM messages WHERE platform = ? AND chat_bidx = ? AND platform_id = ?"},
		{&s.lookupIdentity, "SELECT subject_id FROM identities WHERE bidx_ver = ? AND bidx = ?"},
		{&s.insertIdentity, "INSERT INTO identities (id, subject_id, kind, bidx, bidx_ver, value, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"},
		{&s.loadSubject, "SELECT name, role, tenant, ai_restricted, created_at, name_set FROM subjects WHERE id = ?"},
		{&s.insertSubject, `INSERT INTO subjects (id, name, role, tenant, ai_restricted, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)`},
		{&s.updateSubject, "UPDATE subjects SET name = ?, role = ?, tenant = ?, updated_at = ? WHERE id = ?"},
	} {
		st, err := write.PrepareContext(ctx, p.query)
		if err != nil {
			s.close()
			return writeStmts{}, fmt.Errorf("prepare: %w", err)
		}
		*p.dst = st
	}
	s.nextID = make(map[string]*sql.Stmt, len(rowTables))
	for _, t := range rowTables {
		st, err := write.PrepareContext(ctx, nextIDSQL(t))
		if err != nil {
			s.close()
			return writeStmts{}, fmt.Errorf("prepare: %w", err)
		}
		s.nextID[t] = st
	}
	return s, nil
}

func (s *writeStmts) close() {
	for _, st := range s.nextID {
		_ = st.Close()
	}
	for _, st := range []*sql.Stmt{s.insertMessage, s.findMessage, s.lookupIdentity, s.insertIdentity, s.loadSubject, s.insertSubject, s.updateSubject} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// writeStatements returns the prepared statements of the writer
// connection, or an error if the DB is not open.
func (db *DB) writeStatements() (*writeStmts, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.stmts == nil {
		return nil, errors.New("store: not open")
	}
	return db.stmts, nil
}

// handles returns the open handles, or an error if the DB is not open.
func (db *DB) handles() (write, read, kdb *sql.DB, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.write == nil {
		return nil, nil, nil, errors.New("store: not open")
	}
	return db.write, db.read, db.kdb, nil
}

// connector opens mattn connections with a ConnectHook, without registering
// a driver name globally.
type connector struct{ dsn string }

func (c connector) Connect(context.Context) (driver.Conn, error) {
	return c.Driver().Open(c.dsn)
}

func (c connector) Driver() driver.Driver {
	return &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		if _, err := conn.Exec(connectPragmas, nil); err != nil {
			return fmt.Errorf("connect pragmas: %w", err)
		}
		return nil
	}}
}

// Checkpoint runs PRAGMA wal_checkpoint(TRUNCATE) on both databases and
// retries with backoff until SQLite reports no busy readers, so that erased
// pages leave the WAL and the main file holds only zeroed space. It gives up
// after about five seconds; a reader that never finishes (a leaked
// *sql.Rows) makes it fail.
func (db *DB) Checkpoint(ctx context.Context) error {
	write, _, kdb, err := db.handles()
	if err != nil {
		return err
	}
	if err := checkpoint(ctx, write, 5*time.Second); err != nil {
		return fmt.Errorf("checkpoint main db: %w", err)
	}
	if err := checkpoint(ctx, kdb, 5*time.Second); err != nil {
		return fmt.Errorf("checkpoint keys db: %w", err)
	}
	return nil
}

// errCheckpointBusy is returned when readers kept the checkpoint busy.
var errCheckpointBusy = errors.New("wal checkpoint still busy")

func checkpoint(ctx context.Context, h *sql.DB, limit time.Duration) error {
	conn, err := h.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A short busy timeout per attempt keeps the whole loop bounded; the
	// writer connection is ours for the duration, so no write interleaves.
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 50"); err != nil {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = 5000") }()
	deadline := time.Now().Add(limit)
	wait := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var busy, logFrames, done int
		err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
		var serr sqlite3.Error
		switch {
		case err == nil && busy == 0:
			return nil
		case err == nil, errors.As(err, &serr) && serr.Code == sqlite3.ErrBusy:
		default:
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%w after %d attempts", errCheckpointBusy, attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
}

// tx runs fn in one immediate transaction on the writer connection.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	tx, err := write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// notFound maps sql.ErrNoRows to bot.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return bot.ErrNotFound
	}
	return err
}

// isUnique reports a UNIQUE constraint violation.
func isUnique(err error) bool {
	var serr sqlite3.Error
	return errors.As(err, &serr) && serr.ExtendedCode == sqlite3.ErrConstraintUnique
}

// Times are stored as Unix nanoseconds; 0 is the zero time.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
