package store

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// Sealed fields are bound to their row: someone who can write
// switchboard.db but holds no key cannot move one row's ciphertext into
// another row of the same subject (same key, same table and column) and
// have the store read it as that row's. Each test writes two rows through
// the API, swaps a sealed column directly in SQLite, and reads both rows
// back through the API: each read fails as not authenticating (never
// yields the other row's value); swapped back, both read again.

// swapSealed exchanges column col of rows a and b of table in SQLite.
func swapSealed(t *testing.T, db *DB, table, col string, a, b int64) {
	t.Helper()
	ctx := context.Background()
	var va, vb []byte
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT "+col+" FROM "+table+" WHERE id = ?", a).Scan(&va))
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT "+col+" FROM "+table+" WHERE id = ?", b).Scan(&vb))
	require.NotEmpty(t, va, "%s.%s of row %d", table, col, a)
	require.NotEmpty(t, vb, "%s.%s of row %d", table, col, b)
	require.False(t, bytes.Equal(va, vb))
	for _, u := range []struct {
		v  []byte
		id int64
	}{{vb, a}, {va, b}} {
		_, err := db.write.ExecContext(ctx, "UPDATE "+table+" SET "+col+" = ? WHERE id = ?", u.v, u.id)
		require.NoError(t, err)
	}
}

// swapped swaps table.col of rows a and b, checks that read fails on each
// as not authenticating, and swaps them back.
func swapped(t *testing.T, db *DB, table, col string, a, b int64, read func(id int64) error) {
	t.Helper()
	require.NoError(t, read(a), "%s.%s: row %d reads before the swap", table, col, a)
	require.NoError(t, read(b), "%s.%s: row %d reads before the swap", table, col, b)
	swapSealed(t, db, table, col, a, b)
	for _, id := range []int64{a, b} {
		assert.ErrorIs(t, read(id), errOpen, "%s.%s: row %d holds row %d's value", table, col, id, a+b-id)
	}
	swapSealed(t, db, table, col, a, b)
	require.NoError(t, read(a), "%s.%s: row %d reads once swapped back", table, col, a)
	require.NoError(t, read(b), "%s.%s: row %d reads once swapped back", table, col, b)
}

// messageIDOut is the row id of the outbound message sent with platform id.
func messageIDOut(t *testing.T, db *DB, pid string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, db.read.QueryRowContext(context.Background(), "SELECT id FROM messages WHERE dir = 'out' AND platform_id = ?", pid).Scan(&id))
	return id
}

// approveAndSend approves the draft and marks its reply sent as pid; it
// returns the outbox row.
func approveAndSend(t *testing.T, db *DB, draftID int64, pid string) int64 {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: draftID, Kind: bot.Approve}))
	var ob int64
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT id FROM outbox WHERE draft_id = ?", draftID).Scan(&ob))
	require.NoError(t, db.MarkSent(ctx, ob, bot.MessageID(pid), db.now()))
	return ob
}

// TestSwappedMessageFieldsDoNotOpen covers every path that writes a
// message row: Ingest, SaveInbound alone and with an attachment, and the
// outbound copy MarkSent writes.
func TestSwappedMessageFieldsDoNotOpen(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "first: is the blue bike ready?", "Yes, since Monday.")
	in := bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Name: "Ada"}
	_, ingested, _, err := db.Ingest(ctx, in, bot.Message{Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: "M2",
		Text: "second: and the red one?", SentAt: db.now()})
	require.NoError(t, err)
	withMedia, _, err := db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: "M3",
		Kind: bot.KindImage, Text: "third: a photo", Media: &bot.MediaRef{MIME: "image/jpeg", ID: "cloud-3"}, SentAt: db.now()})
	require.NoError(t, err)
	approveAndSend(t, db, f.draftID, "wamid.OUT1")
	out := messageIDOut(t, db, "wamid.OUT1")

	read := func(id int64) error { _, err := db.FindMessage(ctx, id); return err }
	for _, col := range []string{"chat", "text"} {
		swapped(t, db, "messages", col, f.msg.ID, ingested, read)
		swapped(t, db, "messages", col, withMedia, out, read)
	}
}

