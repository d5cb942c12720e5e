package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/internal/demo"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runningDemo is `switchboard demo` running in the test process.
type runningDemo struct {
	base   string // the simulator's and the bot's address, http://127.0.0.1:…
	pgCmd  string // the playground command the banner gave
	data   string // the data directory the banner named
	stdout *syncBuffer
	tap    *logTap
	stop   func() error
}

// bannerSite and bannerPlayground read the banner's addresses.
var (
	bannerSite       = regexp.MustCompile(`open (http://127\.0\.0\.1:\d+)/ and write`)
	bannerPlayground = regexp.MustCompile(`(?m)^ +(npx \S+ --app-endpoint \S+ -c msteams)$`)
	bannerData       = regexp.MustCompile(`(?m)^  Data +(\S+) `)
)

// startDemo runs run(["demo", args…]) with env until the test ends, and
// waits for its banner.
func startDemo(t *testing.T, env map[string]string, args ...string) *runningDemo {
	t.Helper()
	d := &runningDemo{stdout: &syncBuffer{}, tap: newLogTap()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"demo", "--log-format", "json", "--log-level", "debug"}, args...), envMap(env), d.stdout, d.tap)
	}()
	var stopped bool
	var stopErr error
	d.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			stopErr = <-done
		}
		return stopErr
	}
	t.Cleanup(func() { _ = d.stop() })
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			require.FailNow(t, "the demo stopped", "err=%v log:\n%s", err, d.tap.String())
		default:
		}
		return strings.Contains(d.stdout.String(), "Stop with Ctrl-C.")
	}, 20*time.Second, 10*time.Millisecond, "no banner; log:\n%s", d.tap.String())
	out := d.stdout.String()
	m := bannerSite.FindStringSubmatch(out)
	require.NotNil(t, m, "banner: %s", out)
	d.base = m[1]
	m = bannerPlayground.FindStringSubmatch(out)
	require.NotNil(t, m, "banner: %s", out)
	d.pgCmd = m[1]
	m = bannerData.FindStringSubmatch(out)
	require.NotNil(t, m, "banner: %s", out)
	d.data = m[1]
	return d
}

// simPost posts JSON to the simulator's page API as the page does.
func (d *runningDemo) simPost(t *testing.T, path string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.base+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", d.base)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Less(t, resp.StatusCode, 300, "%v", out)
	return out
}

// simState is the page's view.
type simState struct {
	Chats    []demo.ChatView    `json:"chats"`
	Messages []demo.MessageView `json:"messages"`
}

func (d *runningDemo) state(t *testing.T) simState {
	t.Helper()
	code, body := get(t, d.base+"/sim/api/state")
	require.Equal(t, http.StatusOK, code)
	var st simState
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	return st
}

// waitReply waits for the nth reply (from 0) in the page and returns it
// once its status is want.
func (d *runningDemo) waitReply(t *testing.T, n int, want string) demo.MessageView {
	t.Helper()
	var got demo.MessageView
	require.Eventually(t, func() bool {
		var replies []demo.MessageView
		for _, m := range d.state(t).Messages {
			if m.From == "business" {
				replies = append(replies, m)
			}
		}
		if len(replies) <= n {
			return false
		}
		got = replies[n]
		return got.Status == want
	}, 15*time.Second, 20*time.Millisecond, "reply %d never %s (last %+v); log:\n%s", n, want, got, d.tap.String())
	return got
}

