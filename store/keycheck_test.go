package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// openIn opens a store in dir with key, for tests that reopen one directory.
func openIn(t *testing.T, dir string, key []byte) (*DB, error) {
	t.Helper()
	db, err := New(Options{Dir: dir, MasterKey: key})
	require.NoError(t, err)
	if err := db.Open(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, nil
}

// TestOpenRefusesAnotherMasterKey: data written with one master key is
// never opened with another (which would answer "nobody known" and give a
// returning customer a second subject): Open fails with ErrWrongMasterKey,
// and nothing is written.
func TestOpenRefusesAnotherMasterKey(t *testing.T) {
	ctx := context.Background()
	other := bytes.Repeat([]byte{0x17}, 32)
	phone := bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Name: "Ada"}

	t.Run("Checked", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		db, err := openIn(t, dir, testKey)
		require.NoError(t, err)
		s, err := db.ResolveSubject(ctx, phone)
		require.NoError(t, err)
		require.NoError(t, db.Close())

		_, err = openIn(t, dir, other)
		require.ErrorIs(t, err, ErrWrongMasterKey)
		assert.Contains(t, err.Error(), "another master key")
		assert.NotContains(t, err.Error(), string(other))

		db, err = openIn(t, dir, testKey)
		require.NoError(t, err, "the right key still opens it")
		got, err := db.ResolveSubject(ctx, phone)
		require.NoError(t, err)
		assert.Equal(t, s.ID, got.ID, "the returning customer is the same subject")
	})
	t.Run("LegacyWithoutCheck", func(t *testing.T) {
		// A database from before the check value: its subject keys tell.
		dir := filepath.Join(t.TempDir(), "data")
		db, err := openIn(t, dir, testKey)
		require.NoError(t, err)
		_, err = db.ResolveSubject(ctx, phone)
		require.NoError(t, err)
		_, err = db.write.ExecContext(ctx, "DELETE FROM key_check")
		require.NoError(t, err)
		_, err = db.kdb.ExecContext(ctx, "DELETE FROM key_check")
		require.NoError(t, err)
		require.NoError(t, db.Close())

		_, err = openIn(t, dir, other)
		require.ErrorIs(t, err, ErrWrongMasterKey)
		db, err = openIn(t, dir, testKey)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = openIn(t, dir, other)
		require.ErrorIs(t, err, ErrWrongMasterKey, "the right key wrote the check value")
	})
	t.Run("FreshDirectory", func(t *testing.T) {
		_, err := openIn(t, filepath.Join(t.TempDir(), "data"), other)
		require.NoError(t, err)
	})
}
