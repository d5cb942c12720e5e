package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runTeamsDev runs run() with Teams in dev mode and no WhatsApp in dir and
// returns the bot's base URL, its log and a stop function that checks run
// returned cleanly.
func runTeamsDev(t *testing.T, dir string, extra ...string) (string, *logTap, func()) {
	t.Helper()
	env := envMap(map[string]string{envAdmins: e2eAdmin, envAppTenantID: e2eTenant})
	ctx, cancel := context.WithCancel(t.Context())
	tap := newLogTap()
	done := make(chan error, 1)
	args := append([]string{"--data", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "--no-whatsapp", "--teams-dev"}, extra...)
	go func() { done <- run(ctx, args, env, io.Discard, tap) }()
	var addr string
	select {
	case addr = <-tap.addrs:
	case err := <-done:
		cancel()
		require.FailNow(t, "run returned before listening", "err=%v log:\n%s", err, tap.String())
	}
	base := "http://" + addr
	require.Eventually(t, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }, 20*time.Second, 20*time.Millisecond)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-done, "log:\n%s", tap.String())
	}
	t.Cleanup(stop)
	return base, tap, stop
}

// The privacy notice names the controller the admin set in the business
// profile, from the next /privacy on; until then the notice says the
// business has not set it, and the start log warns.
func TestPrivacyNoticeFollowsProfile(t *testing.T) {
	dir := t.TempDir()
	conn := newConnector(t)
	base, tap, stop := runTeamsDev(t, dir)
	assert.Contains(t, tap.String(), "the business profile does not name the controller yet")

	say := func(id, text string) {
		t.Helper()
		require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, id, e2eTenant, e2eAdmin, text)))
	}
	say("c1", "/privacy")
	notice := conn.waitText(t, "Privacy notice")
	assert.Contains(t, notice, "has not yet set its legal name")
	assert.NotContains(t, notice, "the business you are messaging")

	say("c2", "/profile set legal-name Brightwater Plumbing Ltd")
	conn.waitText(t, "Legal name: Brightwater Plumbing Ltd")
	say("c3", "/profile set privacy-contact privacy@brightwater.example")
	conn.waitText(t, "Privacy contact: privacy@brightwater.example")
	say("c4", "/profile set ico Z1234567")
	conn.waitText(t, "ICO registration: Z1234567")
	say("c5", "/privacy")
	var named string
	require.Eventually(t, func() bool {
		for _, s := range conn.texts() {
			if strings.HasPrefix(s, "Privacy notice: Brightwater Plumbing Ltd") {
				named = s
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "got %q", conn.texts())
	assert.Contains(t, named, "ICO registration Z1234567")
	assert.Contains(t, named, "Contact about your data: privacy@brightwater.example.")
	stop()

	// Restarted with the profile set: no warning.
	_, tap, _ = runTeamsDev(t, dir)
	assert.NotContains(t, tap.String(), "does not name the controller")
	assert.NotContains(t, tap.String(), "Brightwater", "logs hold no names")
}
