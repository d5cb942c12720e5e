package main

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/privacy"
	"github.com/switchboard/switchboard/store"
)

// newTestDB opens a fresh store under t.TempDir().
func newTestDB(t *testing.T) *store.DB {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	db, err := store.New(store.Options{Dir: t.TempDir(), MasterKey: key, Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, db.Open(t.Context()))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// runAlerter runs an alerter posting to notifier until the test ends.
func runAlerter(t *testing.T, notifier bot.Notifier) *alerter {
	t.Helper()
	app := &App{Log: zerolog.Nop(), Notifier: notifier}
	a := newAlerter(app)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func TestWhatsAppStateReporter(t *testing.T) {
	notifier := channeltest.NewNotifier()
	health := NewHealth(nil, nil)
	metrics := NewMetrics()
	report := whatsAppStateReporter(health, metrics, runAlerter(t, notifier))

	steps := []struct {
		state     whatsapp.State
		ready     bool
		alertsNow int // alerts posted after this step
	}{
		{whatsapp.StateStarting, false, 0},
		{whatsapp.StateConnected, true, 0},
		{whatsapp.StateDisconnected, false, 0},
		{whatsapp.StateTempBanned, false, 1},
		{whatsapp.StateTempBanned, false, 1}, // same state again (an undecryptable count): no second alert
		{whatsapp.StateConnected, true, 1},
		{whatsapp.StateLoggedOut, false, 2},
		{whatsapp.StateStreamReplaced, false, 3},
		{whatsapp.StateClientOutdated, false, 4},
	}
	for _, s := range steps {
		report(whatsapp.Health{State: s.state, Since: time.Now(), Undecryptable: 2})
		_, comps := health.Snapshot()
		assert.Equal(t, s.ready, comps[compWhatsApp].Ready, "state %s", s.state)
		assert.Equal(t, string(s.state), comps[compWhatsApp].State)
		require.Eventually(t, func() bool { return len(notifier.Alerts()) == s.alertsNow }, 5*time.Second, time.Millisecond,
			"after %s: alerts %q", s.state, notifier.Alerts())
	}
	assert.Contains(t, notifier.Alerts()[1], "logged-out")

	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	assert.Contains(t, body, `switchboard_whatsapp_state{state="client-outdated"} 1`)
	assert.Contains(t, body, `switchboard_whatsapp_state{state="connected"} 0`)
	assert.Contains(t, body, `switchboard_whatsapp_undecryptable 2`)
}

func TestMaintenanceRemindsAndPurges(t *testing.T) {
	db := newTestDB(t)
	ctx := t.Context()
	// The store stamps messages with the real clock: maintenance runs 13
	// months later.
	now := time.Now().UTC().AddDate(0, 13, 0)
	// An open request due in 3 days, and a customer silent for 13 months.
	_, err := db.CreateRequest(ctx, bot.Request{Kind: bot.RequestExport, Scope: "phone", Received: now.AddDate(0, -1, 3), Due: now.AddDate(0, 0, 3), Status: "open"})
	require.NoError(t, err)
	old, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Role: bot.RoleCustomer})
	require.NoError(t, err)
	_, _, err = db.SaveInbound(ctx, bot.Message{Subject: old.ID, Platform: bot.WhatsApp, Chat: "447700900123@s.whatsapp.net", PlatformID: "W1",
		Dir: bot.In, Kind: bot.KindText, Text: "hello", SentAt: time.Now(), StoredAt: time.Now(), Status: bot.StatusReceived})
	require.NoError(t, err)

	svc, err := privacy.New(privacy.Options{Store: db, ExportDir: t.TempDir(), Policy: privacy.Policy{RetentionMonths: 12}, Now: func() time.Time { return now }})
	require.NoError(t, err)
	notifier := channeltest.NewNotifier()
	stale := &fakeStale{}
	// A media file no row points at (left by a crash between an erasure's
	// commit and its unlink).
	require.NoError(t, os.MkdirAll(db.MediaDir(), 0o700))
	orphan := filepath.Join(db.MediaDir(), "0123456789abcdef0123456789abcdef")
	require.NoError(t, os.WriteFile(orphan, []byte("SBMEDIA1"), 0o600))
	m := &maintenance{log: zerolog.Nop(), privacy: svc, whatsapp: stale, media: db, alerts: runAlerter(t, notifier), now: func() time.Time { return now }}
	m.once(ctx)
	assert.NoFileExists(t, orphan, "the media sweep ran")

	require.Eventually(t, func() bool { return len(notifier.Alerts()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Contains(t, notifier.Alerts()[0], "export")
	assert.Equal(t, []time.Duration{staleEventAge}, stale.calls)
	_, err = db.FindSubject(ctx, old.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "the retention purge erased the silent customer")
}

// fakeStale records PurgeStale calls (the WhatsApp channel's seam).
type fakeStale struct{ calls []time.Duration }

func (f *fakeStale) PurgeStale(_ context.Context, maxAge time.Duration) (int, error) {
	f.calls = append(f.calls, maxAge)
	return 0, nil
}

func TestAdminCommandsRefuse(t *testing.T) {
	db := newTestDB(t)
	svc, err := privacy.New(privacy.Options{Store: db, ExportDir: t.TempDir()})
	require.NoError(t, err)
	cmds := &adminCommands{privacy: svc, store: db, log: zerolog.Nop(), profilePath: t.TempDir() + "/profile.json", whatsapp: &fakeUnlinker{}}
	tests := []struct {
		name     string
		platform bot.Platform
		role     bot.Role
		text     string
		want     string
	}{
		{name: "CustomerProfile", platform: bot.WhatsApp, role: bot.RoleCustomer, text: "/profile set name X", want: msgAdminOnly},
		{name: "AdminRoleOnWhatsApp", platform: bot.WhatsApp, role: bot.RoleAdmin, text: "/disconnect whatsapp", want: msgAdminOnly},
		{name: "StaffDisconnect", platform: bot.Teams, role: bot.RoleStaff, text: "/disconnect whatsapp", want: msgAdminOnly},
		{name: "AdminDisconnectUsage", platform: bot.Teams, role: bot.RoleAdmin, text: "/disconnect teams", want: msgDisconnectUsage},
		{name: "AdminDisconnect", platform: bot.Teams, role: bot.RoleAdmin, text: "/disconnect WhatsApp", want: msgDisconnected},
		{name: "AdminProfileBad", platform: bot.Teams, role: bot.RoleAdmin, text: "/profile set colour blue", want: "/profile set <field>"},
		{name: "AdminProfileShow", platform: bot.Teams, role: bot.RoleAdmin, text: "/profile", want: "No AI model is configured"},
		{name: "CustomerHelpHasNoAdminLines", platform: bot.WhatsApp, role: bot.RoleCustomer, text: "/help", want: "/forget me"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			subj, err := db.ResolveSubject(t.Context(), bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDTeams, Value: "id-" + tc.name}}, Role: tc.role})
			require.NoError(t, err)
			cmd, ok := bot.ParseCommand(tc.text)
			require.True(t, ok)
			rep, err := cmds.Handle(t.Context(), bot.CommandRequest{Command: cmd, Text: tc.text, Subject: subj, Platform: tc.platform, At: time.Now()})
			require.NoError(t, err)
			assert.Contains(t, rep.Text, tc.want)
			assert.NotContains(t, rep.Text, "/disconnect whatsapp: unlink", "admin help shown to a non-admin")
		})
	}
}

