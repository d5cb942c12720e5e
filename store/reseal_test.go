package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// The data task reseal-rows (migration 016) re-seals every format-1 field
// bound to its row at Open, and then format 1 no longer opens. These tests
// write a database through the API, turn every sealed value into format 1
// as the store wrote it before rows were bound, mark migration 016 as not
// applied (so it schedules the task again, as on a database from before),
// and reopen.

// keyColOf names the column whose subject's key seals table.col; "" for
// the store's own key (card_removals).
func keyColOf(table, col string) string {
	switch {
	case table == "subjects":
		return "id"
	case table == "card_removals":
		return ""
	case table == "decisions" && col != "text":
		return "by_subject"
	}
	return "subject_id"
}

// toFormatOne rewrites every sealed value of the database as format 1
// (sealV1, or the store key's old additional data) and marks migration 016
// as not applied; it returns how many values it rewrote.
func toFormatOne(t testing.TB, db *DB) int {
	t.Helper()
	ctx := context.Background()
	db.keys.fieldV1.Store(false) // only format 2 is read here
	n := 0
	for table, cols := range sealedCols {
		for _, col := range cols {
			kc := keyColOf(table, col)
			sel := "''"
			if kc != "" {
				sel = kc
			}
			rows, err := db.read.QueryContext(ctx, "SELECT id, "+sel+", "+col+" FROM "+table+" WHERE "+col+" IS NOT NULL")
			require.NoError(t, err)
			type old struct {
				id any
				v  []byte
			}
			var olds []old
			for rows.Next() {
				var id any
				var key string
				var v []byte
				require.NoError(t, rows.Scan(&id, &key, &v))
				if kc == "" {
					pt, err := db.keys.openRow(table, col, id.(int64), v)
					require.NoError(t, err)
					olds = append(olds, old{id, db.keys.store.Seal([]byte{fieldFormatV1}, nil, pt, fmt.Appendf(nil, "switchboard/row|%s|%s", table, col))})
					continue
				}
				sk, err := db.subjectKey(ctx, bot.SubjectID(key))
				require.NoError(t, err)
				row := rowKey(fmt.Sprint(id))
				pt, err := sk.open(table, col, row, v)
				require.NoError(t, err, "%s.%s of row %v", table, col, id)
				olds = append(olds, old{id, sealV1(sk, table, col, pt)})
			}
			require.NoError(t, rows.Err())
			rows.Close()
			for _, o := range olds {
				_, err := db.write.ExecContext(ctx, "UPDATE "+table+" SET "+col+" = ? WHERE id = ?", o.v, o.id)
				require.NoError(t, err)
				n++
			}
		}
	}
	_, err := db.write.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = 16")
	require.NoError(t, err)
	return n
}

// formats counts the sealed values of the database by format byte.
func formats(t testing.TB, db *DB) map[byte]int {
	t.Helper()
	out := map[byte]int{}
	walkSealed(t, db, func(_, _ string, v []byte) { out[v[0]]++ })
	return out
}

// readAll is everything the public API reads of the database: every
// subject's export, the card removals and every stored media file.
func readAll(t testing.TB, db *DB) string {
	t.Helper()
	ctx := context.Background()
	subjects, err := db.read.QueryContext(ctx, "SELECT id FROM subjects ORDER BY id")
	require.NoError(t, err)
	var ids []string
	for subjects.Next() {
		var s string
		require.NoError(t, subjects.Scan(&s))
		ids = append(ids, s)
	}
	require.NoError(t, subjects.Err())
	subjects.Close()
	var b strings.Builder
	for _, s := range ids {
		require.NoError(t, db.ExportSubject(ctx, bot.SubjectID(s), func(kind string, v any) error {
			j, err := json.Marshal(v)
			fmt.Fprintf(&b, "%s %s\n", kind, j)
			return err
		}))
	}
	rs, err := db.PendingCardRemovals(ctx, 100)
	require.NoError(t, err)
	fmt.Fprintf(&b, "card removals %+v\n", rs)
	media, err := queryIDs(ctx, db.read, "SELECT id FROM media WHERE file IS NOT NULL ORDER BY id")
	require.NoError(t, err)
	for _, id := range media {
		got, err := db.ReadMedia(ctx, id, 1<<20)
		require.NoError(t, err)
		fmt.Fprintf(&b, "media %d %q\n", id, got)
	}
	return b.String()
}

// reopen closes db and opens its directory again with the same clock.
func reopen(t testing.TB, db *DB, now func() time.Time, tune func(*DB)) (*DB, error) {
	t.Helper()
	require.NoError(t, db.Close())
	again, err := New(Options{Dir: db.dir, MasterKey: testKey, Now: now})
	require.NoError(t, err)
	if tune != nil {
		tune(again)
	}
	if err := again.Open(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = again.Close() })
	return again, nil
}

