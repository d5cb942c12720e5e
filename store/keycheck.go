package store

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/bot"
)

// ErrWrongMasterKey is returned by Open when the data directory was written
// with another master key. Opening it anyway would find nobody (blind
// indexes differ), give returning people second subjects and answer
// erasure requests with "nobody known" while the data stays on disk.
var ErrWrongMasterKey = errors.New("the master key does not match the data")

// keyCheckLabel is what the key check value authenticates.
const keyCheckLabel = "switchboard key check value v1"

// keyCheckValue is the HMAC-SHA256 of a fixed label under a key derived
// from master for this purpose only; it reveals nothing about the other
// derived keys.
func keyCheckValue(master []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, master, nil, "switchboard/key-check/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive key check: %w", err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(keyCheckLabel))
	return m.Sum(nil), nil
}

// checkMasterKey compares the key check value stored in both databases
// with the one of the configured master key. A database without one (a new
// one, or one from before the check) gets it written, once the keys
// database's subject keys, if any, are shown to open under this key.
func (db *DB) checkMasterKey(ctx context.Context, main, kdb *sql.DB) error {
	wrong := func(file string) error {
		return fmt.Errorf("%w: %s was written with another master key; nothing was changed", ErrWrongMasterKey, file)
	}
	stored := func(h *sql.DB) ([]byte, error) {
		var mac []byte
		err := h.QueryRowContext(ctx, "SELECT mac FROM key_check WHERE id = 1").Scan(&mac)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return mac, err
	}
	keysMAC, err := stored(kdb)
	if err != nil {
		return fmt.Errorf("read key check: %w", err)
	}
	mainMAC, err := stored(main)
	if err != nil {
		return fmt.Errorf("read key check: %w", err)
	}
	if keysMAC != nil && !hmac.Equal(keysMAC, db.keyCheck) {
		return wrong(KeysFile)
	}
	if mainMAC != nil && !hmac.Equal(mainMAC, db.keyCheck) {
		return wrong(MainFile)
	}
	if keysMAC == nil {
		// From before the check: any subject key must open.
		var s string
		var wrapped []byte
		var version int
		err := kdb.QueryRowContext(ctx, "SELECT subject_id, wrapped_dek, kek_version FROM subject_keys ORDER BY created_at LIMIT 1").
			Scan(&s, &wrapped, &version)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read subject key: %w", err)
		default:
			dek, err := db.keys.unwrap(bot.SubjectID(s), wrapped, version)
			if err != nil {
				return wrong(KeysFile)
			}
			clear(dek)
		}
	}
	if mainMAC == nil && keysMAC == nil {
		var n int
		if err := main.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM subjects LIMIT 1)").Scan(&n); err != nil {
			return fmt.Errorf("count subjects: %w", err)
		}
		var k int
		if err := kdb.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM subject_keys LIMIT 1)").Scan(&k); err != nil {
			return fmt.Errorf("count subject keys: %w", err)
		}
		if n > 0 && k == 0 {
			// Rows without any key cannot be read by any master key; the
			// blind indexes cannot be checked either.
			db.log.Warn().Msg("the main database has subjects but the keys database has no keys: their data cannot be read; key check value written")
		}
	}
	now := db.now().UnixNano()
	for _, w := range []struct {
		h   *sql.DB
		mac []byte
	}{{kdb, keysMAC}, {main, mainMAC}} {
		if w.mac != nil {
			continue
		}
		if _, err := w.h.ExecContext(ctx, "INSERT INTO key_check (id, mac, created_at) VALUES (1, ?, ?)", db.keyCheck, now); err != nil {
			return fmt.Errorf("write key check: %w", err)
		}
	}
	return nil
}