// TestSwappedDraftFieldsDoNotOpen: drafts from CreateDraft, and from
// StartDraft then ReviseDraft.
func TestSwappedDraftFieldsDoNotOpen(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "is the blue bike ready?", "Yes, since Monday.")
	m2 := bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: "M2", Text: "and the red one?", SentAt: db.now()}
	var err error
	m2.ID, _, err = db.SaveInbound(ctx, m2)
	require.NoError(t, err)
	d2, err := db.StartDraft(ctx, m2)
	require.NoError(t, err)
	require.NoError(t, db.ReviseDraft(ctx, d2.ID, bot.DraftPending, "The red one is ready on Friday.",
		&bot.DraftResult{Text: "The red one is ready on Friday.", Intent: "status"}))

	read := func(id int64) error { _, err := db.LoadDraft(ctx, id); return err }
	for _, col := range []string{"chat", "text", "result"} {
		swapped(t, db, "drafts", col, f.draftID, d2.ID, read)
	}
}

// TestSwappedDecisionFieldsDoNotOpen: two edits of one customer's drafts
// by one staff member (the edited text under the customer's key, who
// decided under the staff member's).
func TestSwappedDecisionFieldsDoNotOpen(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "is the blue bike ready?", "Yes.")
	d2, err := db.CreateDraft(ctx, bot.Draft{MessageID: f.msg.ID, Text: "Yes, it is."})
	require.NoError(t, err)
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Edit, Text: "Yes, since Monday.", By: staff("1"), ByName: "Sam One"}))
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: d2, Kind: bot.Edit, Text: "Ready on Friday.", By: staff("1"), ByName: "Sam Uno"}))
	decision := func(draft int64) int64 {
		var id int64
		require.NoError(t, db.read.QueryRowContext(ctx, "SELECT id FROM decisions WHERE draft_id = ?", draft).Scan(&id))
		return id
	}
	byDecision := map[int64]int64{decision(f.draftID): f.draftID, decision(d2): d2}
	read := func(id int64) error { _, err := db.LoadDraft(ctx, byDecision[id]); return err }
	for _, col := range []string{"text", "by_ident", "by_name"} {
		swapped(t, db, "decisions", col, decision(f.draftID), decision(d2), read)
	}
}

// TestSwappedOutboxFieldsDoNotOpen: outbox rows of an approval, a
// closed-hours reply and a template.
func TestSwappedOutboxFieldsDoNotOpen(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "is the blue bike ready?", "Yes, since Monday.")
	d2, err := db.CreateDraft(ctx, bot.Draft{MessageID: f.msg.ID, Text: "Ready."})
	require.NoError(t, err)
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve}))
	queued, err := db.QueueClosedAck(ctx, bot.ClosedAck{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, MessageID: f.msg.ID,
		Until: db.now().Add(time.Hour), Text: "We are closed until 9; we will answer then."})
	require.NoError(t, err)
	require.True(t, queued)
	require.NoError(t, db.QueueTemplate(ctx, bot.Decision{DraftID: d2, Kind: bot.SendTemplate}, bot.Template{Name: "follow_up", Language: "en_GB"}))
	row := func(where string) int64 {
		var id int64
		require.NoError(t, db.read.QueryRowContext(ctx, "SELECT id FROM outbox WHERE "+where).Scan(&id))
		return id
	}
	reply, ack, tpl := row("draft_id = "+strconv.FormatInt(f.draftID, 10)), row("draft_id IS NULL"), row("kind = 'template'")

	// Reading one row is MarkSent's; it changes nothing when the row does
	// not open. DueOutbox reads them all once swapped back.
	read := func(id int64) error {
		if err := db.MarkSent(ctx, id, "", db.now()); err != nil {
			return err
		}
		_, err := db.DueOutbox(ctx, db.now().Add(time.Hour), 10)
		return err
	}
	readAll := func(int64) error { _, err := db.DueOutbox(ctx, db.now().Add(time.Hour), 10); return err }
	for _, col := range []string{"chat", "text"} {
		swapSealed(t, db, "outbox", col, reply, ack)
		for _, id := range []int64{reply, ack} {
			assert.ErrorIs(t, read(id), errOpen, "outbox.%s of row %d", col, id)
		}
		swapSealed(t, db, "outbox", col, reply, ack)
		require.NoError(t, readAll(0))
	}
	swapSealed(t, db, "outbox", "chat", reply, tpl)
	for _, id := range []int64{reply, tpl} {
		assert.ErrorIs(t, read(id), errOpen, "outbox.chat of row %d", id)
	}
}