func pendingTasks(t testing.TB, db *DB) []string {
	t.Helper()
	rows, err := db.read.QueryContext(context.Background(), "SELECT name FROM data_tasks ORDER BY name")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestOpenResealsFormatOne: a database whose every sealed value is of
// format 1 is reopened; afterwards every value is of format 2, everything
// reads back unchanged through the API, and the task is done.
func TestOpenResealsFormatOne(t *testing.T) {
	db, clk := openTest(t)
	dayOfWork(t, db)
	want := readAll(t, db)
	n := toFormatOne(t, db)
	require.Greater(t, n, 25)
	require.Equal(t, map[byte]int{1: n}, formats(t, db))

	db, err := reopen(t, db, clk.Now, nil)
	require.NoError(t, err)
	assert.Equal(t, map[byte]int{2: n}, formats(t, db), "every value re-sealed as format 2")
	assert.Equal(t, want, readAll(t, db), "and reads as before")
	assert.Empty(t, pendingTasks(t, db))
	assert.False(t, db.keys.fieldV1.Load())
}

// TestCopiedFormatOneDoesNotOpenAfterReseal: once the task has run, a
// format-1 value sealed the old way for another row of the same subject,
// table and column and copied over a row's value does not open: the read
// fails instead of yielding the other row's value.
func TestCopiedFormatOneDoesNotOpenAfterReseal(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "first: is the blue bike ready?", "Yes, since Monday.")
	m2, _, err := db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: "M2",
		Text: "second: and the red one?", SentAt: db.now()})
	require.NoError(t, err)
	d2, err := db.CreateDraft(ctx, bot.Draft{MessageID: m2, Text: "The red one on Friday."})
	require.NoError(t, err)
	a, b := mediaFor(t, db, f, "quote.pdf"), mediaFor(t, db, f, "invoice.pdf")
	require.NoError(t, db.SaveCard(ctx, f.draftID, bot.CardRef{Conversation: "conv", ActivityID: "act-1"}))
	require.NoError(t, db.SaveCard(ctx, d2, bot.CardRef{Conversation: "conv", ActivityID: "act-2"}))
	toFormatOne(t, db)
	db, err = reopen(t, db, clk.Now, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, formats(t, db)[1], "all re-sealed")

	sk, err := db.subjectKey(ctx, f.customer.ID)
	require.NoError(t, err)
	// copyOld writes over table.col of row the format-1 value of pt,
	// sealed the old way (as for another row of the same subject).
	copyOld := func(table, col string, row any, pt string) {
		_, err := db.write.ExecContext(ctx, "UPDATE "+table+" SET "+col+" = ? WHERE id = ?", sealV1(sk, table, col, []byte(pt)), row)
		require.NoError(t, err)
	}
	copyOld("messages", "text", f.msg.ID, "second: and the red one?")
	_, err = db.FindMessage(ctx, f.msg.ID)
	assert.ErrorIs(t, err, errOpen, "messages.text")
	copyOld("drafts", "text", f.draftID, "The red one on Friday.")
	_, err = db.LoadDraft(ctx, f.draftID)
	assert.ErrorIs(t, err, errOpen, "drafts.text")
	copyOld("media", "name", a, "invoice.pdf")
	_, err = db.FindMedia(ctx, a)
	assert.ErrorIs(t, err, errOpen, "media.name")
	_, err = db.FindMedia(ctx, b)
	require.NoError(t, err, "the other row still reads")
	copyOld("subjects", "name", string(f.customer.ID), "Ada")
	_, err = db.FindSubject(ctx, f.customer.ID)
	assert.ErrorIs(t, err, errOpen, "subjects.name")

	_, err = db.DeleteSubject(ctx, f.customer.ID)
	require.NoError(t, err)
	ids, err := queryIDs(ctx, db.read, "SELECT id FROM card_removals ORDER BY id")
	require.NoError(t, err)
	require.Len(t, ids, 2)
	_, err = db.PendingCardRemovals(ctx, 10)
	require.NoError(t, err)
	ref := db.keys.store.Seal([]byte{fieldFormatV1}, nil, []byte(`{"Conversation":"conv","ActivityID":"act-2"}`),
		[]byte("switchboard/row|card_removals|ref"))
	_, err = db.write.ExecContext(ctx, "UPDATE card_removals SET ref = ? WHERE id = ?", ref, ids[0])
	require.NoError(t, err)
	_, err = db.PendingCardRemovals(ctx, 10)
	assert.ErrorIs(t, err, errOpen, "card_removals.ref")
}

