package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// pgTenant is the Microsoft 365 Agents Playground's tenant.
const pgTenant = "00000000-0000-0000-0000-0000000000001"

// pgFrame is one message of the playground's conversation stream.
type pgFrame struct {
	Action       string `json:"action"`
	Conversation string `json:"actionConversationId"`
	Message      struct {
		MessageID   string            `json:"messageId"`
		Text        string            `json:"text"`
		Attachments []json.RawMessage `json:"attachments"`
	} `json:"message"`
}

// TestPlaygroundBinary runs the bot as the binary wires it (serve with the
// production builder, Teams in dev mode; a fake WhatsApp channel stands in
// for whatsmeow) against the Microsoft 365 Agents Playground, headless: a
// non-admin is refused admin commands; after a restart with the playground
// user as admin, /here, /help and /profile work, and a customer's WhatsApp
// message becomes a card that an Action.Execute edit replaces and answers on
// WhatsApp. Run with channels/teams/playground.sh, or set
// SWITCHBOARD_PLAYGROUND to the agentsplayground binary (tested with
// 0.2.28; its routes are internal to its web UI).
func TestPlaygroundBinary(t *testing.T) {
	bin := os.Getenv("SWITCHBOARD_PLAYGROUND")
	if bin == "" {
		t.Skip("set SWITCHBOARD_PLAYGROUND to the agentsplayground binary (see channels/teams/playground.sh)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	botAddr := fmt.Sprintf("127.0.0.1:%d", pgFreePort(t))
	dir := t.TempDir()
	wa := &sinkChannel{Fake: channeltest.NewFake(bot.WhatsApp), sinks: make(chan bot.Sink, 2)}

	// start runs the bot until the returned stop is called.
	start := func(admins []string) (stop func()) {
		cfg := DefaultConfig()
		cfg.DataDir, cfg.Listen, cfg.LogFormat = dir, botAddr, LogJSON
		cfg.NoWhatsApp, cfg.TeamsDev, cfg.MicrosoftAppTenantID, cfg.Admins = true, true, pgTenant, admins
		rctx, rcancel := context.WithCancel(ctx)
		tap := newLogTap()
		done := make(chan error, 1)
		go func() {
			done <- serve(rctx, cfg, tap, func(app *App) ([]bot.Channel, error) {
				chs, err := buildChannels(app)
				return append(chs, wa), err
			})
		}()
		select {
		case <-wa.sinks:
		case err := <-done:
			require.FailNow(t, "serve returned early", "err=%v log:\n%s", err, tap.String())
		}
		require.Eventually(t, func() bool { code, _ := get(t, "http://"+botAddr+"/readyz"); return code == http.StatusOK },
			20*time.Second, 20*time.Millisecond)
		return func() {
			rcancel()
			require.NoError(t, <-done, "log:\n%s", tap.String())
		}
	}
	stop := start(nil)

	port := pgFreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.CommandContext(ctx, bin, "--app-endpoint", "http://"+botAddr+"/api/messages", "-c", "msteams",
		"-p", fmt.Sprint(port), "--disable-telemetry")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TEAMSAPPTESTER_BROWSER=none")
	var pgOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &pgOut, &pgOut
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("playground output:\n%s", pgOut.String())
		}
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/_debug/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 200*time.Millisecond, "playground did not start")

	var pc struct {
		Config struct {
			PersonalChat struct{ ID string } `json:"personalChat"`
			CurrentUser  struct {
				ID          string `json:"id"`
				AADObjectID string `json:"aadObjectId"`
			} `json:"currentUser"`
		} `json:"config"`
	}
	pgJSON(t, http.MethodGet, base+"/_internal/v1/config", nil, &pc)
	conv, user := pc.Config.PersonalChat.ID, pc.Config.CurrentUser.ID
	require.NotEmpty(t, conv)
	if user == "" {
		user = "user-id-0"
	}

	ws, _, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/_ws_conversation/v1/conversations/stream", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(4 << 20)
	frames := make(chan pgFrame, 64)
	go func() {
		defer close(frames)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var f pgFrame
			if json.Unmarshal(b, &f) == nil {
				frames <- f
			}
		}
	}()
	next := func(match func(pgFrame) bool) pgFrame {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case f, ok := <-frames:
				require.True(t, ok, "stream closed")
				if match(f) {
					return f
				}
			case <-timeout:
				require.FailNow(t, "no matching frame from the playground")
			}
		}
	}
	created := func(text string) func(pgFrame) bool {
		return func(f pgFrame) bool { return f.Action == "createMessage" && strings.Contains(f.Message.Text, text) }
	}
	say := func(text string) {
		t.Helper()
		pgJSON(t, http.MethodPost, base+"/_conversation/v1/conversations/"+conv+"/messages",
			map[string]any{"from": map[string]string{"id": user}, "text": text, "textFormat": "plain"}, nil)
	}

	// Staff, not an admin: admin commands are refused.
	say("/help")
	help := next(created("/forget me"))
	assert.NotContains(t, help.Message.Text, "/disconnect")
	say("/profile set name Impostor Ltd")
	next(created(msgAdminOnly))
	say("/here")
	next(created("only admins"))
	stop()

	// The playground user is an admin now.
	stop = start([]string{pc.Config.CurrentUser.AADObjectID})
	defer func() { stop() }()
	say("/here")
	next(created("Draft cards will be posted"))
	say("/help")
	next(created("/disconnect whatsapp"))
	say("/profile set name Playground Plumbing")
	next(created("Business: Playground Plumbing"))

	// A customer writes on WhatsApp: a card appears; an edit through
	// Action.Execute replaces it and the reply goes out on WhatsApp.
	require.NoError(t, wa.Inject(ctx, bot.Inbound{
		Chat: plantedChat, ID: "WAMSG-PG-1", Sender: bot.Identity{Kind: bot.IDPhone, Value: plantedPhone},
		SenderName: plantedName, Role: bot.RoleCustomer, Kind: bot.KindText, Text: plantedText, SentAt: time.Now(),
	}))
	card := next(func(f pgFrame) bool { return f.Action == "createMessage" && len(f.Message.Attachments) > 0 })
	raw := string(card.Message.Attachments[0])
	i := strings.Index(raw, `"draft":`)
	require.GreaterOrEqual(t, i, 0, "card has no draft id: %s", raw)
	var draftID int64
	_, err = fmt.Sscanf(raw[i:], `"draft":%d`, &draftID)
	require.NoError(t, err)
	var res map[string]any
	pgJSON(t, http.MethodPost, base+"/_conversation/v1/invoke", map[string]any{
		"name": "adaptiveCard/action", "conversation": map[string]string{"id": conv}, "from": map[string]string{"id": user},
		"replyToId": card.Message.MessageID,
		"value": map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "edit",
			"data": map[string]any{"switchboard": "decide", "verb": "edit", "draft": draftID, "text": plantedReply}}, "trigger": "manual"},
	}, &res)
	next(func(f pgFrame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card.Message.MessageID
	})
	require.Eventually(t, func() bool { return len(wa.Sends()) == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, plantedReply, wa.Sends()[0].Text)
}

// pgFreePort returns a free loopback TCP port.
func pgFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pgJSON sends body (if any) as JSON to url and decodes the answer into into
// (if set).
func pgJSON(t *testing.T, method, url string, body, into any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Less(t, resp.StatusCode, 300, "playground answered %d: %s", resp.StatusCode, out)
	if into != nil {
		require.NoError(t, json.Unmarshal(out, into), "body: %s", out)
	}
}