// TestSwappedIdentityValuesDoNotOpen: identities from ResolveSubject and
// from Ingest.
func TestSwappedIdentityValuesDoNotOpen(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"},
		{Kind: bot.IDLID, Value: "123456789@lid"}}})
	require.NoError(t, err)
	b, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900456"},
		{Kind: bot.IDLID, Value: "987654321@lid"}}}, bot.Message{Platform: bot.WhatsApp, Chat: "447700900456@s.whatsapp.net", PlatformID: "M1", Text: "hi"})
	require.NoError(t, err)
	for _, s := range []bot.SubjectID{a.ID, b.ID} {
		ids, err := queryIDs(ctx, db.read, "SELECT id FROM identities WHERE subject_id = ? ORDER BY id", string(s))
		require.NoError(t, err)
		require.Len(t, ids, 2)
		read := func(int64) error { _, err := db.Identities(ctx, s); return err }
		swapped(t, db, "identities", "value", ids[0], ids[1], read)
	}
}

// TestSwappedMediaFieldsDoNotOpen: two attachments of one message, as
// recorded, fetched and transcribed.
func TestSwappedMediaFieldsDoNotOpen(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "two files", "Thanks.")
	a, b := mediaFor(t, db, f, "quote.pdf"), mediaFor(t, db, f, "invoice.pdf")
	require.NoError(t, db.SetMediaTranscript(ctx, a, "the transcript of a"))
	for i, id := range []int64{a, b} {
		require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{MIME: "application/pdf", Thumb: []byte{0xff, 0xd8, byte(i)},
			Transcript: "said in " + strconv.FormatInt(id, 10)}, bytes.NewReader(plantedBytes(1000+i, "PDF", uint64(i))), 1<<20))
	}
	require.NoError(t, db.SetMediaTranscript(ctx, b, "the transcript of b"))

	read := func(id int64) error { _, err := db.FindMedia(ctx, id); return err }
	for _, col := range []string{"sha256", "name", "ref", "thumb", "transcript"} {
		swapped(t, db, "media", col, a, b, read)
	}
	swapped(t, db, "media", "file_key", a, b, func(id int64) error { _, err := db.ReadMedia(ctx, id, 1<<20); return err })
}

// TestSwappedCardRemovalsDoNotOpen: the card places an erasure keeps
// (sealed under the store's key, no subject) are bound to their rows too.
func TestSwappedCardRemovalsDoNotOpen(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "hello", "Hello!")
	d2, err := db.CreateDraft(ctx, bot.Draft{MessageID: f.msg.ID, Text: "Hi."})
	require.NoError(t, err)
	require.NoError(t, db.SaveCard(ctx, f.draftID, bot.CardRef{Conversation: "conv", ActivityID: "act-1"}))
	require.NoError(t, db.SaveCard(ctx, d2, bot.CardRef{Conversation: "conv", ActivityID: "act-2"}))
	_, err = db.DeleteSubject(ctx, f.customer.ID)
	require.NoError(t, err)
	ids, err := queryIDs(ctx, db.read, "SELECT id FROM card_removals ORDER BY id")
	require.NoError(t, err)
	require.Len(t, ids, 2)
	read := func(int64) error { _, err := db.PendingCardRemovals(ctx, 10); return err }
	swapped(t, db, "card_removals", "ref", ids[0], ids[1], read)
}

