package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// Planted markers: unique strings that must never reach the files in clear.
const (
	markerPhone = "+447700900987"
	markerName  = "Zebulon Quartermaine"
	markerText  = "zzsecretmarker-kumquat-7731"
	markerDraft = "zzdraftmarker-persimmon-4410"
	markerEdit  = "zzeditmarker-loquat-0093"
)

// markerNeedles are the markers and their telling fragments.
func markerNeedles() []string {
	return []string{markerPhone, "447700900987", "7700900987", "0900987", markerName, "Zebulon", "Quartermaine",
		markerText, "kumquat", markerDraft, "persimmon", markerEdit, "loquat"}
}

// plantSubject stores a subject with every kind of row, all carrying markers.
func plantSubject(t *testing.T, db *DB) fixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, db, markerPhone, markerName, markerText+" "+strings.Repeat("long ", 1500), markerDraft)
	_, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{
		{Kind: bot.IDPhone, Value: markerPhone}, {Kind: bot.IDLID, Value: "447700900987@lid"}}})
	require.NoError(t, err)
	require.NoError(t, db.SaveCard(ctx, f.draftID, bot.CardRef{Conversation: "conv", ActivityID: "card-" + string(f.customer.ID)}))
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Edit, Text: markerEdit, By: staff("s1"), ByName: "Sam"}))
	items, err := db.DueOutbox(ctx, db.now(), 100)
	require.NoError(t, err)
	for _, it := range items {
		if it.Subject == f.customer.ID {
			require.NoError(t, db.MarkSent(ctx, it.ID, bot.MessageID("OUT-"+string(f.customer.ID)), db.now()))
		}
	}
	// A second draft still queued in the outbox.
	m := f.msg
	m.PlatformID, m.Text = "second", markerText+" again"
	id, _, err := db.SaveInbound(ctx, m)
	require.NoError(t, err)
	d2, err := db.CreateDraft(ctx, bot.Draft{MessageID: id, Text: markerDraft + " 2"})
	require.NoError(t, err)
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: d2, Kind: bot.Approve, By: staff("s1")}))
	_, err = db.CreateRequest(ctx, bot.Request{Kind: bot.RequestExport, Scope: "self", RequestedBy: f.customer.ID})
	require.NoError(t, err)
	require.NoError(t, db.Audit(ctx, bot.AuditEntry{Action: "export", Actor: f.customer.ID, Subject: f.customer.ID}))
	return f
}

// rowsOf counts rows naming subject s in every table of the main db.
func rowsOf(t *testing.T, db *DB, s bot.SubjectID) map[string]int {
	t.Helper()
	out := map[string]int{}
	for table, where := range map[string]string{
		"subjects": "id = ?1", "identities": "subject_id = ?1", "messages": "subject_id = ?1", "drafts": "subject_id = ?1",
		"decisions": "subject_id = ?1 OR by_subject = ?1", "outbox": "subject_id = ?1", "cards": "subject_id = ?1",
	} {
		var n int
		require.NoError(t, db.read.QueryRow("SELECT count(*) FROM "+table+" WHERE "+where, string(s)).Scan(&n))
		out[table] = n
	}
	var n int
	require.NoError(t, db.kdb.QueryRow("SELECT count(*) FROM subject_keys WHERE subject_id = ?", string(s)).Scan(&n))
	out["subject_keys"] = n
	return out
}

