package privacy

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/store/storetest"
)

// seeded is a seeded customer with everything that identifies them.
type seeded struct {
	sub     bot.Subject
	phone   string // E.164
	lid     string
	name    string
	planted string // a unique phrase in their messages
}

// needles are the byte strings that must not survive A's erasure.
func (p seeded) needles() []string {
	digits := p.phone[1:]
	return []string{p.phone, digits, "0" + digits[2:], strings.TrimSuffix(p.lid, "@lid"), p.name, p.planted}
}

// seedPerson stores a customer with PN and LID identities, two inbound
// messages (one planted), drafts, a posted card, a staff edit (which
// queues a reply in the outbox) and a template sent to reopen the window.
func seedPerson(t testing.TB, h *harness, phone, lid, name, planted string) seeded {
	t.Helper()
	sub := h.customer(phone, lid, name)
	chat := bot.ChatID(phone[1:] + "@s.whatsapp.net")
	for i, text := range []string{"Hi, my boiler is broken. " + planted, "Can you come on Tuesday? " + planted} {
		h.clock.Add(time.Minute)
		m := bot.Message{Subject: sub.ID, Platform: bot.WhatsApp, Chat: chat, PlatformID: bot.MessageID("WAMID-" + phone[1:] + "-" + string(rune('a'+i))),
			Dir: bot.In, Kind: bot.KindText, Text: text, SentAt: h.clock.Now(), Status: bot.StatusReceived}
		mid, _, err := h.st.SaveInbound(h.ctx, m)
		require.NoError(t, err)
		draft := "Sorry to hear that, " + name + ". " + planted
		did, err := h.st.CreateDraft(h.ctx, bot.Draft{Subject: sub.ID, MessageID: mid, Platform: bot.WhatsApp, Chat: chat, Text: draft, Status: bot.DraftPending,
			Result: &bot.DraftResult{Text: draft, Intent: "booking", Quote: &bot.Quote{Lines: []bot.QuoteLine{{ItemID: "callout", Name: "Call-out", Quantity: 1, UnitPrice: 8000, Total: 8000}},
				Net: 8000, VAT: 1600, Total: 9600, Currency: "GBP", PriceListVersion: "2026-01"}}})
		require.NoError(t, err)
		if i == 0 {
			require.NoError(t, h.st.SaveCard(h.ctx, did, bot.CardRef{Conversation: "19:staff@thread.v2", ActivityID: "act-" + phone[1:]}))
			h.clock.Add(time.Minute)
			require.NoError(t, h.st.Decide(h.ctx, bot.Decision{DraftID: did, Kind: bot.Edit, Text: "Edited for " + name + ": " + planted,
				By: bot.Identity{Kind: bot.IDTeams, Value: "aad-staff"}, Tenant: "tenant-1", ByName: "Sam Staff", ActionID: "click-" + phone[1:], At: h.clock.Now()}))
		} else {
			// The reply window closed: staff sent the business's template.
			require.NoError(t, h.st.QueueTemplate(h.ctx, bot.Decision{DraftID: did, Kind: bot.SendTemplate, ActionID: "template-" + phone[1:], At: h.clock.Now()},
				bot.Template{Name: "reopen_conversation", Language: "en_GB"}))
		}
	}
	return seeded{sub: sub, phone: phone, lid: lid, name: name, planted: planted}
}

// storeFiles lists the files a byte scan reads: the databases and every
// file in the media directory.
func storeFiles(dir string) []string {
	var out []string
	for _, base := range []string{store.MainFile, store.KeysFile} {
		for _, sfx := range []string{"", "-wal", "-shm", "-journal"} {
			out = append(out, filepath.Join(dir, base+sfx))
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, store.MediaDirName))
	for _, e := range ents {
		out = append(out, filepath.Join(dir, store.MediaDirName, e.Name()))
	}
	return out
}

// scan returns "file: needle" for every needle found in the blobs.
func scan(t *testing.T, blobs map[string][]byte, needles []string) []string {
	t.Helper()
	var hits []string
	for name, b := range blobs {
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, name+": "+n)
			}
		}
	}
	return hits
}

func readFiles(t *testing.T, files []string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		out[filepath.Base(f)] = b
	}
	return out
}

// rowsOf counts, per table, the rows that name subject s.
func rowsOf(t *testing.T, dir string, s bot.SubjectID) map[string]int {
	t.Helper()
	out := map[string]int{}
	for file, queries := range map[string]map[string]string{
		store.MainFile: {
			"subjects":   "SELECT COUNT(*) FROM subjects WHERE id = ?1",
			"identities": "SELECT COUNT(*) FROM identities WHERE subject_id = ?1",
			"messages":   "SELECT COUNT(*) FROM messages WHERE subject_id = ?1",
			"drafts":     "SELECT COUNT(*) FROM drafts WHERE subject_id = ?1",
			"decisions":  "SELECT COUNT(*) FROM decisions WHERE subject_id = ?1 OR by_subject = ?1",
			"outbox":     "SELECT COUNT(*) FROM outbox WHERE subject_id = ?1",
			"cards":      "SELECT COUNT(*) FROM cards WHERE subject_id = ?1",
			"media":      "SELECT COUNT(*) FROM media WHERE subject_id = ?1",
		},
		store.KeysFile: {"subject_keys": "SELECT COUNT(*) FROM subject_keys WHERE subject_id = ?1"},
	} {
		h, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, file)+"?mode=ro")
		require.NoError(t, err)
		for table, q := range queries {
			var n int
			require.NoError(t, h.QueryRow(q, string(s)).Scan(&n), table)
			out[table] = n
		}
		require.NoError(t, h.Close())
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

