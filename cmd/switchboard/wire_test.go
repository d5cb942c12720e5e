package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/channels/teams"
	"github.com/switchboard/switchboard/drafts"
	"github.com/switchboard/switchboard/store"
)

// Teams ids of the end-to-end test: one tenant, an admin and a plain staff
// member in it, and an outsider from another tenant.
const (
	e2eTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	e2eAdmin    = "11111111-2222-4333-8444-555555555555"
	e2eStaff    = "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c"
	e2eOutsider = "99999999-8888-4777-8666-555555555555"
	e2eOtherTen = "12345678-8888-4777-8666-555555555555"
)

// connector is an httptest Bot Connector: it records the activities the bot
// posts and answers each with an id.
type connector struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []posted
	next atomic.Int32
}

// posted is one activity the bot sent.
type posted struct {
	Method string
	Path   string
	Text   string
	Body   string
}

func newConnector(t *testing.T) *connector {
	t.Helper()
	c := &connector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		c.mu.Lock()
		c.got = append(c.got, posted{Method: r.Method, Path: r.URL.Path, Text: body.Text, Body: string(b)})
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"act-%d"}`, c.next.Add(1))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// all returns every request so far.
func (c *connector) all() []posted {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]posted(nil), c.got...)
}

// texts returns the texts posted so far.
func (c *connector) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.got {
		out = append(out, p.Text)
	}
	return out
}

// waitText waits until a posted text contains want and returns it.
func (c *connector) waitText(t *testing.T, want string) string {
	t.Helper()
	var found string
	require.Eventually(t, func() bool {
		for _, s := range c.texts() {
			if strings.Contains(s, want) {
				found = s
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no posted text contains %q; got %q", want, c.texts())
	return found
}

// teamsMessage is a Bot Framework message activity in a personal chat.
func teamsMessage(serviceURL, id, tenant, aad, text string) []byte {
	act := map[string]any{
		"type": "message", "id": id, "channelId": "msteams", "serviceUrl": serviceURL,
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"text":      text, "textFormat": "plain",
		"from":         map[string]any{"id": "29:" + aad[:8], "name": "Test Person", "aadObjectId": aad},
		"conversation": map[string]any{"conversationType": "personal", "tenantId": tenant, "id": "a:conv-" + aad[:8]},
		"recipient":    map[string]any{"id": "28:bot", "name": "Switchboard"},
		"channelData":  map[string]any{"tenant": map[string]any{"id": tenant}},
	}
	b, _ := json.Marshal(act)
	return b
}

// postActivity posts an activity to the bot and returns the status code.
func postActivity(t *testing.T, base string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/messages", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRunTeamsDevEndToEnd runs the real binary's run() with Teams in dev
// mode and no WhatsApp, and plays Teams against it through /api/messages
// with an httptest connector as the serviceUrl.
func TestRunTeamsDevEndToEnd(t *testing.T) {
	dir := t.TempDir()
	conn := newConnector(t)
	env := envMap(map[string]string{envAdmins: e2eAdmin, envAppTenantID: e2eTenant})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tap := newLogTap()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--data", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug", "--no-whatsapp", "--teams-dev",
			"--public-url", "http://127.0.0.1:1/"},
			env, io.Discard, tap)
	}()
	var addr string
	select {
	case addr = <-tap.addrs:
	case err := <-done:
		require.FailNow(t, "run returned before listening", "err=%v log:\n%s", err, tap.String())
	}
	base := "http://" + addr
	require.Eventually(t, func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "never ready; log:\n%s", tap.String())
	_, body := get(t, base+"/readyz")
	assert.Contains(t, body, `"teams":{"ready":true`)
	assert.NotContains(t, body, `"whatsapp"`)

	// An admin says /here: the conversation becomes the staff conversation.
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m1", e2eTenant, e2eAdmin, "/here")))
	conn.waitText(t, "Draft cards will be posted in this conversation")
	state, err := teams.OpenFileState(filepath.Join(dir, teams.StateFile))
	require.NoError(t, err)
	staffConv, err := state.StaffConversation(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "a:conv-"+e2eAdmin[:8], staffConv.ID)
	assert.Equal(t, conn.srv.URL, staffConv.ServiceURL)

	// /help goes through the router and the privacy service, and comes back
	// through the connector, with the admin commands for an admin.
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m2", e2eTenant, e2eAdmin, "/help")))
	help := conn.waitText(t, "/forget me")
	assert.Contains(t, help, "/profile")
	assert.Contains(t, help, "/disconnect whatsapp")

	// A staff member who is not an admin may not edit the profile.
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m3", e2eTenant, e2eStaff, "/profile set name Impostor Ltd")))
	conn.waitText(t, msgAdminOnly)
	assert.NoFileExists(t, filepath.Join(dir, profileFile))

	// The admin may: without an LLM the profile is saved for later.
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m4", e2eTenant, e2eAdmin, "/profile set name Brightwater Plumbing")))
	conn.waitText(t, "Saved.")
	p, err := drafts.LoadProfile(filepath.Join(dir, profileFile))
	require.NoError(t, err)
	assert.Equal(t, "Brightwater Plumbing", p.BusinessName)

	// An added admin may too, until removed: the stored role follows.
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m4a", e2eTenant, e2eAdmin, "/admin add "+e2eStaff)))
	conn.waitText(t, "is now an admin")
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m4b", e2eTenant, e2eStaff, "/profile set name Staff Plumbing")))
	require.Eventually(t, func() bool {
		p, err := drafts.LoadProfile(filepath.Join(dir, profileFile))
		return err == nil && p.BusinessName == "Staff Plumbing"
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m4c", e2eTenant, e2eAdmin, "/admin remove "+e2eStaff)))
	conn.waitText(t, "no longer an admin")
	n := len(conn.texts())
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m4d", e2eTenant, e2eStaff, "/profile set name Former Admin Ltd")))
	require.Eventually(t, func() bool { return len(conn.texts()) > n }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, msgAdminOnly, conn.texts()[n], "a removed admin keeps no admin rights")
	p, err = drafts.LoadProfile(filepath.Join(dir, profileFile))
	require.NoError(t, err)
	assert.Equal(t, "Staff Plumbing", p.BusinessName)

	// Without WhatsApp, /disconnect says so.
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m5", e2eTenant, e2eAdmin, "/disconnect whatsapp")))
	conn.waitText(t, msgNoWhatsApp)

	// The admin exports their own data: a one-time link under --public-url,
	// served by the bot's HTTP server.
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m5e", e2eTenant, e2eAdmin, "/export")))
	linkText := conn.waitText(t, "http://127.0.0.1:1/exports/")
	i := strings.Index(linkText, "/exports/")
	path := strings.Fields(linkText[i:])[0]
	code, export := get(t, base+path)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, export, `"switchboard.export/v1"`)
	code, _ = get(t, base+path)
	assert.Equal(t, http.StatusNotFound, code, "an export link works once")

	// Someone from another tenant is refused, and nothing is stored.
	before := len(conn.texts())
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "m6", e2eOtherTen, e2eOutsider, "/help")))
	refusal := conn.waitText(t, "only works for the staff")
	assert.Len(t, conn.texts(), before+1)
	assert.NotContains(t, refusal, "Commands:")

	// An unsigned request is accepted only because of dev mode; a malformed
	// one is still refused.
	assert.Equal(t, http.StatusBadRequest, postActivity(t, base, []byte(`{"type":`)))

	cancel()
	require.NoError(t, <-done, "log:\n%s", tap.String())
	logs := tap.String()
	assert.Contains(t, logs, "TEAMS DEV MODE")
	assert.NotContains(t, logs, `"level":"error"`)
	for _, planted := range []string{e2eAdmin, e2eStaff, e2eOutsider, "Test Person", "Brightwater", "Impostor", "Former Admin"} {
		assert.NotContains(t, logs, planted, "logs name people only by subject id")
	}
	// The outsider left no subject behind: only the admin and the staff
	// member are known.
	assert.Equal(t, 2, countSubjects(t, dir))
}

// TestWhatsAppToTeamsCardAndBack runs serve with the production builder
// (Teams in dev mode) plus a fake WhatsApp channel: a customer's message
// becomes a card in the staff conversation the admin chose with /here, the
// admin's edit on the card sends the reply on WhatsApp once, and the card is
// updated.
func TestWhatsAppToTeamsCardAndBack(t *testing.T) {
	conn := newConnector(t)
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.LogFormat, cfg.LogLevel = t.TempDir(), "127.0.0.1:0", LogJSON, "debug"
	cfg.NoWhatsApp, cfg.TeamsDev, cfg.Admins, cfg.MicrosoftAppTenantID = true, true, []string{e2eAdmin}, e2eTenant
	wa := &sinkChannel{Fake: channeltest.NewFake(bot.WhatsApp), sinks: make(chan bot.Sink, 1)}
	build := func(app *App) ([]bot.Channel, error) {
		chs, err := buildChannels(app)
		return append(chs, wa), err
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tap := newLogTap()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, tap, build) }()
	addr := <-tap.addrs
	base := "http://" + addr
	<-wa.sinks
	require.Eventually(t, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }, 20*time.Second, 20*time.Millisecond)

	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "h1", e2eTenant, e2eAdmin, "/here")))
	conn.waitText(t, "Draft cards will be posted")

	require.NoError(t, wa.Inject(ctx, bot.Inbound{
		Chat: plantedChat, ID: "WAMSG-1", Sender: bot.Identity{Kind: bot.IDPhone, Value: plantedPhone},
		SenderName: plantedName, Role: bot.RoleCustomer, Kind: bot.KindText, Text: plantedText, SentAt: time.Now(),
	}))
	var card posted
	require.Eventually(t, func() bool {
		for _, p := range conn.all() {
			if p.Method == http.MethodPost && strings.Contains(p.Body, "application/vnd.microsoft.card.adaptive") {
				card = p
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no card posted; log:\n%s", tap.String())
	assert.Contains(t, card.Path, "/v3/conversations/a:conv-"+e2eAdmin[:8])
	assert.NotContains(t, card.Body, "blue sofa", "the first post is the placeholder: it names and quotes nobody")
	// The content replaces the placeholder once its activity id is recorded.
	var content posted
	require.Eventually(t, func() bool {
		for _, p := range conn.all() {
			if p.Method == http.MethodPut && strings.HasPrefix(p.Path, card.Path+"/") && strings.Contains(p.Body, "blue sofa") &&
				strings.Contains(p.Body, "by hand") {
				content = p
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the card's content, asking for a manual reply without an LLM, was not put in place: %+v", conn.all())
	var draftID int64
	_, err := fmt.Sscanf(content.Body[strings.Index(content.Body, `"draft":`):], `"draft":%d`, &draftID)
	require.NoError(t, err)
	tok := regexp.MustCompile(`"token":"([0-9a-f]+)"`).FindStringSubmatch(content.Body)
	require.Len(t, tok, 2, "the card's actions carry the draft's token")

	edit := func(id string) []byte {
		var act map[string]any
		require.NoError(t, json.Unmarshal(teamsMessage(conn.srv.URL, id, e2eTenant, e2eAdmin, ""), &act))
		act["value"] = map[string]any{"switchboard": "decide", "verb": "edit", "draft": draftID, "token": tok[1], "text": plantedReply}
		b, err := json.Marshal(act)
		require.NoError(t, err)
		return b
	}
	require.Equal(t, http.StatusOK, postActivity(t, base, edit("click-1")))
	require.Equal(t, http.StatusOK, postActivity(t, base, edit("click-2")))
	require.Eventually(t, func() bool { return len(wa.Sends()) == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, plantedReply, wa.Sends()[0].Text)
	assert.Equal(t, bot.ChatID(plantedChat), wa.Sends()[0].Chat)
	require.Eventually(t, func() bool {
		for _, p := range conn.all() {
			if p.Method == http.MethodPut && strings.HasPrefix(p.Path, card.Path+"/") && strings.Contains(p.Body, "Test Person") {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the card was not updated with who decided: %+v", conn.all())

	assert.Len(t, wa.Sends(), 1, "a second click sent nothing")

	// The customer erases their data: the card in Teams is deleted through
	// the Teams channel's Forget hook (the privacy service's card index).
	say := func(id, text string) {
		require.NoError(t, wa.Inject(ctx, bot.Inbound{
			Chat: plantedChat, ID: bot.MessageID(id), Sender: bot.Identity{Kind: bot.IDPhone, Value: plantedPhone},
			Role: bot.RoleCustomer, Kind: bot.KindText, Text: text, SentAt: time.Now(),
		}))
	}
	say("WAMSG-2", "/forget me")
	require.Eventually(t, func() bool { return len(wa.Sends()) == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, wa.Sends()[1].Text, "YES")
	say("WAMSG-3", "YES")
	require.Eventually(t, func() bool {
		for _, p := range conn.all() {
			if p.Method == http.MethodDelete && strings.HasPrefix(p.Path, card.Path+"/") {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the card was not deleted: %+v", conn.all())

	cancel()
	require.NoError(t, <-done, "log:\n%s", tap.String())
	logs := tap.String()
	for _, planted := range []string{plantedPhone, plantedName, plantedText, "blue sofa", plantedReply, e2eAdmin} {
		assert.NotContains(t, logs, planted)
	}
	subs, err := openTestStore(t, cfg.DataDir).FindSubjects(t.Context(), bot.Identity{Kind: bot.IDPhone, Value: plantedPhone})
	require.NoError(t, err)
	assert.Empty(t, subs, "the customer is erased")
}

// TestRunWithLLMWritesDefaultProfile starts with an LLM configured and no
// profile: a default profile is written, and an admin's /profile change
// reaches the drafter and the file.
func TestRunWithLLMWritesDefaultProfile(t *testing.T) {
	dir := t.TempDir()
	conn := newConnector(t)
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the model was called: %s", r.URL.Path)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer llm.Close()
	env := envMap(map[string]string{envAdmins: e2eAdmin, envAppTenantID: e2eTenant, envOpenAIBaseURL: llm.URL + "/v1", envOpenAIModel: "test-model"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tap := newLogTap()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--data", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "--no-whatsapp", "--teams-dev"}, env, io.Discard, tap)
	}()
	var addr string
	select {
	case addr = <-tap.addrs:
	case err := <-done:
		require.FailNow(t, "run returned before listening", "err=%v log:\n%s", err, tap.String())
	}
	base := "http://" + addr
	require.Eventually(t, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }, 20*time.Second, 20*time.Millisecond)
	p, err := drafts.LoadProfile(filepath.Join(dir, profileFile))
	require.NoError(t, err)
	assert.Equal(t, defaultProfile(), p)
	assert.Contains(t, tap.String(), "no business profile yet")
	assert.Contains(t, tap.String(), `"message":"AI drafts on"`)

	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "p1", e2eTenant, e2eAdmin, "/profile price add callout 60 visit Standard callout")))
	reply := conn.waitText(t, "Saved.")
	assert.NotContains(t, reply, "No AI model")
	assert.Contains(t, reply, "callout")
	require.Equal(t, http.StatusOK, postActivity(t, base, teamsMessage(conn.srv.URL, "p2", e2eTenant, e2eAdmin, "/profile")))
	require.Eventually(t, func() bool { return len(conn.texts()) == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, conn.texts()[1], "Standard callout", "the drafter's profile changed")
	p, err = drafts.LoadProfile(filepath.Join(dir, profileFile))
	require.NoError(t, err)
	require.Len(t, p.PriceList.Items, 1)
	assert.Equal(t, int64(6000), p.PriceList.Items[0].UnitPrice)

	cancel()
	require.NoError(t, <-done, "log:\n%s", tap.String())
}

// countSubjects opens the store in dir and counts its subjects.
func countSubjects(t *testing.T, dir string) int {
	t.Helper()
	db := openTestStore(t, dir)
	n := 0
	for _, id := range []string{e2eAdmin, e2eStaff, e2eOutsider} {
		subs, err := db.FindSubjects(t.Context(), bot.Identity{Kind: bot.IDTeams, Value: id})
		require.NoError(t, err)
		n += len(subs)
	}
	return n
}

// openTestStore opens the store in dir with the master key run generated.
func openTestStore(t *testing.T, dir string) *store.DB {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	key, _, err := LoadMasterKey(cfg, zerolog.Nop(), strings.NewReader(""))
	require.NoError(t, err)
	db, err := store.New(store.Options{Dir: dir, MasterKey: key, Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, db.Open(t.Context()))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestTeamsManifest(t *testing.T) {
	const appID = "00000000-1111-2222-3333-444444444444"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // error text; empty for success
	}{
		{name: "AppIDFlag", args: []string{"--app-id", appID, "--privacy-url", "https://b.example/privacy", "--terms-url", "https://b.example/terms"}},
		{name: "FromEnv", env: map[string]string{envAppID: appID, envPrivacyURL: "https://b.example/privacy", envTermsURL: "https://b.example/terms"}},
		{name: "ErrNoAppID", env: map[string]string{envPrivacyURL: "https://b.example/privacy", envTermsURL: "https://b.example/terms"}, want: "--app-id"},
		{name: "ErrBadAppID", args: []string{"--app-id", "not-a-guid", "--privacy-url", "https://b.example/privacy", "--terms-url", "https://b.example/terms"}, want: "GUID"},
		{name: "ErrNoOut", args: []string{"--app-id", appID, "--out", ""}, want: "--out"},
		{name: "ErrNoLinks", args: []string{"--app-id", appID}, want: "--privacy-url and --terms-url"},
		{name: "ErrHTTPLink", args: []string{"--app-id", appID, "--privacy-url", "http://b.example/privacy", "--terms-url", "https://b.example/terms"}, want: "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "switchboard.zip")
			args := append([]string{"teams-manifest", "--out", out}, tc.args...)
			var stdout bytes.Buffer
			err := run(t.Context(), args, envMap(tc.env), &stdout, io.Discard)
			if tc.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				var ue *usageError
				assert.ErrorAs(t, err, &ue)
				assert.NoFileExists(t, out)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, stdout.String(), "Upload it in Teams")
			zr, err := zip.OpenReader(out)
			require.NoError(t, err)
			defer zr.Close()
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			require.Contains(t, names, "manifest.json")
			f, err := zr.Open("manifest.json")
			require.NoError(t, err)
			defer f.Close()
			var m struct {
				Bots []struct {
					BotID string `json:"botId"`
				} `json:"bots"`
			}
			require.NoError(t, json.NewDecoder(f).Decode(&m))
			require.Len(t, m.Bots, 1)
			assert.Equal(t, appID, m.Bots[0].BotID)
		})
	}
}

func TestWhatsAppLogout(t *testing.T) {
	t.Run("EmptyDataDir", func(t *testing.T) {
		dir := t.TempDir()
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), []string{"whatsapp", "logout", "--data", dir}, envMap(nil), &out, io.Discard))
		assert.Contains(t, out.String(), "No WhatsApp session in "+dir+": nothing to log out.")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "logout created files")
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "ErrNoSubcommand", args: []string{"whatsapp"}, want: "name a subcommand"},
		{name: "ErrUnknownSubcommand", args: []string{"whatsapp", "login"}, want: "unknown subcommand"},
		{name: "ErrBadFlag", args: []string{"whatsapp", "logout", "--nope"}, want: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), tc.args, envMap(nil), io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var ue *usageError
			assert.ErrorAs(t, err, &ue)
		})
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"help"}, envMap(nil), &out, io.Discard))
	for _, want := range []string{"whatsapp logout", "teams-manifest", "-whatsapp-pair-phone", "-public-url", "-retention-months", envAdmins, envStaffTenants,
		"-whatsapp-cloud-phone-number-id", "-whatsapp-cloud-graph-url", "-whatsapp-cloud-template", envCloudAccessToken, envCloudAppSecret, envCloudVerifyToken} {
		assert.Contains(t, out.String(), want)
	}
}

// TestBuildChannelsWithWhatsApp builds (without running) the production
// channels with WhatsApp on and Teams off: WhatsApp is registered on
// /readyz, there is no Teams endpoint, and drafts are manual.
func TestBuildChannelsWithWhatsApp(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.WhatsAppPairPhone = "+44 7700 900123"
	metrics := NewMetrics()
	app := &App{
		Config: cfg, Log: zerolog.Nop(), Store: newTestDB(t), Metrics: metrics,
		Health: NewHealth(nil, metrics.ComponentReady), Mux: http.NewServeMux(), ListenAddr: "127.0.0.1:3978",
	}
	chs, err := buildChannels(app)
	require.NoError(t, err)
	require.Len(t, chs, 1)
	assert.Equal(t, bot.WhatsApp, chs[0].Platform())
	_, comps := app.Health.Snapshot()
	assert.Contains(t, comps, compWhatsApp)
	assert.NotContains(t, comps, compTeams)
	assert.Nil(t, app.Notifier)
	assert.Equal(t, bot.ManualDrafter{}, app.Drafter)
	require.NotNil(t, app.Commands)
	assert.Len(t, app.Tasks, 4, "alerts, the privacy sweep, maintenance and the media worker")
	require.NotNil(t, app.Media, "the media worker is built, with the linked device as its fetcher")
	_, pattern := app.Mux.Handler(httptest.NewRequest(http.MethodPost, "/api/messages", nil))
	assert.Empty(t, pattern, "no Teams endpoint without Teams")
	entries, err := os.ReadDir(cfg.DataDir)
	require.NoError(t, err)
	assert.Empty(t, entries, "building does no I/O in the data dir")
}