func TestExportSubject(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := plantSubject(t, db)
	other := newFixture(t, db, "+447700900111", "Other", "other text", "other draft")
	_ = other
	var kinds []string
	var texts []string
	require.NoError(t, db.ExportSubject(ctx, f.customer.ID, func(kind string, v any) error {
		if len(kinds) == 0 || kinds[len(kinds)-1] != kind {
			kinds = append(kinds, kind)
		}
		switch x := v.(type) {
		case bot.Subject:
			texts = append(texts, x.Name)
		case bot.Identity:
			texts = append(texts, x.Value)
		case bot.Message:
			assert.Equal(t, f.customer.ID, x.Subject)
			texts = append(texts, x.Text)
		case bot.Draft:
			texts = append(texts, x.Text)
		case DecisionRecord:
			texts = append(texts, x.Text)
		case bot.OutboxItem:
			texts = append(texts, x.Text)
		case bot.CardRef, bot.Request, bot.AuditEntry:
		default:
			t.Errorf("unexpected type %T for %s", v, kind)
		}
		return nil
	}))
	assert.Equal(t, []string{"subject", "identity", "message", "draft", "decision", "outbox", "card", "request", "audit"}, kinds)
	all := strings.Join(texts, "\n")
	for _, want := range []string{markerName, markerPhone, "447700900987@lid", markerText, markerDraft, markerEdit} {
		assert.Contains(t, all, want)
	}
	assert.NotContains(t, all, "other text")

	t.Run("DecisionsByStaff", func(t *testing.T) {
		s, err := db.FindSubjects(ctx, staff("s1"))
		require.NoError(t, err)
		require.Len(t, s, 1)
		var by []DecisionRecord
		require.NoError(t, db.ExportSubject(ctx, s[0], func(kind string, v any) error {
			if kind == ExportDecisionBy {
				by = append(by, v.(DecisionRecord))
			}
			return nil
		}))
		require.Len(t, by, 2)
		assert.Empty(t, by[0].Text, "the customer's reply text is not the staff member's data")
		assert.Equal(t, staff("s1"), by[0].By)
	})
	t.Run("StopsOnError", func(t *testing.T) {
		boom := errors.New("boom")
		n := 0
		err := db.ExportSubject(ctx, f.customer.ID, func(string, any) error { n++; return boom })
		assert.ErrorIs(t, err, boom)
		assert.Equal(t, 1, n)
	})
	t.Run("NotFound", func(t *testing.T) {
		err := db.ExportSubject(ctx, bot.NewSubjectID(), func(string, any) error { return nil })
		assert.ErrorIs(t, err, bot.ErrNotFound)
	})
	// No read transaction outlives the export.
	require.NoError(t, checkpoint(ctx, db.write, time.Second))
}

