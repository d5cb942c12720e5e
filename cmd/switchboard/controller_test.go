package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// A Teams user's /export without --public-url arrives for real: a file
// consent card in the personal chat, then, on Allow, the file in the user's
// OneDrive upload session and a file card; nothing stays in the exports
// directory.
func TestTeamsExportByFileConsent(t *testing.T) {
	dir := t.TempDir()
	conn := newConnector(t)
	var mu sync.Mutex
	var uploaded []byte
	var ranges []string
	drive := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		uploaded = append(uploaded, b...)
		ranges = append(ranges, r.Header.Get("Content-Range"))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"item-1","name":"export.json","file":{}}`))
	}))
	defer drive.Close()
	base, tap, stop := runTeamsDev(t, dir)

	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "x1", e2eTenant, e2eAdmin, "/export")))
	var consent map[string]any
	var cardID string
	require.Eventually(t, func() bool {
		for i, p := range conn.all() {
			if strings.Contains(p.Body, "application/vnd.microsoft.teams.card.file.consent") {
				var act struct {
					Attachments []map[string]any `json:"attachments"`
				}
				require.NoError(t, json.Unmarshal([]byte(p.Body), &act))
				consent = act.Attachments[0]
				cardID = fmt.Sprintf("act-%d", i+1)
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no consent card; posted %q", conn.texts())
	content := consent["content"].(map[string]any)
	tok := content["acceptContext"].(map[string]any)["token"].(string)

	invoke := map[string]any{
		"type": "invoke", "name": "fileConsent/invoke", "id": "inv-1", "channelId": "msteams", "serviceUrl": conn.srv.URL,
		"from":         map[string]any{"id": "29:" + e2eAdmin[:8], "name": "Test Person", "aadObjectId": e2eAdmin},
		"conversation": map[string]any{"conversationType": "personal", "tenantId": e2eTenant, "id": "a:conv-" + e2eAdmin[:8]},
		"recipient":    map[string]any{"id": "28:bot", "name": "Switchboard"},
		"channelData":  map[string]any{"tenant": map[string]any{"id": e2eTenant}},
		"replyToId":    cardID,
		"value": map[string]any{"type": "fileUpload", "action": "accept", "context": map[string]any{"switchboard": "file", "token": tok},
			"uploadInfo": map[string]any{"contentUrl": "https://contoso-my.sharepoint.com/personal/a/Documents/export.json", "name": "export.json",
				"uploadUrl": drive.URL + "/up/1", "uniqueId": "U-1", "fileType": "json"}},
	}
	body, err := json.Marshal(invoke)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, postActivity(t, base, body))
	conn.waitText(t, "Saved to your OneDrive")
	mu.Lock()
	got := append([]byte(nil), uploaded...)
	mu.Unlock()
	assert.Contains(t, string(got), `"switchboard.export/v1"`)
	assert.EqualValues(t, len(got), content["sizeInBytes"])
	assert.Equal(t, []string{fmt.Sprintf("bytes 0-%d/%d", len(got)-1, len(got))}, ranges)
	ents, err := os.ReadDir(filepath.Join(dir, exportsDir))
	require.NoError(t, err)
	assert.Empty(t, ents, "no export file is left on disk")
	stop()
	assert.NotContains(t, tap.String(), `"level":"error"`)
}
