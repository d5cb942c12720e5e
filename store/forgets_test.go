package store

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// markerIDs are the planted subject's identities, as an erasure hands them
// to the channels.
func markerIDs() []bot.Identity {
	return []bot.Identity{{Kind: bot.IDPhone, Value: markerPhone}, {Kind: bot.IDLID, Value: "447700900987@lid"}}
}

// forgetKeys returns the ids of the forget records' keys in keys.db.
func forgetKeys(t *testing.T, db *DB) []string {
	t.Helper()
	ids, err := queryStrings(context.Background(), db.kdb, "SELECT subject_id FROM subject_keys WHERE subject_id LIKE 'f%'")
	require.NoError(t, err)
	return ids
}

// TestEraseSubjectRecordsForget: the erasure's transaction leaves a forget
// record with the identities sealed (no plaintext on disk), readable
// through PendingForgets; CompleteForget destroys the row and its key, and
// after a checkpoint not even the wrapped key's bytes are left.
func TestEraseSubjectRecordsForget(t *testing.T) {
	db, clock := openTest(t)
	ctx := context.Background()
	a := plantSubject(t, db)
	b := newFixture(t, db, "+447700900222", "Bea", "bea text", "bea draft")

	id, counts, err := db.EraseSubject(ctx, a.customer.ID, markerIDs(), []string{"whatsapp-linked", "teams"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "f_"), id)
	assert.Equal(t, 1, counts["subjects"])
	assert.Equal(t, 1, counts["subject_keys"])
	for table, n := range rowsOf(t, db, a.customer.ID) {
		assert.Zero(t, n, table)
	}
	left, err := db.UnfinishedErasures(ctx)
	require.NoError(t, err)
	assert.Empty(t, left, "the journal's steps are done as before")

	pending, err := db.PendingForgets(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, bot.PendingForget{ID: id, Subject: a.customer.ID, Identities: markerIDs(), Owed: []string{"whatsapp-linked", "teams"},
		Due: clock.Now(), Created: clock.Now()}, pending[0])

	require.NoError(t, db.Checkpoint(ctx))
	assert.Empty(t, scanFiles(t, dbFiles(db), markerNeedles()...), "the record holds the identities sealed")
	wrapped := keyBytes(t, db, bot.SubjectID(id))
	require.NotEmpty(t, scanFiles(t, dbFiles(db), string(wrapped)), "sanity: the record's key is found by the scan")

	require.NoError(t, db.CompleteForget(ctx, id))
	pending, err = db.PendingForgets(ctx)
	require.NoError(t, err)
	assert.Empty(t, pending)
	assert.Empty(t, forgetKeys(t, db), "the record's key is destroyed")
	require.NoError(t, db.Checkpoint(ctx))
	assert.Empty(t, scanFiles(t, dbFiles(db), string(wrapped)), "its bytes are gone from keys.db and its WAL")
	assert.Empty(t, scanFiles(t, dbFiles(db), markerNeedles()...))
	require.NoError(t, db.CompleteForget(ctx, id), "completing twice is no error")
	_, err = db.FindSubject(ctx, b.customer.ID)
	assert.NoError(t, err, "B is intact")
}

// TestEraseSubjectUnknownStillRecords: a subject already gone gives
// bot.ErrNotFound, but the channels may still know the person, so the
// record is written all the same.
func TestEraseSubjectUnknownStillRecords(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	gone := bot.NewSubjectID()
	id, _, err := db.EraseSubject(ctx, gone, markerIDs(), []string{"teams"})
	assert.ErrorIs(t, err, bot.ErrNotFound)
	require.NotEmpty(t, id)
	pending, err := db.PendingForgets(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, gone, pending[0].Subject)
	assert.Equal(t, markerIDs(), pending[0].Identities)
}