// TestDemoWiring runs `switchboard demo` in process with a recorded Teams
// connector as the staff side (the browser and the playground are in
// TestDemoEndToEnd): the banner names what to open; a customer's message
// from the simulator becomes a card by the canned drafter, labelled as not
// AI; approval sends the reply through the real Cloud API channel to the
// page; the page's delivered and read receipts bring the card to read; the
// customer's commands work; the data directory is the demo's.
func TestDemoWiring(t *testing.T) {
	conn := newConnector(t)
	dir := filepath.Join(t.TempDir(), "demo-data")
	d := startDemo(t, map[string]string{
		// A real business's settings in the environment are ignored.
		envData: t.TempDir(), envMasterKey: strings.Repeat("ab", 32), envAppID: "real-app", envCloudPhoneNumberID: "106540352242922",
		envAdmins: e2eAdmin,
	}, "--listen", "127.0.0.1:0", "--data", dir)
	addr := strings.TrimPrefix(d.base, "http://")
	assert.Equal(t, "npx @microsoft/m365agentsplayground@0.2.28 --app-endpoint http://"+addr+"/api/messages -c msteams", d.pgCmd)
	assert.Equal(t, dir, d.data)
	assert.Contains(t, d.stdout.String(), "Demo drafter — not AI")
	assert.Contains(t, d.stdout.String(), "admin "+demoAdmin+" in tenant "+demoTenant)
	_, ready := get(t, d.base+"/readyz")
	assert.Contains(t, ready, `"ready":true`)
	code, page := get(t, d.base+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, "Customer simulator")

	// The playground's user (here, its ids over the recorded connector) is
	// admin: /here makes the staff conversation.
	require.Equal(t, http.StatusOK, postActivity(t, d.base, teamsMessage(conn.srv.URL, "here-1", demoTenant, demoAdmin, "/here")))
	conn.waitText(t, "Draft cards will be posted")

	d.simPost(t, "/sim/api/messages", map[string]string{"name": "Riley Newcomer", "number": "+44 7700 900456", "text": "Can I book a visit next week?"})
	var card posted
	require.Eventually(t, func() bool {
		for _, p := range conn.all() {
			if strings.Contains(p.Body, "Can I book a visit") && strings.Contains(p.Body, "adaptive") {
				card = p
				return true
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond, "no card; log:\n%s", d.tap.String())
	// The card may first show "drafting…": wait for the canned draft.
	var body string
	require.Eventually(t, func() bool {
		for _, p := range conn.all() {
			if strings.HasPrefix(p.Path, card.Path) && strings.Contains(p.Body, "Which day and time") {
				body = p.Body
				return true
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond, "no canned draft on the card; log:\n%s", d.tap.String())
	assert.Contains(t, body, "Demo drafter — not AI")
	assert.NotContains(t, body, `"text":"AI draft`, "never presented as AI")
	assert.Contains(t, body, "no AI model is configured")
	i := strings.Index(body, `"draft":`)
	require.GreaterOrEqual(t, i, 0)
	var draft int64
	_, err := fmt.Sscanf(body[i:], `"draft":%d`, &draft)
	require.NoError(t, err)

	var act map[string]any
	require.NoError(t, json.Unmarshal(teamsMessage(conn.srv.URL, "approve-1", demoTenant, demoAdmin, ""), &act))
	act["value"] = map[string]any{"switchboard": "decide", "verb": "approve", "draft": draft, "token": cardToken(t, body)}
	b, err := json.Marshal(act)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, postActivity(t, d.base, b))

	reply := d.waitReply(t, 0, demo.StatusSent)
	assert.Equal(t, "We'd be glad to come round. Which day and time suit you best?", reply.Text)
	d.simPost(t, "/sim/api/receipts", map[string]string{"id": reply.ID, "status": "delivered"})
	d.simPost(t, "/sim/api/receipts", map[string]string{"id": reply.ID, "status": "read"})
	d.waitReply(t, 0, demo.StatusRead)
	require.Eventually(t, func() bool {
		for _, p := range conn.all() {
			if p.Method == http.MethodPut && strings.HasPrefix(p.Path, card.Path) && strings.Contains(p.Body, `"value":"read"`) {
				return true
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond, "the card never showed read; log:\n%s", d.tap.String())

	say := func(text string) {
		d.simPost(t, "/sim/api/messages", map[string]string{"name": "Riley Newcomer", "number": "+44 7700 900456", "text": text})
	}
	say("/privacy")
	privacy := d.waitReply(t, 1, demo.StatusSent)
	assert.Contains(t, privacy.Text, "Brightwater Plumbing Ltd")
	assert.Contains(t, privacy.Text, "privacy@brightwater.example")
	say("/export")
	export := d.waitReply(t, 2, demo.StatusSent)
	require.NotNil(t, export.Document, "the export arrives as a document")
	code, file := get(t, d.base+"/sim/media/"+export.Document.MediaID)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, file, "switchboard.export")
	say("/forget me")
	assert.Contains(t, d.waitReply(t, 3, demo.StatusSent).Text, "YES")
	say("YES")
	d.waitReply(t, 4, demo.StatusSent)
	require.Eventually(t, func() bool {
		for _, m := range d.state(t).Messages {
			if m.ID == export.ID {
				return m.Document.Deleted
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond, "the export is deleted at Meta on erasure")

	// A page still open (its event stream) does not hold up the stop.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, d.base+"/sim/api/events", nil)
	require.NoError(t, err)
	stream, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer stream.Body.Close()
	require.Equal(t, http.StatusOK, stream.StatusCode)
	require.NoError(t, d.stop(), "log:\n%s", d.tap.String())
	_, err = io.Copy(io.Discard, stream.Body)
	assert.NoError(t, err, "the stream ended cleanly")
	logs := d.tap.String()
	assert.NotContains(t, logs, `"level":"error"`)
	assert.NotContains(t, logs, "http shutdown")
	assert.Contains(t, logs, `"drafter":"Demo drafter — not AI"`)
	for _, planted := range []string{"Riley", "900456", "book a visit", "Which day"} {
		assert.NotContains(t, logs, planted, "the log names no person and no text")
	}
	_, err = os.Stat(filepath.Join(dir, demoMarkerFile))
	assert.NoError(t, err, "a --data directory is kept, marked as the demo's")
	_, err = os.Stat(filepath.Join(dir, "switchboard.db"))
	assert.NoError(t, err)
}

// cardToken is the action token a card's buttons carry.
func cardToken(t *testing.T, card string) string {
	t.Helper()
	m := regexp.MustCompile(`"token":"([0-9a-zA-Z_-]+)"`).FindStringSubmatch(card)
	require.NotNil(t, m, "the card's actions carry no token: %s", card)
	return m[1]
}

// TestDemoTemporaryDataDir: without --data the demo uses a fresh
// temporary directory and deletes it when it stops.
func TestDemoTemporaryDataDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	d := startDemo(t, nil, "--listen", "127.0.0.1:0")
	assert.True(t, strings.HasPrefix(d.data, os.Getenv("TMPDIR")), d.data)
	assert.Contains(t, d.stdout.String(), "deleted when the demo stops")
	_, err := os.Stat(filepath.Join(d.data, "switchboard.db"))
	require.NoError(t, err)
	require.NoError(t, d.stop(), "log:\n%s", d.tap.String())
	_, err = os.Stat(d.data)
	assert.ErrorIs(t, err, os.ErrNotExist, "the temporary data is gone")
}

// TestDemoDataDir: the demo takes a new, empty or demo-made directory and
// refuses one holding anything else, touching nothing in it.
func TestDemoDataDir(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	t.Run("New", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		got, m, cleanup, err := prepareDemoDir(dir, now)
		require.NoError(t, err)
		assert.Equal(t, dir, got)
		assert.Equal(t, demoCreatedBy, m.CreatedBy)
		assert.Len(t, m.MasterKey, 64)
		require.NoError(t, cleanup())
		st, err := os.Stat(filepath.Join(dir, demoMarkerFile))
		require.NoError(t, err, "cleanup keeps a named directory")
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	})
	t.Run("EmptyThenReused", func(t *testing.T) {
		dir := t.TempDir()
		_, first, _, err := prepareDemoDir(dir, now)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "switchboard.db"), []byte("demo rows"), 0o600))
		_, again, _, err := prepareDemoDir(dir, now.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, first, again, "the same made-up credentials and key")
	})
	t.Run("RealBusinessRefused", func(t *testing.T) {
		dir := t.TempDir()
		for _, f := range []string{"switchboard.db", "keys.db", "master.key"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("real"), 0o600))
		}
		_, _, _, err := prepareDemoDir(dir, now)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "keys.db, master.key, switchboard.db")
		assert.Contains(t, err.Error(), "never runs on a real business's data")
		entries, _ := os.ReadDir(dir)
		assert.Len(t, entries, 3, "nothing written there")
		// Through the command too, with exit code 2.
		err = run(t.Context(), []string{"demo", "--data", dir, "--listen", "127.0.0.1:0"}, envMap(nil), &bytes.Buffer{}, &bytes.Buffer{})
		var ue *usageError
		assert.True(t, errors.As(err, &ue), "%v", err)
	})
	t.Run("ForgedMarkerRefused", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, demoMarkerFile), []byte(`{"created_by":"someone"}`), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "switchboard.db"), []byte("real"), 0o600))
		_, _, _, err := prepareDemoDir(dir, now)
		assert.ErrorContains(t, err, "the demo did not make")
	})
	t.Run("Temporary", func(t *testing.T) {
		t.Setenv("TMPDIR", t.TempDir())
		dir, _, cleanup, err := prepareDemoDir("", now)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(filepath.Base(dir), "switchboard-demo-"))
		require.NoError(t, cleanup())
		_, err = os.Stat(dir)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

// TestDemoConfig: the demo reads only the AI drafter's and the log's
// settings from the environment; everything else is its own.
func TestDemoConfig(t *testing.T) {
	m := demoMarker{AccessToken: "tok", AppSecret: "sec", VerifyToken: "ver", MasterKey: strings.Repeat("cd", 32)}
	env := envMap(map[string]string{
		envData: "/srv/real-business", envMasterKey: strings.Repeat("ab", 32), envAppID: "real-app", envAppPassword: "pw",
		envAppTenantID: e2eTenant, envAdmins: e2eAdmin, envCloudPhoneNumberID: "106540352242922", envCloudAccessToken: "real-token",
		envCloudAppSecret: "real-secret", envCloudVerifyToken: "real-verify", envPublicURL: "https://bot.example.com",
	})
	cfg, err := demoConfig("/tmp/d", "127.0.0.1:3978", "info", "", m, env)
	require.NoError(t, err)
	assert.Equal(t, "/tmp/d", cfg.DataDir)
	assert.Equal(t, strings.Repeat("cd", 32), cfg.MasterKey.Value(), "the demo's own key")
	assert.Empty(t, cfg.MicrosoftAppID)
	assert.Empty(t, cfg.PublicURL)
	assert.True(t, cfg.TeamsDev)
	assert.Equal(t, demoTenant, cfg.MicrosoftAppTenantID)
	assert.Equal(t, []string{demoAdmin}, cfg.Admins)
	assert.Equal(t, demoPhoneNumberID, cfg.CloudPhoneNumberID)
	assert.Equal(t, "tok", cfg.CloudAccessToken.Value())
	assert.Equal(t, "sec", cfg.CloudAppSecret.Value())
	assert.Nil(t, cfg.LLM, "no AI settings: the canned drafter")

	cfg, err = demoConfig("/tmp/d", "127.0.0.1:3978", "info", "", m, envMap(map[string]string{
		"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_MODEL": "llama3.2",
	}))
	require.NoError(t, err)
	require.NotNil(t, cfg.LLM, "with AI settings, the real drafter")
	assert.Contains(t, cfg.LLM.String(), "llama3.2")
}

// TestDemoListensOnLoopbackOnly: the demo accepts unsigned Teams requests
// and plays Meta: never on another interface.
func TestDemoListensOnLoopbackOnly(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"demo", "--listen", "0.0.0.0:3978"}, envMap(nil), &out, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the demo runs only on a loopback address")
	out.Reset()
	require.NoError(t, run(t.Context(), []string{"demo", "-h"}, envMap(nil), &out, &out))
	assert.Contains(t, out.String(), "Usage: switchboard demo")
	out.Reset()
	require.NoError(t, run(t.Context(), []string{"help"}, envMap(nil), &out, &out))
	assert.Contains(t, out.String(), "switchboard demo")
}