// TestAdminHelpHasOneAdminSection: an admin's /help lists the data-rights
// admin commands and the ones served here under one Admin heading.
func TestAdminHelpHasOneAdminSection(t *testing.T) {
	db := newTestDB(t)
	svc, err := privacy.New(privacy.Options{Store: db, ExportDir: t.TempDir(), AdminHelp: adminHelp})
	require.NoError(t, err)
	cmds := &adminCommands{privacy: svc, store: db, log: zerolog.Nop(), profilePath: t.TempDir() + "/profile.json"}
	subj, err := db.ResolveSubject(t.Context(), bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDTeams, Value: "id-admin"}}, Role: bot.RoleAdmin})
	require.NoError(t, err)
	rep, err := cmds.Handle(t.Context(), bot.CommandRequest{Command: bot.Command{Name: "help"}, Text: "/help", Subject: subj, Platform: bot.Teams, At: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(rep.Text, "Admin"), rep.Text)
	for _, want := range []string{"/requests", "/profile", "/disconnect whatsapp", "/here", "/admin add"} {
		assert.Contains(t, rep.Text, want)
	}
}

// fakeUnlinker stands in for the WhatsApp channel's Unlink.
type fakeUnlinker struct{ calls int }

func (f *fakeUnlinker) Unlink(context.Context) error { f.calls++; return nil }