// Proofs 1 and 2: /forget me + YES erases A everywhere and nothing of B;
// a copy of the main db taken before can no longer be read for A.
func TestProofForgetMeErasesEverything(t *testing.T) {
	h := newHarness(t)
	require.NotEmpty(t, h.dir)
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	b := seedPerson(t, h, "+447700900222", "98765432202@lid", "Bob Bobolink", "PLANTED-BRAVO-91d2")
	aMedia := seedMedia(t, h, a)
	seedMedia(t, h, b)

	// Preconditions: A's data is there and readable.
	docA := h.exportOf(a.sub.ID)
	require.Contains(t, docA, a.planted)
	require.Contains(t, docA, a.phone)
	before := rowsOf(t, h.dir, a.sub.ID)
	for _, table := range []string{"subjects", "identities", "messages", "drafts", "decisions", "outbox", "cards", "media", "subject_keys"} {
		require.Positive(t, before[table], table)
	}
	// A's photo, voice note and document are on disk, sealed: their bytes
	// are readable through the store and nowhere in the files.
	require.Len(t, mediaFilesIn(t, h.dir), 6, "three media files each for A and B")
	for _, m := range aMedia {
		require.Equal(t, m.data, h.readMedia(m.id))
	}
	require.NoError(t, h.st.Checkpoint(h.ctx))
	require.Empty(t, scan(t, readFiles(t, storeFiles(h.dir)), a.mediaNeedles()), "media are sealed at rest")
	bBefore := rowsOf(t, h.dir, b.sub.ID)
	docB := h.exportOf(b.sub.ID)

	// A backup copy of the main db, taken the wrong way (a file copy).
	require.NoError(t, h.st.Checkpoint(h.ctx))
	backup := filepath.Join(t.TempDir(), "backup")
	require.NoError(t, os.MkdirAll(backup, 0o700))
	copyFile(t, filepath.Join(h.dir, store.MainFile), filepath.Join(backup, store.MainFile))

	// A asks, and confirms.
	assert.Contains(t, h.must(a.sub, "/forget me").Text, "Reply YES")
	reply := h.must(a.sub, "YES")
	assert.Contains(t, reply.Text, "Done: we erased your data")
	assert.Regexp(t, regexp.MustCompile(`Request #\d+`), reply.Text)
	assert.NotContains(t, reply.Text, a.name)

	// Every table is empty of A.
	for table, n := range rowsOf(t, h.dir, a.sub.ID) {
		assert.Zero(t, n, table)
	}
	// B is intact.
	assert.Equal(t, bBefore, rowsOf(t, h.dir, b.sub.ID))
	assert.Equal(t, docB, h.exportOf(b.sub.ID))
	// The forgetter got A's identities, captured before the deletion.
	require.Len(t, h.forget.calls, 1)
	assert.Equal(t, a.sub.ID, h.forget.calls[0].Subject)
	assert.ElementsMatch(t, []bot.Identity{{Kind: bot.IDPhone, Value: a.phone}, {Kind: bot.IDLID, Value: a.lid}}, h.forget.calls[0].IDs)
	// ... and found A's posted card through Cards, though the row is gone.
	assert.Equal(t, []bot.CardRef{{Conversation: "19:staff@thread.v2", ActivityID: "act-" + a.phone[1:]}}, h.forget.calls[0].Cards)
	refs, err := h.svc.Cards().CardsOf(h.ctx, a.sub.ID)
	require.NoError(t, err)
	assert.Empty(t, refs, "after the erasure the index is empty")
	refs, err = h.svc.Cards().CardsOf(h.ctx, b.sub.ID)
	require.NoError(t, err)
	assert.Len(t, refs, 1)

	// The identifier finds nobody now.
	subs, err := h.st.FindSubjects(h.ctx, bot.Identity{Kind: bot.IDPhone, Value: a.phone})
	require.NoError(t, err)
	assert.Empty(t, subs)
	// The register keeps kind, scope, dates, counts and who asked.
	reg, err := sql.Open("sqlite3", "file:"+filepath.Join(h.dir, store.MainFile)+"?mode=ro")
	require.NoError(t, err)
	var kind, scope, by, counts, status string
	var received, due, done int64
	require.NoError(t, reg.QueryRow("SELECT kind, scope, received_at, due_at, done_at, requested_by, counts, status FROM requests WHERE kind = 'erase'").
		Scan(&kind, &scope, &received, &due, &done, &by, &counts, &status))
	require.NoError(t, reg.Close())
	assert.Equal(t, []string{"erase", "self", string(a.sub.ID), "done"}, []string{kind, scope, by, status})
	assert.Equal(t, bot.DueDate(time.Unix(0, received)), time.Unix(0, due).UTC())
	assert.Positive(t, done)
	var c map[string]int
	require.NoError(t, json.Unmarshal([]byte(counts), &c))
	assert.Equal(t, 5, c["messages"], "two texts and three media messages")
	assert.Equal(t, 3, c["media"])
	assert.Equal(t, 2, c["drafts"])
	assert.Equal(t, 1, c["subjects"])

	// A's media files are gone from the media directory; B's remain.
	assert.Len(t, mediaFilesIn(t, h.dir), 3, "only B's three media files are left")
	for _, m := range seededMediaOf(t, h, b.sub.ID) {
		assert.NotEmpty(t, h.readMedia(m.ID), "B's media still open")
	}

	// Raw bytes: database files, media files and captured logs hold
	// nothing of A.
	blobs := readFiles(t, storeFiles(h.dir))
	require.Contains(t, blobs, store.MainFile)
	require.Contains(t, blobs, store.KeysFile)
	blobs["logs"] = h.logs.Bytes()
	require.NotEmpty(t, blobs["logs"])
	assert.Empty(t, scan(t, blobs, append(a.needles(), a.mediaNeedles()...)))
	// The scan itself works: a blob holding the needles is caught.
	assert.Len(t, scan(t, map[string][]byte{"control": []byte(strings.Join(a.needles(), " "))}, a.needles()), len(a.needles()))

	// Proof 2: the old copy of the main db, opened with today's keys, holds
	// A's rows but cannot decrypt them; B's still open (the copy is sound).
	copyFile(t, filepath.Join(h.dir, store.KeysFile), filepath.Join(backup, store.KeysFile))
	old, err := store.New(store.Options{Dir: backup, MasterKey: storetest.MasterKey(), Now: h.clock.Now, Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, old.Open(context.Background()))
	defer old.Close()
	assert.Equal(t, before["messages"], rowsOf(t, backup, a.sub.ID)["messages"], "the copy still has A's ciphertext")
	var got []string
	err = old.ExportSubject(h.ctx, a.sub.ID, func(kind string, v any) error {
		if m, ok := v.(bot.Message); ok {
			got = append(got, m.Text)
		}
		return nil
	})
	assert.Error(t, err, "A's key is gone")
	assert.Empty(t, got)
	_, err = old.FindSubject(h.ctx, a.sub.ID)
	assert.Error(t, err)
	var bText []string
	require.NoError(t, old.ExportSubject(h.ctx, b.sub.ID, func(kind string, v any) error {
		if m, ok := v.(bot.Message); ok && m.Kind == bot.KindText {
			bText = append(bText, m.Text)
		}
		return nil
	}))
	require.Len(t, bText, 2)
	assert.Contains(t, bText[0], b.planted)
}

// Proof 1, the requester is told in the same chat even though they are gone;
// a second /forget me later starts a new record.
func TestProofForgetMeThenNewData(t *testing.T) {
	h := newHarness(t)
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	h.must(a.sub, "/forget me")
	h.must(a.sub, "YES")
	again := h.customer(a.phone, a.lid, a.name)
	assert.NotEqual(t, a.sub.ID, again.ID, "a returning customer is a new subject")
	assert.NotContains(t, h.exportOf(again.ID), a.planted)
}

// Proof 4: the export validates against its schema and holds exactly A's
// data (golden file; run with -update to rewrite it).
func TestProofExportGolden(t *testing.T) {
	h := newHarness(t)
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	b := seedPerson(t, h, "+447700900222", "98765432202@lid", "Bob Bobolink", "PLANTED-BRAVO-91d2")
	h.must(a.sub, "/stop")
	h.clock.Add(time.Minute)
	r := h.must(a.sub, "/export")
	require.NotNil(t, r.File)
	doc := validateExport(t, r.File.Data)

	for _, n := range b.needles() {
		assert.NotContains(t, string(r.File.Data), n, "B's data is not in A's export")
	}
	assert.NotContains(t, string(r.File.Data), string(b.sub.ID))
	subjects := doc["subjects"].([]any)
	require.Len(t, subjects, 1)
	one := subjects[0].(map[string]any)
	assert.Len(t, one["identities"], 2)
	assert.Len(t, one["messages"], 2)
	assert.Len(t, one["drafts"], 2)
	assert.Len(t, one["decisions"], 2, "the edit and the template")
	assert.Len(t, one["outbox"], 2, "the reply and the template")
	assert.Len(t, one["cards"], 1)

	// Subject ids are random: name them before comparing.
	got := strings.ReplaceAll(string(r.File.Data), string(a.sub.ID), "s_A")
	var pretty bytes.Buffer
	require.NoError(t, indentJSON(&pretty, []byte(got)))
	golden := filepath.Join("testdata", "export.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), pretty.String())
}

func indentJSON(dst *bytes.Buffer, src []byte) error {
	if err := json.Indent(dst, src, "", "  "); err != nil {
		return err
	}
	dst.WriteByte('\n')
	return nil
}