func TestDeleteSubject(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a := plantSubject(t, db)
	b := newFixture(t, db, "+447700900222", "Bea", "bea text", "bea draft")
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: b.draftID, Kind: bot.Approve, By: staff("s1")}))
	bBefore := rowsOf(t, db, b.customer.ID)

	counts, err := db.DeleteSubject(ctx, a.customer.ID)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"subjects": 1, "identities": 2, "messages": 3, "drafts": 2, "decisions": 2,
		"decisions_by": 0, "outbox": 2, "cards": 1, "subject_keys": 1}, counts)
	for table, n := range rowsOf(t, db, a.customer.ID) {
		assert.Zero(t, n, table)
	}
	assert.Equal(t, bBefore, rowsOf(t, db, b.customer.ID), "B intact")
	v, err := db.LoadDraft(ctx, b.draftID)
	require.NoError(t, err)
	assert.Equal(t, "bea draft", v.Draft.Text)
	assert.Nil(t, db.keys.cache.get(a.customer.ID), "key evicted from memory")
	_, err = db.subjectKey(ctx, a.customer.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	got, err := db.FindSubjects(ctx, bot.Identity{Kind: bot.IDPhone, Value: markerPhone})
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = db.DeleteSubject(ctx, a.customer.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	reqs, err := db.OpenRequests(ctx)
	require.NoError(t, err)
	require.Len(t, reqs, 1, "the register keeps the request")
	assert.Equal(t, a.customer.ID, reqs[0].RequestedBy)

	t.Run("StaffErasureKeepsCustomerDecisions", func(t *testing.T) {
		s, err := db.FindSubjects(ctx, staff("s1"))
		require.NoError(t, err)
		require.Len(t, s, 1)
		counts, err := db.DeleteSubject(ctx, s[0])
		require.NoError(t, err)
		assert.Equal(t, 1, counts["decisions_by"])
		v, err := db.LoadDraft(ctx, b.draftID)
		require.NoError(t, err)
		require.NotNil(t, v.Decision)
		assert.Equal(t, bot.Approve, v.Decision.Kind)
		assert.True(t, v.Decision.By.IsZero())
		assert.Empty(t, v.Decision.ByName)
		assert.ErrorIs(t, db.Decide(ctx, bot.Decision{DraftID: b.draftID, Kind: bot.Reject}), bot.ErrDecided)
	})
}

// TestNoPlaintextOnDisk plants a phone number, name and texts and scans the
// raw bytes of every database file: nothing in clear while stored (it is
// sealed), and after erasure with a concurrent reader the checkpoint still
// succeeds and no trace is left.
func TestNoPlaintextOnDisk(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	// Many other customers, so pages are shared and reused.
	for i := range 50 {
		newFixture(t, db, "+4477009"+strings.Repeat("0", 4-len(itoa(i)))+itoa(i)+"1", "Other", "other message", "other draft")
	}
	a := plantSubject(t, db)
	// Sanity: the scan finds what it looks for.
	require.NotEmpty(t, scanFiles(t, []string{filepath.Join("testdata", "schema.golden.sql")}, "subject_id"))

	assert.Empty(t, scanFiles(t, dbFiles(db), markerNeedles()...), "sealed while stored (WAL live)")
	require.NoError(t, db.Checkpoint(ctx))
	assert.Empty(t, scanFiles(t, dbFiles(db), markerNeedles()...), "sealed while stored (checkpointed)")
	// The ciphertext and blind index are there; the key too.
	require.NotZero(t, rowsOf(t, db, a.customer.ID)["messages"])
	wrapped := keyBytes(t, db, a.customer.ID)
	require.NotEmpty(t, scanFiles(t, dbFiles(db), string(wrapped)), "sanity: the wrapped key is found by the scan")
	bidx := db.keys.identityIndex(bot.Identity{Kind: bot.IDPhone, Value: markerPhone})
	require.NotEmpty(t, scanFiles(t, dbFiles(db), string(bidx)), "sanity: the blind index is found by the scan")

	stop := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for first := true; ; first = false {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = db.History(ctx, a.customer.ID, a.msg.Chat, 0, 50)
			_, _ = db.Undrafted(ctx, 20)
			if first {
				close(started)
			}
		}
	}()
	<-started
	counts, err := db.DeleteSubject(ctx, a.customer.ID)
	close(stop)
	wg.Wait()
	require.NoError(t, err, "checkpoint succeeds despite the reader")
	require.Equal(t, 1, counts["subjects"])
	assert.Empty(t, scanFiles(t, dbFiles(db), append(markerNeedles(), string(wrapped), string(bidx))...), "live after erasure")
	require.NoError(t, db.Close())
	assert.Empty(t, scanFiles(t, dbFiles(db), append(markerNeedles(), string(wrapped), string(bidx))...), "closed after erasure")
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func keyBytes(t *testing.T, db *DB, s bot.SubjectID) []byte {
	t.Helper()
	var b []byte
	require.NoError(t, db.kdb.QueryRow("SELECT wrapped_dek FROM subject_keys WHERE subject_id = ?", string(s)).Scan(&b))
	return b
}

// TestCryptoShredding copies the main db before erasure (a backup). After
// DeleteSubject the copy still holds the subject's ciphertext, but no key
// opens it.
func TestCryptoShredding(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a := plantSubject(t, db)
	backup := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, db.Checkpoint(ctx))
	raw, err := os.ReadFile(db.MainPath())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(backup, raw, 0o600))

	readBackup := func() (subject bot.SubjectID, row rowKey, sealed []byte) {
		h, err := sql.Open("sqlite3", backup+"?mode=ro")
		require.NoError(t, err)
		defer h.Close()
		var s string
		var id int64
		require.NoError(t, h.QueryRow("SELECT subject_id, id, text FROM messages WHERE subject_id = ? AND text IS NOT NULL LIMIT 1",
			string(a.customer.ID)).Scan(&s, &id, &sealed))
		return bot.SubjectID(s), rowID(id), sealed
	}
	s, row, sealed := readBackup()
	sk, err := db.subjectKey(ctx, s)
	require.NoError(t, err)
	pt, err := sk.open("messages", "text", row, sealed)
	require.NoError(t, err, "sanity: the backup opens while the key exists")
	assert.Contains(t, string(pt), markerText)

	_, err = db.DeleteSubject(ctx, a.customer.ID)
	require.NoError(t, err)
	s, row, sealed = readBackup()
	assert.NotContains(t, string(sealed), markerText)
	_, err = db.subjectKey(ctx, s)
	assert.ErrorIs(t, err, bot.ErrNotFound, "the key is gone, the backup's ciphertext is beyond use")
	// Not in keys.db on disk either.
	assert.Empty(t, scanFiles(t, dbFiles(db)[4:], string(s)))
	// Re-creating the subject id gives a different key: the old data stays shut.
	nk, err := db.createSubjectKey(ctx, s)
	require.NoError(t, err)
	_, err = nk.open("messages", "text", row, sealed)
	assert.ErrorIs(t, err, errOpen)
}