// TestSwappedFieldsAfterMergeDoNotOpen: rows a merge moved to another
// subject are re-sealed bound to the same rows.
func TestSwappedFieldsAfterMergeDoNotOpen(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	lid := bot.Identity{Kind: bot.IDLID, Value: "987654321@lid"}
	a, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{lid}})
	require.NoError(t, err)
	_, _, err = db.SaveInbound(ctx, bot.Message{Subject: a.ID, Platform: bot.WhatsApp, Chat: "987654321@lid", PlatformID: "L1", Text: "via lid"})
	require.NoError(t, err)
	clk.Add(time.Minute) // the newer subject moves into the older
	b := newFixture(t, db, "+447700900321", "Bea", "via phone, first", "draft one")
	second, _, err := db.SaveInbound(ctx, bot.Message{Subject: b.customer.ID, Platform: bot.WhatsApp, Chat: b.msg.Chat, PlatformID: "P2",
		Text: "via phone, second"})
	require.NoError(t, err)
	merged, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900321"}, lid}})
	require.NoError(t, err)
	require.Equal(t, a.ID, merged.ID)

	read := func(id int64) error { _, err := db.FindMessage(ctx, id); return err }
	swapped(t, db, "messages", "text", b.msg.ID, second, read)
	ids, err := queryIDs(ctx, db.read, "SELECT id FROM identities WHERE subject_id = ? ORDER BY id", string(a.ID))
	require.NoError(t, err)
	require.Len(t, ids, 2)
	swapped(t, db, "identities", "value", ids[0], ids[1], func(int64) error { _, err := db.Identities(ctx, a.ID); return err })
}

