package main

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/switchboard/switchboard/bot"
)

// TestForgetMeFollowsTheLIDMap builds the production channels (WhatsApp
// on) over a data dir whose whatsmeow LID map pairs a LID with a phone
// number that are two subjects in the store; /forget me from the number
// erases both, because the WhatsApp channel is wired as a resolver.
func TestForgetMeFollowsTheLIDMap(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	metrics := NewMetrics()
	db := newTestDB(t)
	app := &App{
		Config: cfg, Log: zerolog.Nop(), Store: db, Metrics: metrics,
		Health: NewHealth(nil, metrics.ComponentReady), Mux: http.NewServeMux(), ListenAddr: "127.0.0.1:3978",
	}
	_, err := buildChannels(app)
	require.NoError(t, err)

	// whatsmeow learned the pair (as it does from a message's sender_pn).
	wdb, err := sql.Open("sqlite3", "file:"+filepath.Join(cfg.DataDir, "whatsapp.db")+"?_foreign_keys=on")
	require.NoError(t, err)
	container := sqlstore.NewWithDB(wdb, "sqlite3", nil)
	require.NoError(t, container.Upgrade(ctx))
	lid := types.JID{User: "123456789012345", Server: types.HiddenUserServer}
	pn := types.JID{User: "447700900123", Server: types.DefaultUserServer}
	require.NoError(t, container.LIDMap.PutLIDMapping(ctx, lid, pn))
	require.NoError(t, wdb.Close())

	byLID, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDLID, Value: "123456789012345@lid"}}})
	require.NoError(t, err)
	byPhone, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}})
	require.NoError(t, err)
	for i, s := range []bot.Subject{byLID, byPhone} {
		_, _, err := db.SaveInbound(ctx, bot.Message{Subject: s.ID, Platform: bot.WhatsApp, Chat: "chat", PlatformID: bot.MessageID(rune('a' + i)), Text: "hello", SentAt: time.Now()})
		require.NoError(t, err)
	}

	say := func(text string) bot.Reply {
		t.Helper()
		// Asked in a chat of no connected channel, so the confirmation is
		// the reply (the WhatsApp channel is built, not running).
		req := bot.CommandRequest{Text: text, Subject: byPhone, Platform: "test", Chat: "chat-1", At: time.Now()}
		if cmd, ok := bot.ParseCommand(text); ok {
			req.Command = cmd
			r, err := app.Commands.Handle(ctx, req)
			require.NoError(t, err)
			return r
		}
		r, handled, err := app.Commands.Intercept(ctx, req)
		require.NoError(t, err)
		require.True(t, handled)
		return r
	}
	assert.Contains(t, say("/forget me").Text, "2 messages")
	assert.Contains(t, say("YES").Text, "From our database: 2 messages")
	for _, s := range []bot.Subject{byLID, byPhone} {
		_, err := db.FindSubject(ctx, s.ID)
		assert.ErrorIs(t, err, bot.ErrNotFound)
	}
}