// TestCryptoBinding moves ciphertexts between subjects, tables and columns,
// and tampers with them: none opens.
func TestCryptoBinding(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a := newFixture(t, db, "+447700900123", "Ada", "ada text", "ada draft")
	b := newFixture(t, db, "+447700900124", "Bob", "bob text", "bob draft")
	var aText, aChat []byte
	require.NoError(t, db.read.QueryRow("SELECT text, chat FROM messages WHERE id = ?", a.msg.ID).Scan(&aText, &aChat))
	ka, err := db.subjectKey(ctx, a.customer.ID)
	require.NoError(t, err)
	kb, err := db.subjectKey(ctx, b.customer.ID)
	require.NoError(t, err)
	aRow := rowID(a.msg.ID)
	_, err = ka.open("messages", "text", aRow, aText)
	require.NoError(t, err, "sanity")

	tampered := append([]byte(nil), aText...)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name          string
		key           *subjectKey
		table, column string
		row           rowKey
		sealed        []byte
	}{
		{"OtherSubject", kb, "messages", "text", aRow, aText},
		{"OtherColumn", ka, "messages", "chat", aRow, aText},
		{"OtherTable", ka, "drafts", "text", aRow, aText},
		{"OtherRow", ka, "messages", "text", rowID(a.msg.ID + 1), aText},
		{"Tampered", ka, "messages", "text", aRow, tampered},
		{"Truncated", ka, "messages", "text", aRow, aText[:10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.key.open(tc.table, tc.column, tc.row, tc.sealed)
			assert.ErrorIs(t, err, errOpen)
			assert.NotContains(t, err.Error(), "ada")
		})
	}
	t.Run("MovedInTheDatabase", func(t *testing.T) {
		// Someone with write access copies A's text onto B's message.
		_, err := db.write.Exec("UPDATE messages SET text = ? WHERE id = ?", aText, b.msg.ID)
		require.NoError(t, err)
		_, err = db.History(ctx, b.customer.ID, b.msg.Chat, 0, 10)
		assert.ErrorIs(t, err, errOpen)
		// And A's chat into A's text column.
		_, err = db.write.Exec("UPDATE messages SET text = ? WHERE id = ?", aChat, a.msg.ID)
		require.NoError(t, err)
		_, err = db.History(ctx, a.customer.ID, a.msg.Chat, 0, 10)
		assert.ErrorIs(t, err, errOpen)
	})
	t.Run("WrappedKeyBoundToSubject", func(t *testing.T) {
		wa := keyBytes(t, db, a.customer.ID)
		_, err := db.keys.unwrap(b.customer.ID, wa, kekVersion)
		assert.ErrorIs(t, err, errOpen)
	})
	t.Run("BlindIndexIsKeyed", func(t *testing.T) {
		id := bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}
		other, err := newKeyring(make([]byte, 32), 1)
		require.NoError(t, err)
		assert.NotEqual(t, hex.EncodeToString(db.keys.identityIndex(id)), hex.EncodeToString(other.identityIndex(id)))
		assert.Equal(t, db.keys.identityIndex(id), db.keys.identityIndex(bot.Identity{Kind: bot.IDPhone, Value: "+44 7700 900123"}))
		assert.NotEqual(t, db.keys.identityIndex(id), db.keys.identityIndex(bot.Identity{Kind: bot.IDLID, Value: id.Value}))
	})
}

