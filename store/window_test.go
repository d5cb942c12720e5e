package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestLastInbound checks the query a reply window is measured from: the
// newest inbound message of the chat (the platform's time), not our
// replies, not other chats, and zero for a chat that never wrote.
func TestLastInbound(t *testing.T) {
	db, clock := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ann", "Hello", "Hi Ann")
	chat := f.msg.Chat

	got, err := db.LastInbound(ctx, bot.WhatsApp, chat)
	require.NoError(t, err)
	assert.True(t, got.Equal(f.msg.SentAt), "got %v, want %v", got, f.msg.SentAt)

	// A later message from the customer moves it; our reply does not.
	later := f.msg.SentAt.Add(3 * time.Hour)
	_, dup, err := db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: chat, PlatformID: "wamid.2",
		Dir: bot.In, Kind: bot.KindText, Text: "Still there?", SentAt: later})
	require.NoError(t, err)
	require.False(t, dup)
	clock.Add(5 * time.Hour)
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve, By: staff("1"), At: clock.Now()}))
	items, err := db.DueOutbox(ctx, clock.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.NoError(t, db.MarkSent(ctx, items[0].ID, "wamid.out", clock.Now()))

	got, err = db.LastInbound(ctx, bot.WhatsApp, chat)
	require.NoError(t, err)
	assert.True(t, got.Equal(later), "got %v, want %v", got, later)
	view, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.True(t, view.LastInbound.Equal(later), "the draft view carries it")

	for name, c := range map[string]struct {
		p    bot.Platform
		chat bot.ChatID
	}{
		"OtherChat":     {bot.WhatsApp, "447700900999@s.whatsapp.net"},
		"OtherPlatform": {bot.Teams, chat},
	} {
		got, err := db.LastInbound(ctx, c.p, c.chat)
		require.NoError(t, err, name)
		assert.True(t, got.IsZero(), name)
	}
}

// TestLastInboundUsesIndex keeps the query off a table scan.
func TestLastInboundUsesIndex(t *testing.T) {
	db, _ := openTest(t)
	_, read, _, err := db.handles()
	require.NoError(t, err)
	rows, err := read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN SELECT MAX(sent_at) FROM messages WHERE platform = ? AND chat_bidx = ? AND dir = 'in'", "whatsapp", []byte("x"))
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, strings.Join(plan, "\n"), "USING INDEX", "plan: %v", plan)
}
