package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/channels/teams/playgroundtest"
)

// Environment of TestDemoEndToEnd (cmd/switchboard/demo_e2e.sh sets it).
const (
	// envDemoE2E, when set, turns a missing browser, playwright-core or
	// playground into a failure: CI sets it, so the test cannot skip there.
	envDemoE2E = "SWITCHBOARD_DEMO_E2E"
	// envPlaywright names the playwright-core package directory.
	envPlaywright = "SWITCHBOARD_PLAYWRIGHT_CORE"
	// envChromium names the browser; if empty, /usr/bin/chromium (Debian's).
	envChromium = "SWITCHBOARD_CHROMIUM"
	// envArtifacts is where the screenshots go; if empty, a
	// switchboard-demo-e2e directory in the system's temporary directory.
	envArtifacts = "SWITCHBOARD_ARTIFACTS"
)

// e2eResult is what testdata/demo/e2e.mjs reports.
type e2eResult struct {
	Problems        []string
	StaffHint       string
	Reply           string
	ReplyWord       string
	ReplyTicks      string
	ReadColour      string
	Privacy         string
	ExportName      string
	ExportHasFormat bool
	Stop            string
	ForgetPrompt    string
	ForgetDone      string
	ExportGone      string
	ContrastLight   struct {
		Checked int
		Low     []string
	}
	ContrastDark struct {
		Checked int
		Low     []string
	}
	Unlabelled []string
}