func TestRequestsAndAudit(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	s := bot.NewSubjectID()
	id1, err := db.CreateRequest(ctx, bot.Request{Kind: bot.RequestErase, Scope: "self", RequestedBy: s})
	require.NoError(t, err)
	clk.Add(time.Hour)
	id2, err := db.CreateRequest(ctx, bot.Request{Kind: bot.RequestExport, Scope: "phone", RequestedBy: s,
		Received: time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	open, err := db.OpenRequests(ctx)
	require.NoError(t, err)
	require.Len(t, open, 2)
	assert.Equal(t, id2, open[0].ID, "earliest due first")
	assert.Equal(t, time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), open[0].Due, "one calendar month, clamped to the end of February")
	assert.Equal(t, bot.DueDate(newClock().Now()), open[1].Due)
	assert.Equal(t, "open", open[1].Status)
	assert.Equal(t, map[string]int{}, open[1].Counts)

	require.NoError(t, db.CompleteRequest(ctx, id1, "done", map[string]int{"messages": 3}, clk.Now()))
	assert.ErrorIs(t, db.CompleteRequest(ctx, 999, "done", nil, clk.Now()), bot.ErrNotFound)
	assert.Error(t, db.CompleteRequest(ctx, id2, "open", nil, clk.Now()))
	open, err = db.OpenRequests(ctx)
	require.NoError(t, err)
	require.Len(t, open, 1)
	reqs, err := db.queryRequests(ctx, db.read, "WHERE id = ?", id1)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"messages": 3}, reqs[0].Counts)
	assert.Equal(t, clk.Now(), reqs[0].Done)
	_, err = db.CreateRequest(ctx, bot.Request{})
	assert.Error(t, err)

	require.NoError(t, db.Audit(ctx, bot.AuditEntry{Actor: s, Action: "erase", Subject: "s_other", Detail: "messages=3"}))
	require.NoError(t, db.Audit(ctx, bot.AuditEntry{Action: "retention", Subject: s}))
	assert.Error(t, db.Audit(ctx, bot.AuditEntry{}))
	entries, err := db.auditOf(ctx, db.read, s)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, "erase", entries[0].Action)
	assert.Equal(t, clk.Now(), entries[1].At)
}

func TestCheckpointBusyReader(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	newFixture(t, db, "+447700900123", "Ada", "text", "draft")
	// A leaked *sql.Rows holds a read transaction open.
	rows, err := db.read.QueryContext(ctx, "SELECT id FROM messages")
	require.NoError(t, err)
	require.True(t, rows.Next())
	newFixture(t, db, "+447700900124", "Bob", "text", "draft")
	err = checkpoint(ctx, db.write, 300*time.Millisecond)
	assert.ErrorIs(t, err, errCheckpointBusy)
	require.NoError(t, rows.Close())
	assert.NoError(t, checkpoint(ctx, db.write, 300*time.Millisecond))
	fi, err := os.Stat(db.MainPath() + "-wal")
	require.NoError(t, err)
	assert.Zero(t, fi.Size(), "TRUNCATE empties the WAL")
}

func TestBackup(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	a := plantSubject(t, db)
	b := newFixture(t, db, "+447700900222", "Bea", "bea text", "bea draft")
	// Erased before the backup: no remnant may reach it.
	_, err := db.DeleteSubject(ctx, a.customer.ID)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "backup")
	require.NoError(t, db.Backup(ctx, dir))
	assert.Error(t, db.Backup(ctx, dir), "does not overwrite")
	files := []string{filepath.Join(dir, MainFile), filepath.Join(dir, KeysFile)}
	assert.Empty(t, scanFiles(t, files, markerNeedles()...))
	assert.Empty(t, scanFiles(t, files, "bea text", "Bea"))

	restored := openAt(t, dir, clk.Now)
	v, err := restored.LoadDraft(ctx, b.draftID)
	require.NoError(t, err)
	assert.Equal(t, "bea text", v.Message.Text)
	assert.Equal(t, "Bea", v.Customer.Name)
}

