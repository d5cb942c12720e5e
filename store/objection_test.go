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

// Every stored message records whether its subject objected to AI (/stop)
// when it was stored, through every insert path (SaveInbound, Ingest, a sent
// reply), and keeps it after /start.
func TestMessageRecordsObjectionWhenStored(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	phone := "+447700900311"
	chat := bot.ChatID("447700900311@s.whatsapp.net")
	in := bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}}, Role: bot.RoleCustomer}
	msg := func(id, text string) bot.Message {
		return bot.Message{Platform: bot.WhatsApp, Chat: chat, PlatformID: bot.MessageID(id), Text: text, SentAt: db.now()}
	}
	sub, _, _, err := db.Ingest(ctx, in, msg("m1", "before"))
	require.NoError(t, err)

	require.NoError(t, db.SetAIRestricted(ctx, sub.ID, true))
	_, _, _, err = db.Ingest(ctx, in, msg("m2", "ingested while objecting"))
	require.NoError(t, err)
	m3 := msg("m3", "saved while objecting")
	m3.Subject = sub.ID
	_, _, err = db.SaveInbound(ctx, m3)
	require.NoError(t, err)
	f := newFixture(t, db, phone, "", "question while objecting", "reply")
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve, By: staff("a"), At: db.now()}))
	due, err := db.DueOutbox(ctx, db.now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.NoError(t, db.MarkSent(ctx, due[0].ID, "out-1", db.now()))

	require.NoError(t, db.SetAIRestricted(ctx, sub.ID, false))
	_, _, _, err = db.Ingest(ctx, in, msg("m4", "after"))
	require.NoError(t, err)

	hist, err := db.History(ctx, sub.ID, chat, 0, 100)
	require.NoError(t, err)
	got := map[string]bool{}
	for _, m := range hist {
		got[m.Text] = m.AIRestricted
	}
	assert.Equal(t, map[string]bool{
		"before":                   false,
		"ingested while objecting": true,
		"saved while objecting":    true,
		"question while objecting": true,
		"reply":                    true,
		"after":                    false,
	}, got)

	view, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.True(t, view.Message.AIRestricted, "a draft's message carries the flag for redrafts")
}

// Migration 005 marks the existing messages of subjects who object today.
func TestMigrationMarksMessagesOfObjectingSubjects(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := openAt(t, dir, newClock().Now)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900312", "", "old message", "draft")
	require.NoError(t, db.SetAIRestricted(ctx, f.customer.ID, true))
	write, _, _, err := db.handles()
	require.NoError(t, err)
	_, err = write.ExecContext(ctx, "UPDATE messages SET ai_restricted = 0; DELETE FROM schema_migrations WHERE version = 5; DROP TRIGGER messages_ai_restricted")
	require.NoError(t, err)
	_, err = write.ExecContext(ctx, "ALTER TABLE messages DROP COLUMN ai_restricted")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db = openAt(t, dir, newClock().Now)
	var flag sql.NullInt64
	_, read, _, err := db.handles()
	require.NoError(t, err)
	require.NoError(t, read.QueryRowContext(ctx, "SELECT ai_restricted FROM messages WHERE id = ?", f.msg.ID).Scan(&flag))
	assert.Equal(t, int64(1), flag.Int64)
}