// TestDemoEndToEnd is the newcomer's two commands, automated: the demo as
// `switchboard demo` runs it, the Microsoft 365 Agents Playground as the
// staff side, and the customer simulator page in headless Chromium driven
// by testdata/demo/e2e.mjs (playwright-core). The customer writes in the
// page; the card, by the demo drafter and saying so, appears in the
// playground; staff approve there; the reply appears in the page, which
// reports it delivered and read, and the card shows read. The script then
// tries /privacy, /export (downloading the file), /stop and /forget me,
// checks labels and contrast in both themes, and saves screenshots.
// Run with cmd/switchboard/demo_e2e.sh.
func TestDemoEndToEnd(t *testing.T) {
	need := func(what string) {
		t.Helper()
		if os.Getenv(envDemoE2E) != "" {
			require.FailNow(t, what+" ("+envDemoE2E+" is set, so this test must run: see cmd/switchboard/demo_e2e.sh)")
		}
		t.Skip(what + ": run cmd/switchboard/demo_e2e.sh")
	}
	pgBin := os.Getenv(playgroundtest.Env)
	if pgBin == "" {
		need("set " + playgroundtest.Env + " to the agentsplayground binary")
	}
	pw := os.Getenv(envPlaywright)
	if _, err := os.Stat(filepath.Join(pw, "index.mjs")); pw == "" || err != nil {
		need("set " + envPlaywright + " to the playwright-core package directory")
	}
	browser := os.Getenv(envChromium)
	if browser == "" {
		browser = "/usr/bin/chromium"
	}
	if _, err := os.Stat(browser); err != nil {
		need("no Chromium at " + browser + " (apt-get install chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need("node not found")
	}
	artifacts := os.Getenv(envArtifacts)
	if artifacts == "" {
		artifacts = filepath.Join(os.TempDir(), "switchboard-demo-e2e")
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	for _, old := range []string{"demo-reply-light.png", "demo-dark.png", "demo-end-light.png", "playground-card.png", "playground-erased.png", "demo-failure.png"} {
		_ = os.Remove(filepath.Join(artifacts, old))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	d := startDemo(t, nil, "--listen", fmt.Sprintf("127.0.0.1:%d", playgroundtest.FreePort(t)), "--data", filepath.Join(t.TempDir(), "demo"))
	endpoint := strings.Fields(strings.SplitAfter(d.pgCmd, "--app-endpoint ")[1])[0]
	require.Equal(t, strings.TrimPrefix(d.base, "http://"), strings.TrimSuffix(strings.TrimPrefix(endpoint, "http://"), "/api/messages"))

	// The staff side, started as the banner says.
	pg := playgroundtest.Start(ctx, t, pgBin, endpoint)
	require.Equal(t, demoAdmin, pg.Config.CurrentUser.AADObjectID, "the demo makes the playground's user admin")
	require.Equal(t, demoTenant, playgroundtest.Tenant)
	pg.Say("/here")
	pg.Next(playgroundtest.Created("Draft cards will be posted"))

	// The customer side, in Chromium.
	script := exec.CommandContext(ctx, node, filepath.Join("testdata", "demo", "e2e.mjs"))
	script.Env = append(os.Environ(), "SIM_URL="+d.base+"/", "PLAYWRIGHT_CORE="+pw, "CHROMIUM="+browser,
		"ARTIFACTS="+artifacts, "PLAYGROUND_URL="+pg.Base, "USER_DATA_DIR="+t.TempDir())
	out, err := script.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	script.Stderr = &stderr
	require.NoError(t, script.Start())
	var lines []string
	var mu sync.Mutex
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			t.Log("e2e.mjs:", sc.Text())
		}
	}()
	defer func() {
		if t.Failed() {
			t.Logf("e2e.mjs stderr:\n%s\ndemo log:\n%s", stderr.String(), d.tap.String())
		}
	}()

	// Staff see the card by the demo drafter, labelled as not AI, and
	// approve it.
	card := pg.Next(func(f playgroundtest.Frame) bool {
		return len(f.Message.Attachments) > 0 && strings.Contains(string(f.Message.Attachments[0]), "Demo drafter — not AI") &&
			strings.Contains(string(f.Message.Attachments[0]), "kitchen tap")
	})
	raw := string(card.Message.Attachments[0])
	assert.NotContains(t, raw, `"text":"AI draft`, "never presented as AI")
	assert.Contains(t, raw, "Riley Newcomer")
	i := strings.Index(raw, `"draft":`)
	require.GreaterOrEqual(t, i, 0, "card has no draft id: %s", raw)
	var draftID int64
	_, err = fmt.Sscanf(raw[i:], `"draft":%d`, &draftID)
	require.NoError(t, err)
	var res map[string]any
	pg.Invoke(card.Message.MessageID, map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "approve",
		"data": map[string]any{"switchboard": "decide", "verb": "approve", "draft": draftID, "token": cardToken(t, raw)}}, "trigger": "manual"}, &res)
	// The page's receipts reach the card: read.
	pg.Next(func(f playgroundtest.Frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card.Message.MessageID && len(f.Message.Attachments) > 0 &&
			strings.Contains(string(f.Message.Attachments[0]), `"value":"read"`)
	})

	require.NoError(t, script.Wait(), "e2e.mjs failed; stderr:\n%s", stderr.String())
	<-read
	var result e2eResult
	mu.Lock()
	for _, l := range lines {
		if s, ok := strings.CutPrefix(l, "RESULT "); ok {
			require.NoError(t, json.Unmarshal([]byte(s), &result))
		}
	}
	mu.Unlock()

	assert.Empty(t, result.Problems)
	assert.Equal(t, "Sorry to hear that! If water is leaking, turn off the stopcock if you can. We'll get back to you shortly with our first free slot.", result.Reply)
	assert.Contains(t, raw, result.Reply, "the page got what the card showed")
	assert.Equal(t, "read", result.ReplyWord)
	assert.Equal(t, "✓✓", result.ReplyTicks)
	assert.Contains(t, result.StaffHint, d.pgCmd, "the page says how to start the staff side")
	assert.Contains(t, result.Privacy, "Brightwater Plumbing Ltd")
	assert.True(t, strings.HasSuffix(result.ExportName, ".json"), result.ExportName)
	assert.True(t, result.ExportHasFormat, "the downloaded export is Switchboard's")
	assert.Contains(t, result.Stop, "AI")
	assert.Contains(t, result.ForgetPrompt, "YES")
	assert.NotEmpty(t, result.ForgetDone)
	assert.Equal(t, "Deleted at Meta by Switchboard", result.ExportGone)
	assert.Greater(t, result.ContrastLight.Checked, 20)
	assert.Greater(t, result.ContrastDark.Checked, 20)
	assert.Empty(t, result.ContrastLight.Low, "text under 4.5:1 in the light theme")
	assert.Empty(t, result.ContrastDark.Low, "text under 4.5:1 in the dark theme")
	assert.Empty(t, result.Unlabelled, "controls without an accessible name")
	for _, shot := range []string{"demo-reply-light.png", "demo-dark.png", "demo-end-light.png"} {
		st, err := os.Stat(filepath.Join(artifacts, shot))
		if assert.NoError(t, err, shot) {
			assert.Greater(t, st.Size(), int64(20_000), "%s is a real screenshot", shot)
		}
	}
	t.Logf("screenshots in %s", artifacts)

	require.NoError(t, d.stop(), "log:\n%s", d.tap.String())
	logs := d.tap.String()
	assert.NotContains(t, logs, `"level":"error"`)
	for _, planted := range []string{"Riley", "900456", "kitchen tap", "stopcock"} {
		assert.NotContains(t, logs, planted, "the log names no person and no text")
	}
}
