package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.mau.fi/whatsmeow/types"
)

// dbFile is the session database's name inside Options.Dir.
const dbFile = "whatsapp.db"

// dsn is the go-sqlite3 address of the session database. whatsmeow refuses
// to upgrade without foreign keys; secure_delete zeroes erased rows.
func dsn(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_foreign_keys=on&_secure_delete=on&_journal_mode=WAL&_busy_timeout=5000"
}

// schema is the channel's own table in whatsapp.db, next to whatsmeow's.
// switchboard_wa_writers holds the user JIDs (no device) of chats that wrote
// to us first: the channel never starts a conversation. It is personal data
// and Forget removes its rows.
const schema = `
CREATE TABLE IF NOT EXISTS switchboard_wa_writers (
	jid        TEXT PRIMARY KEY,
	first_seen INTEGER NOT NULL
) WITHOUT ROWID;`

// ensureSchema creates the channel's own tables.
func ensureSchema(ctx context.Context, db *sql.DB) error {
	for _, q := range []string{schema, unackedSchema} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create channel tables: %w", err)
		}
	}
	return nil
}

// markWriter records that jid wrote to us.
func markWriter(ctx context.Context, db *sql.DB, jid types.JID, now time.Time) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO switchboard_wa_writers (jid, first_seen) VALUES (?, ?) ON CONFLICT (jid) DO NOTHING`,
		jid.ToNonAD().String(), now.Unix())
	if err != nil {
		return fmt.Errorf("record writer: %w", err)
	}
	return nil
}

// isWriter reports whether any of jids wrote to us.
func isWriter(ctx context.Context, db *sql.DB, jids ...types.JID) (bool, error) {
	for _, j := range jids {
		if j.IsEmpty() {
			continue
		}
		var one int
		err := db.QueryRowContext(ctx, `SELECT 1 FROM switchboard_wa_writers WHERE jid = ?`, j.ToNonAD().String()).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return false, fmt.Errorf("look up writer: %w", err)
		default:
			return true, nil
		}
	}
	return false, nil
}
