package main

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/privacy"
)

// TestLeftoverLinkedSessionForgotten: with WhatsApp off (or on the
// Business Platform), a whatsapp.db an earlier linked-device deployment
// left in the data directory still holds whatsmeow's rows about people:
// an erasure removes the person's there too, and a forget the linked
// device still owed when that deployment stopped runs at start-up.
func TestLeftoverLinkedSessionForgotten(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	wdb, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "whatsapp.db")+"?_foreign_keys=on&_journal_mode=WAL")
	require.NoError(t, err)
	defer wdb.Close()
	require.NoError(t, sqlstore.NewWithDB(wdb, "sqlite3", nil).Upgrade(ctx))
	_, err = wdb.Exec("INSERT INTO whatsmeow_lid_map (lid, pn) VALUES ('111111111', '447700900123'), ('222222222', '447700900222'), ('333333333', '447700900333')")
	require.NoError(t, err)
	db := newTestDB(t)
	// The linked-device process erased Cy and stopped before its forget.
	cy, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900333"}}, Name: "Cy", Role: bot.RoleCustomer})
	require.NoError(t, err)
	_, _, err = db.EraseSubject(ctx, cy.ID, []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900333"}}, []string{"whatsapp-linked"})
	require.NoError(t, err)

	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.NoWhatsApp = true
	metrics := NewMetrics()
	app := &App{
		Config: cfg, Log: zerolog.Nop(), Store: db, Metrics: metrics,
		Health: NewHealth(nil, metrics.ComponentReady), Mux: http.NewServeMux(), ListenAddr: "127.0.0.1:3978",
	}
	_, err = buildChannels(app)
	require.NoError(t, err)
	_, err = app.Store.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Name: "Ada", Role: bot.RoleCustomer})
	require.NoError(t, err)
	admin, err := app.Store.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000a1"}}, Role: bot.RoleAdmin})
	require.NoError(t, err)
	req := bot.CommandRequest{Subject: admin, Platform: bot.Teams, Chat: "admin-chat", Text: "/forget +447700900123"}
	cmd, ok := bot.ParseCommand(req.Text)
	require.True(t, ok)
	req.Command = cmd
	r, err := app.Commands.Handle(ctx, req)
	require.NoError(t, err)
	require.Contains(t, r.Text, "Reply YES")
	req.Command, req.Text = bot.Command{}, "YES"
	r, handled, err := app.Commands.Intercept(ctx, req)
	require.NoError(t, err)
	require.True(t, handled)
	assert.Contains(t, r.Text, "Done: erased 1 person")

	assert.Zero(t, lidPairs(t, wdb, "447700900123"), "the erased person's LID pair is gone from the leftover session")
	assert.Equal(t, 1, lidPairs(t, wdb, "447700900222"), "the others' are kept")

	// Start-up (the privacy service's Run) runs the forget owed since the
	// linked device stopped.
	svc, ok := app.Commands.(*adminCommands).privacy.(*privacy.Service)
	require.True(t, ok)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool {
		pending, err := app.Store.PendingForgets(ctx)
		require.NoError(t, err)
		return len(pending) == 0
	}, 5*time.Second, 5*time.Millisecond, "nothing is owed")
	assert.Zero(t, lidPairs(t, wdb, "447700900333"), "Cy's LID pair is gone too")
	assert.Equal(t, 1, lidPairs(t, wdb, "447700900222"))
}

// lidPairs counts whatsmeow's LID-map rows of a phone number (digits).
func lidPairs(t *testing.T, db *sql.DB, pn string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM whatsmeow_lid_map WHERE pn = ?", pn).Scan(&n))
	return n
}