// TestErrorsCarryNoPersonalData triggers errors with personal data in the
// input: no error string repeats it.
func TestErrorsCarryNoPersonalData(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, markerPhone, markerName, markerText, markerDraft)
	var errs []error
	_, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: "fax", Value: markerPhone + strings.Repeat("9", 300)}}, Name: markerName})
	errs = append(errs, err)
	_, err = db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: markerPhone}}, Name: markerName, Role: "x"})
	errs = append(errs, err)
	_, _, err = db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: bot.ChatID(markerPhone), Text: markerText + strings.Repeat("x", MaxTextLen)})
	errs = append(errs, err)
	_, _, err = db.SaveInbound(ctx, bot.Message{Subject: bot.SubjectID(markerName), Platform: bot.WhatsApp, Chat: bot.ChatID(markerPhone), Text: markerText})
	errs = append(errs, err)
	errs = append(errs, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Edit, Text: " ", By: bot.Identity{Kind: bot.IDTeams, Value: markerName}}))
	errs = append(errs, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Regenerate, Instruction: markerText}))
	_, err = db.RevokeMessage(ctx, bot.WhatsApp, bot.ChatID(markerPhone), bot.MessageID(markerText))
	errs = append(errs, err)
	_, err = db.FindSubjects(ctx, bot.Identity{Kind: bot.IDPhone})
	errs = append(errs, err)
	_, err = db.History(ctx, f.customer.ID, f.msg.Chat, 0, 10)
	require.NoError(t, err)
	_, err = db.write.Exec("UPDATE messages SET text = x'01' WHERE id = ?", f.msg.ID)
	require.NoError(t, err)
	_, err = db.History(ctx, f.customer.ID, f.msg.Chat, 0, 10)
	errs = append(errs, err)
	for i, err := range errs {
		require.Error(t, err, "case %d", i)
		for _, n := range markerNeedles() {
			assert.NotContains(t, err.Error(), n, "case %d", i)
		}
	}
}

// TestSubjectQueriesUseIndexes checks that "all rows of S" and "delete all
// rows of S" never scan a whole table.
func TestSubjectQueriesUseIndexes(t *testing.T) {
	db, _ := openTest(t)
	queries := []string{
		"SELECT id FROM identities WHERE subject_id = ?1",
		"SELECT id FROM messages WHERE subject_id = ?1 AND id > 0 ORDER BY id LIMIT 500",
		"SELECT id FROM drafts WHERE subject_id = ?1 ORDER BY id",
		"SELECT id FROM outbox WHERE subject_id = ?1 ORDER BY id",
		"SELECT id FROM cards WHERE subject_id = ?1 ORDER BY id",
		"SELECT id FROM requests WHERE requested_by = ?1 ORDER BY id",
		"SELECT id FROM audit WHERE id IN (SELECT id FROM audit WHERE subject = ?1 UNION SELECT id FROM audit WHERE actor = ?1)",
		"SELECT id FROM decisions WHERE draft_id = ?1",
		"SELECT id FROM decisions WHERE by_subject = ?1 AND subject_id <> ?1",
		"SELECT id FROM subjects WHERE tenant = ?1 AND tenant <> '' ORDER BY created_at, id",
	}
	for _, st := range []struct{ table, query string }{
		{"decisions", "UPDATE decisions SET by_subject = NULL WHERE by_subject = ?1 AND subject_id <> ?1"},
		{"decisions", "DELETE FROM decisions WHERE subject_id = ?1"},
		{"cards", "DELETE FROM cards WHERE subject_id = ?1"},
		{"outbox", "DELETE FROM outbox WHERE subject_id = ?1"},
		{"drafts", "DELETE FROM drafts WHERE subject_id = ?1"},
		{"messages", "DELETE FROM messages WHERE subject_id = ?1"},
		{"identities", "DELETE FROM identities WHERE subject_id = ?1"},
		{"subjects", "DELETE FROM subjects WHERE id = ?1"},
	} {
		queries = append(queries, st.query)
	}
	for _, q := range queries {
		rows, err := db.read.Query("EXPLAIN QUERY PLAN "+q, "s_x")
		require.NoError(t, err, q)
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Close())
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN ") && !strings.Contains(p, "USING") {
				t.Errorf("%s: full scan: %s", q, strings.Join(plan, "; "))
			}
		}
	}
}

func TestInactive(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	quiet, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900001"}}})
	require.NoError(t, err)
	talked := newFixture(t, db, "+447700900002", "T", "old message", "d")
	clk.Add(48 * time.Hour)
	recent := newFixture(t, db, "+447700900003", "R", "new message", "d")
	_, _, err = db.SaveInbound(ctx, bot.Message{Subject: talked.customer.ID, Platform: bot.WhatsApp, Chat: talked.msg.Chat, PlatformID: "later", Text: "x"})
	require.NoError(t, err)
	clk.Add(time.Hour)

	got, err := db.Inactive(ctx, clk.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []bot.SubjectID{quiet.ID}, got, "talked wrote again; recent is new")
	got, err = db.Inactive(ctx, clk.Now())
	require.NoError(t, err)
	assert.ElementsMatch(t, []bot.SubjectID{quiet.ID, talked.customer.ID, recent.customer.ID}, got)
	got, err = db.Inactive(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)
}
