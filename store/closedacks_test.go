package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// ackFor is the closed-hours reply to f's message for the period ending
// at until.
func ackFor(f fixture, until time.Time, text string) bot.ClosedAck {
	return bot.ClosedAck{Subject: f.customer.ID, Platform: f.msg.Platform, Chat: f.msg.Chat, MessageID: f.msg.ID, Until: until, Text: text}
}

// closedItems returns the due outbox items tied to no draft.
func closedItems(t *testing.T, db *DB) []bot.OutboxItem {
	t.Helper()
	items, err := db.DueOutbox(context.Background(), db.now().Add(time.Hour), 100)
	require.NoError(t, err)
	var out []bot.OutboxItem
	for _, it := range items {
		if it.DraftID == 0 {
			out = append(out, it)
		}
	}
	return out
}

func TestQueueClosedAck(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ann", "is anyone there?", "")
	monday := clk.Now().Add(36 * time.Hour)
	reply := "Thanks for your message. We're closed now; we'll answer from 8:00 on Monday."

	queued, err := db.QueueClosedAck(ctx, ackFor(f, monday, reply))
	require.NoError(t, err)
	require.True(t, queued)
	items := closedItems(t, db)
	require.Len(t, items, 1)
	it := items[0]
	assert.Zero(t, it.DraftID, "tied to no draft")
	assert.Equal(t, f.customer.ID, it.Subject)
	assert.Equal(t, f.msg.Chat, it.Chat)
	assert.Equal(t, reply, it.Text)
	assert.Regexp(t, `^ob_[0-9a-f]{32}$`, it.Key, "a key of its own")

	v, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	require.NotNil(t, v.ClosedReply)
	assert.Equal(t, bot.ClosedReply{Status: bot.StatusPending}, *v.ClosedReply)

	t.Run("OncePerPeriod", func(t *testing.T) {
		clk.Add(10 * time.Minute)
		queued, err := db.QueueClosedAck(ctx, ackFor(f, monday, reply))
		require.NoError(t, err)
		assert.False(t, queued)
		assert.Len(t, closedItems(t, db), 1, "no second outbox row")
	})
	t.Run("OtherChatSamePeriod", func(t *testing.T) {
		g := newFixture(t, db, "+447700900456", "Bob", "hello?", "")
		queued, err := db.QueueClosedAck(ctx, ackFor(g, monday, reply))
		require.NoError(t, err)
		assert.True(t, queued)
		v, err := db.LoadDraft(ctx, f.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusPending, v.ClosedReply.Status, "Ann's card shows Ann's reply")
	})

	clk.Add(time.Minute)
	sentAt := clk.Now()
	require.NoError(t, db.BeginSend(ctx, it.ID, sentAt))
	require.NoError(t, db.MarkSent(ctx, it.ID, "wamid.ACK1", sentAt))
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.ClosedReply{Status: bot.StatusSent, SentAt: sentAt}, *v.ClosedReply)
	_, err = db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, IDs: []bot.MessageID{"wamid.ACK1"}, Status: bot.StatusRead, At: clk.Now().Add(time.Minute)})
	require.NoError(t, err)
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.ClosedReply{Status: bot.StatusRead, SentAt: sentAt}, *v.ClosedReply, "a receipt keeps the time it was sent")

	// A later message of the same closed period shows the same reply; one
	// after the business opened does not.
	later := func(id string) int64 {
		m := f.msg
		m.PlatformID, m.Text, m.SentAt = bot.MessageID(id), "more", clk.Now()
		mid, _, err := db.SaveInbound(ctx, m)
		require.NoError(t, err)
		d, err := db.CreateDraft(ctx, bot.Draft{Subject: f.customer.ID, MessageID: mid, Platform: m.Platform, Chat: m.Chat})
		require.NoError(t, err)
		return d
	}
	clk.Add(time.Hour)
	sameNight := later("LATER1")
	v, err = db.LoadDraft(ctx, sameNight)
	require.NoError(t, err)
	require.NotNil(t, v.ClosedReply)
	assert.Equal(t, sentAt, v.ClosedReply.SentAt)
	info, err := db.ClosedAckOf(ctx, it.ID)
	require.NoError(t, err)
	assert.Equal(t, bot.ClosedAckInfo{Until: monday, Drafts: []int64{f.draftID, sameNight}}, info)

	clk.Add(monday.Add(time.Minute).Sub(clk.Now()))
	open := later("OPEN1")
	v, err = db.LoadDraft(ctx, open)
	require.NoError(t, err)
	assert.Nil(t, v.ClosedReply, "written after opening")
	info, err = db.ClosedAckOf(ctx, it.ID)
	require.NoError(t, err)
	assert.Equal(t, []int64{f.draftID, sameNight}, info.Drafts)

	_, err = db.ClosedAckOf(ctx, 999999)
	assert.ErrorIs(t, err, bot.ErrNotFound, "no closed-hours reply")

	t.Run("Gone", func(t *testing.T) {
		a := ackFor(f, monday.Add(24*time.Hour), reply)
		a.MessageID = 999999
		_, err := db.QueueClosedAck(ctx, a)
		assert.ErrorIs(t, err, bot.ErrNotFound)
	})
	t.Run("SubjectOfTheMessageRow", func(t *testing.T) {
		a := ackFor(f, monday.Add(24*time.Hour), reply)
		a.Subject = bot.NewSubjectID() // as if merged away meanwhile
		queued, err := db.QueueClosedAck(ctx, a)
		require.NoError(t, err)
		require.True(t, queued)
		var subject string
		require.NoError(t, db.read.QueryRow("SELECT subject_id FROM closed_acks ORDER BY id DESC LIMIT 1").Scan(&subject))
		assert.Equal(t, string(f.customer.ID), subject)
	})
	t.Run("UntilUnknown", func(t *testing.T) {
		queued, err := db.QueueClosedAck(ctx, ackFor(f, time.Time{}, "We're closed now and will answer as soon as we're open again."))
		require.NoError(t, err)
		assert.True(t, queued)
		queued, err = db.QueueClosedAck(ctx, ackFor(f, time.Time{}, "again"))
		require.NoError(t, err)
		assert.False(t, queued)
	})
}