// TestUpdateForget: what a record owes and when it is due change; an
// unknown record is bot.ErrNotFound.
func TestUpdateForget(t *testing.T) {
	db, clock := openTest(t)
	ctx := context.Background()
	a := newFixture(t, db, "+447700900111", "Al", "al text", "al draft")
	id, _, err := db.EraseSubject(ctx, a.customer.ID, []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900111"}}, []string{"a", "b"})
	require.NoError(t, err)
	due := clock.Now().Add(time.Hour)
	require.NoError(t, db.UpdateForget(ctx, id, []string{"b"}, due))
	pending, err := db.PendingForgets(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, []string{"b"}, pending[0].Owed)
	assert.Equal(t, due, pending[0].Due)
	assert.ErrorIs(t, db.UpdateForget(ctx, "f_00", nil, due), bot.ErrNotFound)
	assert.Error(t, db.UpdateForget(ctx, id, []string{""}, due), "a forgetter has a name")
}

// TestOpenKeepsLiveForgetKeys: the orphan sweep at Open keeps the key of a
// pending forget record (it names no subject, yet its record needs it),
// and destroys the key of a record that is gone: one whose erasure never
// committed, one whose completion stopped between the row and the key.
func TestOpenKeepsLiveForgetKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clock := newClock()
	db := openAt(t, dir, clock.Now)
	ctx := context.Background()
	a := plantSubject(t, db)
	b := newFixture(t, db, "+447700900222", "Bea", "bea text", "bea draft")
	live, _, err := db.EraseSubject(ctx, a.customer.ID, markerIDs(), []string{"teams"})
	require.NoError(t, err)
	cut, _, err := db.EraseSubject(ctx, b.customer.ID, []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900222"}}, []string{"teams"})
	require.NoError(t, err)
	_, err = db.write.Exec("DELETE FROM forgets WHERE id = ?", cut) // CompleteForget cut off after the row
	require.NoError(t, err)
	_, err = db.createSubjectKey(ctx, bot.SubjectID(newForgetID())) // an erasure cut off before its transaction
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db = openAt(t, dir, clock.Now)
	assert.Equal(t, Recovery{OrphanKeys: 2}, db.LastRecovery())
	assert.Equal(t, []string{live}, forgetKeys(t, db))
	pending, err := db.PendingForgets(ctx)
	require.NoError(t, err, "the live record still opens")
	require.Len(t, pending, 1)
	assert.Equal(t, markerIDs(), pending[0].Identities)
}

// TestOpenDropsKeylessForget: a forget record whose key keys.db does not
// hold (an older keys.db) cannot be opened again; Open deletes it and
// logs its subject for the operator.
func TestOpenDropsKeylessForget(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clock := newClock()
	db := openAt(t, dir, clock.Now)
	ctx := context.Background()
	a := plantSubject(t, db)
	id, _, err := db.EraseSubject(ctx, a.customer.ID, markerIDs(), []string{"teams"})
	require.NoError(t, err)
	_, err = db.destroySubjectKey(ctx, bot.SubjectID(id))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	var logs bytes.Buffer
	db, err = New(Options{Dir: dir, MasterKey: testKey, Now: clock.Now, Log: zerolog.New(&logs)})
	require.NoError(t, err)
	require.NoError(t, db.Open(ctx))
	t.Cleanup(func() { _ = db.Close() })
	assert.Equal(t, 1, db.LastRecovery().LostForgets)
	pending, err := db.PendingForgets(ctx)
	require.NoError(t, err)
	assert.Empty(t, pending)
	assert.Contains(t, logs.String(), string(a.customer.ID))
	assert.Contains(t, logs.String(), "forget record without its key")
}

// TestForgetWrittenBeforeRowBindingOpens: a forget record written before
// fields were bound to rows has first byte 1 (then fieldFormat), with the
// same additional data (record and subject), and still opens: before, a
// pending record of an older version failed PendingForgets as a whole.
func TestForgetWrittenBeforeRowBindingOpens(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a := plantSubject(t, db)
	id, _, err := db.EraseSubject(ctx, a.customer.ID, markerIDs(), []string{"teams"})
	require.NoError(t, err)
	_, err = db.write.ExecContext(ctx, "UPDATE forgets SET ids = CAST(x'01' || substr(ids, 2) AS BLOB) WHERE id = ?", id)
	require.NoError(t, err)
	pending, err := db.PendingForgets(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, markerIDs(), pending[0].Identities)
}