// TestSwappedScrubbedCommandsDoNotOpen: the data task that re-seals stored
// commands binds them to their rows.
func TestSwappedScrubbedCommandsDoNotOpen(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	admin, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDTeams, Value: "aad-admin"}}, Role: bot.RoleAdmin})
	require.NoError(t, err)
	var ids []int64
	for i, text := range []string{"/forget 07700 900987", "/export whatsapp-lid:123456789@lid"} {
		id, _, err := db.SaveInbound(ctx, bot.Message{Subject: admin.ID, Platform: bot.Teams, Chat: "a:admin", PlatformID: bot.MessageID(rune('a' + i)), Text: text})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	n, err := db.scrubCommandText(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	swapped(t, db, "messages", "text", ids[0], ids[1], func(id int64) error { _, err := db.FindMessage(ctx, id); return err })
}

// sealV1 seals as the store did before rows were bound (format 1).
func sealV1(sk *subjectKey, table, column string, pt []byte) []byte {
	return sk.aead.Seal([]byte{fieldFormatV1}, nil, pt, fieldAADV1(sk.id, table, column))
}

// TestFieldBoundToRow: a field opens for its own row only; relabelled as
// format 1 it does not open either (no way around the row).
func TestFieldBoundToRow(t *testing.T) {
	aead, err := newAEAD(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	sk := &subjectKey{id: "s_one", aead: aead}
	sealed := sk.seal("messages", "text", rowID(7), []byte("seven"))
	require.Equal(t, byte(fieldFormat), sealed[0])
	pt, err := sk.open("messages", "text", rowID(7), sealed)
	require.NoError(t, err)
	assert.Equal(t, "seven", string(pt))
	for _, row := range []rowKey{rowID(8), rowID(70), rowID(0), "s_one", ""} {
		_, err := sk.open("messages", "text", row, sealed)
		assert.ErrorIs(t, err, errOpen, "row %q", row)
	}
	relabelled := append([]byte{fieldFormatV1}, sealed[1:]...)
	_, err = sk.open("messages", "text", rowID(7), relabelled)
	assert.ErrorIs(t, err, errOpen, "a format-2 field read as format 1")

	kr, err := newKeyring(testKey, 1)
	require.NoError(t, err)
	ref := kr.sealRow("card_removals", "ref", 3, []byte("ref"))
	_, err = kr.openRow("card_removals", "ref", 3, ref)
	require.NoError(t, err)
	_, err = kr.openRow("card_removals", "ref", 4, ref)
	assert.ErrorIs(t, err, errOpen)
}

// TestFormatOneFieldsOpenUntilResealed: fields sealed before rows were
// bound (format 1) are read as before, in every table, while the data task
// reseal-rows is pending (as during Open, before it ran), and the next
// write of a field seals it bound to its row; once the task is done, none
// opens (TestOpenReseals… reach that state through Open).
func TestFormatOneFieldsOpenUntilResealed(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	db.keys.fieldV1.Store(true)
	f := newFixture(t, db, "+447700900123", "Ada", "new text", "new draft")
	require.NoError(t, db.SaveCard(ctx, f.draftID, bot.CardRef{Conversation: "conv", ActivityID: "act-1"}))
	mid := mediaFor(t, db, f, "new.pdf")
	sk, err := db.subjectKey(ctx, f.customer.ID)
	require.NoError(t, err)
	var identity int64
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT id FROM identities WHERE subject_id = ?", string(f.customer.ID)).Scan(&identity))
	old := func(table, col, where string, arg any, pt string) {
		_, err := db.write.ExecContext(ctx, "UPDATE "+table+" SET "+col+" = ? WHERE "+where, sealV1(sk, table, col, []byte(pt)), arg)
		require.NoError(t, err)
	}
	old("messages", "text", "id = ?", f.msg.ID, "old text")
	old("messages", "chat", "id = ?", f.msg.ID, string(f.msg.Chat))
	old("drafts", "text", "id = ?", f.draftID, "old draft")
	old("identities", "value", "id = ?", identity, "+447700900123")
	old("subjects", "name", "id = ?", string(f.customer.ID), "Old Ada")
	old("media", "name", "id = ?", mid, "old.pdf")

	m, err := db.FindMessage(ctx, f.msg.ID)
	require.NoError(t, err)
	assert.Equal(t, "old text", m.Text)
	assert.Equal(t, f.msg.Chat, m.Chat)
	v, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, "old draft", v.Draft.Text)
	assert.Equal(t, "Old Ada", v.Customer.Name)
	assert.Equal(t, "+447700900123", v.Phone)
	md, err := db.FindMedia(ctx, mid)
	require.NoError(t, err)
	assert.Equal(t, "old.pdf", md.FileName)

	// A card removal sealed under the store's key the old way.
	ref := db.keys.store.Seal([]byte{fieldFormatV1}, nil, []byte(`{"Conversation":"old-conv","ActivityID":"old-act"}`),
		[]byte("switchboard/row|card_removals|ref"))
	_, err = db.write.ExecContext(ctx, "INSERT INTO card_removals (ref, created_at) VALUES (?, 0)", ref)
	require.NoError(t, err)
	rs, err := db.PendingCardRemovals(ctx, 10)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, bot.CardRef{Conversation: "old-conv", ActivityID: "old-act"}, rs[0].Ref)

	// Rewritten, the draft's text is bound to its row.
	require.NoError(t, db.ReviseDraft(ctx, f.draftID, bot.DraftPending, "revised", nil))
	var sealed []byte
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT text FROM drafts WHERE id = ?", f.draftID).Scan(&sealed))
	assert.Equal(t, byte(fieldFormat), sealed[0])

	// The task done, format 1 no longer opens.
	db.keys.fieldV1.Store(false)
	_, err = db.FindMessage(ctx, f.msg.ID)
	assert.ErrorIs(t, err, errOpen)
	_, err = db.FindMedia(ctx, mid)
	assert.ErrorIs(t, err, errOpen)
	_, err = db.Identities(ctx, f.customer.ID)
	assert.ErrorIs(t, err, errOpen)
	_, err = db.PendingCardRemovals(ctx, 10)
	assert.ErrorIs(t, err, errOpen)
	_, err = db.LoadDraft(ctx, f.draftID)
	assert.ErrorIs(t, err, errOpen, "the subject's name is still of format 1")
}

