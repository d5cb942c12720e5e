package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func countKeys(t testing.TB, db *DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.kdb.QueryRow("SELECT count(*) FROM subject_keys").Scan(&n))
	return n
}

// TestOpenDestroysOrphanKeys: a process that stops without Close leaves
// its spare pool keys, and a key whose subject never committed; the next
// Open destroys every key no subject uses and keeps the others.
func TestOpenDestroysOrphanKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	crashed := openAt(t, dir, newClock().Now)
	a, _, _ := ingestMsg(t, crashed, "K1", "Kim", phoneID("+447700900999"))
	require.Equal(t, minSpareKeys, countKeys(t, crashed), "one refill, one key used")

	// A second process on the same files, as after a crash (the first one
	// never closes its pool).
	db := openAt(t, dir, newClock().Now)
	assert.Equal(t, Recovery{OrphanKeys: minSpareKeys - 1}, db.LastRecovery())
	assert.Equal(t, 1, countKeys(t, db), "only the used key is left")
	s, err := db.FindSubject(context.Background(), a.ID)
	require.NoError(t, err)
	assert.Equal(t, "Kim", s.Name, "the live subject's data still opens")
}

// TestOpenKeepsKeysOfAnotherDatabase: a keys.db next to a main db that has
// none of its subjects (the wrong or a fresh switchboard.db) is left alone.
func TestOpenKeepsKeysOfAnotherDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := openAt(t, dir, newClock().Now)
	ctx := context.Background()
	for i := range maxSpareKeys + 1 {
		_, err := db.createSubjectKey(ctx, bot.NewSubjectID())
		require.NoError(t, err, i)
	}
	require.NoError(t, db.Close())
	db = openAt(t, dir, newClock().Now)
	assert.Zero(t, db.LastRecovery().OrphanKeys)
	assert.Equal(t, maxSpareKeys+1, countKeys(t, db), "an empty switchboard.db next to a used keys.db destroys nothing")
}

// TestInterruptedErasureResumes: an erasure whose journal row exists (the
// process stopped after its rows went, before the key was destroyed) is
// completed by the next Open: rows, key and journal row are gone, the
// subject's posted card waits in card_removals.
func TestInterruptedErasureResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := openAt(t, dir, newClock().Now)
	ctx := context.Background()
	a := plantSubject(t, db)
	b := newFixture(t, db, "+447700900222", "Bea", "bea text", "bea draft")
	require.NoError(t, db.tx(ctx, func(tx *sql.Tx) error { return db.journalErasure(ctx, tx, a.customer.ID) }))
	require.NoError(t, db.Close())

	db = openAt(t, dir, newClock().Now)
	assert.Equal(t, 1, db.LastRecovery().Erasures)
	for table, n := range rowsOf(t, db, a.customer.ID) {
		assert.Zero(t, n, table)
	}
	left, err := db.UnfinishedErasures(ctx)
	require.NoError(t, err)
	assert.Empty(t, left)
	db.keys.cache.clear()
	_, err = db.subjectKey(ctx, a.customer.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "the erased subject's key is gone")
	var subjects int
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM subjects").Scan(&subjects))
	assert.Equal(t, subjects, countKeys(t, db), "one key per live subject")
	_, err = db.FindSubject(ctx, b.customer.ID)
	assert.NoError(t, err)
	rms, err := db.PendingCardRemovals(ctx, 10)
	require.NoError(t, err)
	require.Len(t, rms, 1, "the erased subject's card waits for removal")
	assert.Equal(t, bot.CardRef{Conversation: "conv", ActivityID: "card-" + string(a.customer.ID)}, rms[0].Ref)
	require.NoError(t, db.CardRemoved(ctx, rms[0].ID))
	rms, err = db.PendingCardRemovals(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, rms)
}

// TestErasureJournalEmptyAfterDelete: a completed erasure leaves no journal
// row; an unknown subject leaves none either.
func TestErasureJournalEmptyAfterDelete(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a := newFixture(t, db, "+447700900111", "Al", "al text", "al draft")
	_, err := db.DeleteSubject(ctx, a.customer.ID)
	require.NoError(t, err)
	_, err = db.DeleteSubject(ctx, bot.NewSubjectID())
	assert.ErrorIs(t, err, bot.ErrNotFound)
	left, err := db.UnfinishedErasures(ctx)
	require.NoError(t, err)
	assert.Empty(t, left)
}
