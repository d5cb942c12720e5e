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

// TestOpenScrubsStoredCommands: a database written before commands were
// stored as their name only is cleaned at the next start: "/forget 07700
// 900987" becomes "/forget", other messages are untouched, and the task
// runs once.
func TestOpenScrubsStoredCommands(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	db, err := openIn(t, dir, testKey)
	require.NoError(t, err)
	admin, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDTeams, Value: "aad-admin"}}, Role: bot.RoleAdmin})
	require.NoError(t, err)
	texts := []string{"/forget 07700 900987", "/export whatsapp-lid:123456789@lid", "hello there", "/help", "YES"}
	for i, text := range texts {
		_, _, err := db.SaveInbound(ctx, bot.Message{Subject: admin.ID, Platform: bot.Teams, Chat: "a:admin", PlatformID: bot.MessageID(rune('a' + i)),
			Text: text, SentAt: time.Now()})
		require.NoError(t, err)
	}
	// As an old database: the task is pending.
	_, err = db.write.ExecContext(ctx, "INSERT INTO data_tasks (name) VALUES ('command-text')")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = openIn(t, dir, testKey)
	require.NoError(t, err)
	hist, err := db.History(ctx, admin.ID, "a:admin", 0, 10)
	require.NoError(t, err)
	var got []string
	for _, m := range hist {
		got = append(got, m.Text)
	}
	assert.Equal(t, []string{"/forget", "/export", "hello there", "/help", "YES"}, got)
	var pending int
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT count(*) FROM data_tasks").Scan(&pending))
	assert.Zero(t, pending, "the task ran once")
}