// sealedCols are the sealed columns of every table, for a scan.
var sealedCols = map[string][]string{
	"subjects":      {"name"},
	"identities":    {"value"},
	"messages":      {"chat", "text"},
	"drafts":        {"chat", "text", "result"},
	"decisions":     {"by_ident", "by_name", "text"},
	"outbox":        {"chat", "text"},
	"media":         {"sha256", "name", "ref", "file_key", "thumb", "transcript"},
	"card_removals": {"ref"},
}

// TestNewFieldsAreFormatTwo: after a day's work through the API (every
// path that seals, a merge, an erasure's card removal), every sealed value
// in the database is of format 2 and opens for its own row.
func TestNewFieldsAreFormatTwo(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	merged := dayOfWork(t, db)

	seen := 0
	walkSealed(t, db, func(table, col string, v []byte) {
		assert.Equal(t, byte(2), v[0], "%s.%s: format 2, bound to its row", table, col)
		seen++
	})
	assert.Greater(t, seen, 25)
	// And all of it reads.
	require.NoError(t, db.ExportSubject(ctx, merged, func(string, any) error { return nil }))
	_, err := db.PendingCardRemovals(ctx, 10)
	require.NoError(t, err)
}

// dayOfWork writes through the API with every path that seals (ingest
// with media, drafts, a rename, fetched media bytes, a transcript, an
// edit, a sent reply), a merge and an erasure that leaves a card removal.
// It returns the merged subject.
func dayOfWork(t testing.TB, db *DB) bot.SubjectID {
	t.Helper()
	ctx := context.Background()
	lid := bot.Identity{Kind: bot.IDLID, Value: "987654321@lid"}
	_, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{lid}, Name: "A by lid"},
		bot.Message{Platform: bot.WhatsApp, Chat: "987654321@lid", PlatformID: "L1", Text: "via lid", Kind: bot.KindImage,
			Media: &bot.MediaRef{MIME: "image/jpeg", ID: "cloud-1", Filename: "a.jpg"}})
	require.NoError(t, err)
	f := newFixture(t, db, "+447700900321", "Bea", "via phone", "draft for bea")
	require.NoError(t, db.SetName(ctx, f.customer.ID, "Bea B"))
	mid := mediaFor(t, db, f, "quote.pdf")
	require.NoError(t, db.SaveMediaBytes(ctx, mid, bot.MediaContent{MIME: "application/pdf", Thumb: []byte{1, 2}, Transcript: "said"},
		bytes.NewReader([]byte("%PDF")), 1<<20))
	require.NoError(t, db.SetMediaTranscript(ctx, mid, "said again"))
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Edit, Text: "edited", By: staff("1"), ByName: "Sam"}))
	var ob int64
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT id FROM outbox WHERE draft_id = ?", f.draftID).Scan(&ob))
	require.NoError(t, db.MarkSent(ctx, ob, "wamid.1", db.now()))
	merged, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900321"}, lid}})
	require.NoError(t, err)
	g := newFixture(t, db, "+447700900999", "Gone", "bye", "bye")
	require.NoError(t, db.SaveCard(ctx, g.draftID, bot.CardRef{Conversation: "conv", ActivityID: "act"}))
	_, err = db.DeleteSubject(ctx, g.customer.ID)
	require.NoError(t, err)
	return merged.ID
}

// walkSealed calls fn with every sealed value in the database (not NULL).
func walkSealed(t testing.TB, db *DB, fn func(table, col string, v []byte)) {
	t.Helper()
	ctx := context.Background()
	for table, cols := range sealedCols {
		for _, col := range cols {
			rows, err := db.read.QueryContext(ctx, "SELECT "+col+" FROM "+table+" WHERE "+col+" IS NOT NULL")
			require.NoError(t, err)
			for rows.Next() {
				var v []byte
				require.NoError(t, rows.Scan(&v))
				require.NotEmpty(t, v, "%s.%s", table, col)
				fn(table, col, v)
			}
			require.NoError(t, rows.Err())
			rows.Close()
		}
	}
}