// TestClosedAckSurvivesRestart: a period acknowledged by one process is
// not acknowledged again by the next.
func TestClosedAckSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clk := newClock()
	ctx := context.Background()
	db := openAt(t, dir, clk.Now)
	f := newFixture(t, db, "+447700900123", "Ann", "hello", "")
	until := clk.Now().Add(10 * time.Hour)
	queued, err := db.QueueClosedAck(ctx, ackFor(f, until, "closed"))
	require.NoError(t, err)
	require.True(t, queued)
	require.NoError(t, db.Close())

	db = openAt(t, dir, clk.Now)
	queued, err = db.QueueClosedAck(ctx, ackFor(f, until, "closed"))
	require.NoError(t, err)
	assert.False(t, queued)
	assert.Len(t, closedItems(t, db), 1)
}

// TestClosedAckErased: the record names its subject and goes with the
// person, counted as CountSubject said, and the reply's text leaves no
// trace in the files.
func TestClosedAckErased(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	for i := range 20 {
		newFixture(t, db, "+4477009001"+itoa(10+i), "Other", "other message", "other draft")
	}
	f := newFixture(t, db, markerPhone, markerName, markerText, markerDraft)
	other := newFixture(t, db, "+447700900456", "Bob", "hello?", "")
	until := db.now().Add(12 * time.Hour)
	for _, x := range []fixture{f, other} {
		queued, err := db.QueueClosedAck(ctx, ackFor(x, until, "We're closed, "+markerEdit))
		require.NoError(t, err)
		require.True(t, queued)
	}
	items := closedItems(t, db)
	require.Len(t, items, 2)
	for _, it := range items {
		require.NoError(t, db.MarkSent(ctx, it.ID, bot.MessageID("wamid."+string(it.Subject)), db.now()))
	}
	require.NoError(t, db.Checkpoint(ctx))
	require.Empty(t, scanFiles(t, dbFiles(db), markerEdit, "loquat"), "sealed while stored")
	require.NotEmpty(t, scanFiles(t, dbFiles(db), string(db.keys.chatIndex(f.msg.Chat))), "sanity: the scan finds the chat's blind index")

	n, err := db.CountSubject(ctx, f.customer.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n["closed_acks"])
	counts, err := db.DeleteSubject(ctx, f.customer.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, counts["closed_acks"])
	assert.Equal(t, n["outbox"], counts["outbox"])
	var left int
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM closed_acks WHERE subject_id = ?", string(f.customer.ID)).Scan(&left))
	assert.Zero(t, left)
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM closed_acks WHERE subject_id = ?", string(other.customer.ID)).Scan(&left))
	assert.Equal(t, 1, left, "the other customer's record stays")
	assert.Empty(t, scanFiles(t, dbFiles(db), append(markerNeedles(), string(db.keys.chatIndex(f.msg.Chat)))...), "no trace after erasure")

	n, err = db.CountSubject(ctx, other.customer.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n["closed_acks"])
	n, err = db.CountSubject(ctx, bot.NewSubjectID())
	require.NoError(t, err)
	_, has := n["closed_acks"]
	assert.False(t, has, "not counted when there is none")
}

// TestClosedAckMerged: a merge moves the record to the subject that
// stays (the older), so erasing that subject takes it.
func TestClosedAckMerged(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	lid := bot.Identity{Kind: bot.IDLID, Value: "987654321@lid"}
	older, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{lid}})
	require.NoError(t, err)
	clk.Add(time.Minute)
	b := newFixture(t, db, "+447700900321", "Bea", "via phone", "")
	queued, err := db.QueueClosedAck(ctx, ackFor(b, db.now().Add(time.Hour), "closed"))
	require.NoError(t, err)
	require.True(t, queued)

	a, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900321"}, lid}})
	require.NoError(t, err)
	require.Equal(t, older.ID, a.ID, "the older subject stays: the record has to move")
	var subject string
	require.NoError(t, db.read.QueryRow("SELECT subject_id FROM closed_acks").Scan(&subject))
	assert.Equal(t, string(a.ID), subject)
	queued, err = db.QueueClosedAck(ctx, bot.ClosedAck{Subject: a.ID, Platform: b.msg.Platform, Chat: b.msg.Chat, MessageID: b.msg.ID,
		Until: db.now().Add(time.Hour), Text: "closed"})
	require.NoError(t, err)
	assert.False(t, queued, "the merged subject's chat was acknowledged already")
	counts, err := db.DeleteSubject(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, counts["closed_acks"])
}