// TestResealResumesAfterCrash: the task is stopped after its first batch
// (the context of Open cancelled, as a crash would): the rows done are
// committed, the task is still scheduled, and the next Open finishes it.
func TestResealResumesAfterCrash(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "hello", "Hello!")
	for i := range 9 {
		_, _, err := db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat,
			PlatformID: bot.MessageID(fmt.Sprintf("M%d", i)), Text: fmt.Sprintf("message %d", i), SentAt: db.now()})
		require.NoError(t, err)
	}
	want := readAll(t, db)
	n := toFormatOne(t, db)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := 0
	require.NoError(t, db.Close())
	crashed, err := New(Options{Dir: db.dir, MasterKey: testKey, Now: clk.Now})
	require.NoError(t, err)
	crashed.resealBatch = 3
	crashed.afterResealBatch = func(table string) {
		if table == "messages" {
			batches++
			cancel()
		}
	}
	err = crashed.Open(cctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, batches)

	db, err = reopen(t, db, clk.Now, func(db *DB) { db.resealBatch = 3 })
	require.NoError(t, err)
	assert.Equal(t, map[byte]int{2: n}, formats(t, db))
	assert.Equal(t, want, readAll(t, db))
	assert.Empty(t, pendingTasks(t, db))
}

// TestResealCrashLeavesCommittedBatches: after a stop in the middle, the
// first batch is of format 2 and the rest still of format 1 (so the
// resumption above really resumed), and the task is still scheduled.
func TestResealCrashLeavesCommittedBatches(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "hello", "Hello!")
	for i := range 9 {
		_, _, err := db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat,
			PlatformID: bot.MessageID(fmt.Sprintf("M%d", i)), Text: fmt.Sprintf("message %d", i), SentAt: db.now()})
		require.NoError(t, err)
	}
	toFormatOne(t, db)
	require.NoError(t, db.Close())
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	crashed, err := New(Options{Dir: db.dir, MasterKey: testKey, Now: clk.Now})
	require.NoError(t, err)
	crashed.resealBatch = 3
	crashed.afterResealBatch = func(table string) {
		if table == "messages" {
			cancel()
		}
	}
	require.ErrorIs(t, crashed.Open(cctx), context.Canceled)

	// Look at the file as it is, without Open (which would finish).
	h, err := New(Options{Dir: db.dir, MasterKey: testKey, Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, h.open(ctx))
	t.Cleanup(func() { _ = h.Close() })
	rows, err := h.read.QueryContext(ctx, "SELECT id, substr(text, 1, 1), substr(chat, 1, 1) FROM messages ORDER BY id")
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var id int64
		var text, chat []byte
		require.NoError(t, rows.Scan(&id, &text, &chat))
		got = append(got, fmt.Sprintf("%d:%d%d", id, text[0], chat[0]))
	}
	require.NoError(t, rows.Err())
	rows.Close()
	assert.Equal(t, []string{"1:22", "2:22", "3:22", "4:11", "5:11", "6:11", "7:11", "8:11", "9:11", "10:11"}, got)
	assert.Equal(t, []string{resealTask}, pendingTasks(t, h))
}

// TestResealLeavesCorruptValues: a format-1 value that does not open is
// left as it is and logged by table, column and row only; the task still
// completes, and the value reads as not authenticating.
func TestResealLeavesCorruptValues(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "secret words", "Hello!")
	toFormatOne(t, db)
	var sealed []byte
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT text FROM messages WHERE id = ?", f.msg.ID).Scan(&sealed))
	sealed[len(sealed)-1] ^= 1
	_, err := db.write.ExecContext(ctx, "UPDATE messages SET text = ? WHERE id = ?", sealed, f.msg.ID)
	require.NoError(t, err)

	var logs bytes.Buffer
	require.NoError(t, db.Close())
	again, err := New(Options{Dir: db.dir, MasterKey: testKey, Now: clk.Now, Log: zerolog.New(&logs)})
	require.NoError(t, err)
	require.NoError(t, again.Open(ctx))
	t.Cleanup(func() { _ = again.Close() })

	var now []byte
	require.NoError(t, again.read.QueryRowContext(ctx, "SELECT text FROM messages WHERE id = ?", f.msg.ID).Scan(&now))
	assert.Equal(t, sealed, now, "left as it is")
	assert.Equal(t, 1, formats(t, again)[1], "the one corrupt value")
	_, err = again.FindMessage(ctx, f.msg.ID)
	assert.ErrorIs(t, err, errOpen)
	assert.Empty(t, pendingTasks(t, again))
	assert.Contains(t, logs.String(), fmt.Sprintf(`"table":"messages","column":"text","row":"%d"`, f.msg.ID))
	assert.Contains(t, logs.String(), `"corrupt":1`)
	assert.NotContains(t, logs.String(), "secret")
	assert.NotContains(t, logs.String(), "447700900123")
}

// TestResealCompletesOnNewDatabase: a new database runs the task over
// nothing; format 1 is refused from the start.
func TestResealCompletesOnNewDatabase(t *testing.T) {
	db, err := openIn(t, filepath.Join(t.TempDir(), "data"), testKey)
	require.NoError(t, err)
	assert.Empty(t, pendingTasks(t, db))
	assert.False(t, db.keys.fieldV1.Load())
}
