package privacy

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
)

// With opening hours set, /privacy says the closed-hours reply is not AI
// and comes after /stop; without, it says nothing about one.
func TestNoticeClosedHoursReply(t *testing.T) {
	off := Policy{}.withDefaults().Notice()
	assert.NotContains(t, off, "opening hours")

	on := Policy{}.withDefaults().withController(Controller{LegalName: "Acme Plumbing Ltd", ClosedHoursReply: true}).Notice()
	lines := strings.Split(on, "\n")
	i := -1
	for n, l := range lines {
		if l == ClosedHoursNotice {
			i = n
		}
	}
	require.Positive(t, i, "the notice has the line:\n%s", on)
	assert.True(t, strings.HasPrefix(lines[i-1], "Your rights:"), "right after the rights, which name /stop")
	assert.Contains(t, lines[i-1], "/stop")
	assert.Len(t, lines, len(strings.Split(off, "\n"))+1)
}

// A closed-hours reply's record is in the person's export (valid against
// the schema) and goes with /forget me, which names it.
func TestClosedHoursReplyExportedAndErased(t *testing.T) {
	h := newHarness(t)
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	acks, ok := h.st.(bot.ClosedAckStore)
	require.True(t, ok, "the real store records closed-hours replies")
	chat := bot.ChatID("447700900111@s.whatsapp.net")
	mid, _, err := h.st.SaveInbound(h.ctx, bot.Message{Subject: a.sub.ID, Platform: bot.WhatsApp, Chat: chat, PlatformID: "WAMID-night",
		Dir: bot.In, Kind: bot.KindText, Text: "Anyone there? " + a.planted, SentAt: h.clock.Now(), Status: bot.StatusReceived})
	require.NoError(t, err)
	opens := time.Date(2026, 2, 2, 8, 0, 0, 0, time.UTC)
	queued, err := acks.QueueClosedAck(h.ctx, bot.ClosedAck{Subject: a.sub.ID, Platform: bot.WhatsApp, Chat: chat, MessageID: mid,
		Until: opens, Text: "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday.", At: h.clock.Now()})
	require.NoError(t, err)
	require.True(t, queued)

	h.clock.Add(time.Minute)
	r := h.must(a.sub, "/export")
	require.NotNil(t, r.File)
	doc := validateExport(t, r.File.Data)
	one := doc["subjects"].([]any)[0].(map[string]any)
	replies := one["closed_hours_replies"].([]any)
	require.Len(t, replies, 1)
	assert.Equal(t, "whatsapp", replies[0].(map[string]any)["platform"])
	assert.Equal(t, "2026-02-02T08:00:00Z", replies[0].(map[string]any)["closed_until"])
	assert.Contains(t, string(r.File.Data), "we'll answer from 8:00 on Monday", "the reply itself is in the outbox")

	h.must(a.sub, "/forget me")
	done := h.must(a.sub, "YES").Text
	assert.Contains(t, done, "1 note of an automatic closed-hours reply")
	assert.Zero(t, countRows(t, h.dir, "SELECT COUNT(*) FROM closed_acks WHERE subject_id = ?1", a.sub.ID))
}

// countRows runs a COUNT query with subject s on the main database.
func countRows(t *testing.T, dir, query string, s bot.SubjectID) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, store.MainFile)+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(query, string(s)).Scan(&n))
	return n
}
