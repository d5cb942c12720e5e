package teams

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// The Microsoft 365 Agents Playground (npm @microsoft/m365agentsplayground,
// tested with 0.2.28) is a local Teams client. Its config, conversation,
// submit, invoke and WebSocket routes are internal to its web UI: pin the
// version. Run with channels/teams/playground.sh, or set
// SWITCHBOARD_PLAYGROUND to the agentsplayground binary.
const (
	pgTenant = "00000000-0000-0000-0000-0000000000001"
	pgUser   = "user-id-0"
)

// playgroundSink plays the router: it echoes text, posts a card on "card
// please", and settles decisions.
type playgroundSink struct {
	ch    atomic.Pointer[Channel]
	mu    sync.Mutex
	draft int64
}

func (s *playgroundSink) Deliver(ctx context.Context, in bot.Inbound) error {
	ch := s.ch.Load()
	if in.Text == "card please" {
		s.mu.Lock()
		s.draft++
		id := s.draft
		s.mu.Unlock()
		_, err := ch.PostCard(ctx, bot.Card{DraftID: id, Customer: "+44 7••• ••0123", Message: "Are you open Sunday?",
			Draft: "Yes, 10am to 4pm.", Status: bot.DraftPending})
		return err
	}
	_, err := ch.Send(ctx, bot.Outbound{Chat: in.Chat, ReplyTo: in.ID, Text: "echo: " + in.Text + " (" + string(in.Role) + ")"})
	return err
}

func (s *playgroundSink) Receipt(context.Context, bot.Receipt) error { return nil }

func (s *playgroundSink) Decide(_ context.Context, d bot.Decision) (bot.DecisionResult, error) {
	status := map[bot.DecisionKind]bot.DraftStatus{bot.Approve: bot.DraftApproved, bot.Edit: bot.DraftEdited, bot.Reject: bot.DraftRejected}[d.Kind]
	return bot.DecisionResult{Outcome: bot.Applied, Card: bot.Card{DraftID: d.DraftID, Customer: "+44 7••• ••0123",
		Message: "Are you open Sunday?", Draft: "Yes, 10am to 4pm.", Status: status, DecidedBy: d.ByName, DecidedAt: d.At,
		SendStatus: bot.StatusPending}}, nil
}

func (s *playgroundSink) Revoke(context.Context, bot.Platform, bot.ChatID, bot.Identity, bot.MessageID) error {
	return nil
}

// frame is one message of the playground's conversation stream.
type frame struct {
	Action       string `json:"action"`
	Conversation string `json:"actionConversationId"`
	Message      struct {
		MessageID   string            `json:"messageId"`
		Text        string            `json:"text"`
		Attachments []json.RawMessage `json:"attachments"`
	} `json:"message"`
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestPlaygroundEndToEnd(t *testing.T) {
	bin := os.Getenv("SWITCHBOARD_PLAYGROUND")
	if bin == "" {
		t.Skip("set SWITCHBOARD_PLAYGROUND to the agentsplayground binary (see playground.sh)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// The bot: two channels sharing one State, the first without admins.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	state := newMemState()
	sink := &playgroundSink{}
	logs := &bottest.LogBuffer{}
	mk := func(admins []string) *Channel {
		ch, err := New(Options{Log: zerolog.New(logs), Dev: true, ListenAddr: addr, TenantID: pgTenant, Admins: admins, State: state})
		require.NoError(t, err)
		go func() { _ = ch.Run(ctx, sink) }()
		require.Eventually(t, func() bool { return ch.currentSink() != nil }, 5*time.Second, time.Millisecond)
		return ch
	}
	staffOnly := mk(nil)
	sink.ch.Store(staffOnly)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sink.ch.Load().Handler().ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	// The playground.
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.CommandContext(ctx, bin, "--app-endpoint", "http://"+addr+"/api/messages", "-c", "msteams",
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
			t.Logf("playground output:\n%s\nbot log:\n%s", pgOut.String(), logs.String())
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

	var cfg struct {
		Config struct {
			PersonalChat struct{ ID string }       `json:"personalChat"`
			Bot          struct{ ID, Name string } `json:"bot"`
			Teams        []struct{ ID string }     `json:"teams"`
			CurrentUser  struct {
				AADObjectID string `json:"aadObjectId"`
			} `json:"currentUser"`
		} `json:"config"`
	}
	getJSON(t, base+"/_internal/v1/config", &cfg)
	conv := cfg.Config.PersonalChat.ID
	require.NotEmpty(t, conv)

	ws, _, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/_ws_conversation/v1/conversations/stream", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(4 << 20)
	frames := make(chan frame, 64)
	go func() {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				close(frames)
				return
			}
			var f frame
			if json.Unmarshal(b, &f) == nil {
				frames <- f
			}
		}
	}()
	next := func(match func(frame) bool) frame {
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
	say := func(text string) {
		t.Helper()
		postJSON(t, base+"/_conversation/v1/conversations/"+conv+"/messages",
			map[string]any{"from": map[string]string{"id": pgUser}, "text": text, "textFormat": "plain"}, nil)
	}
	created := func(text string) func(frame) bool {
		return func(f frame) bool { return f.Action == "createMessage" && strings.Contains(f.Message.Text, text) }
	}

	// A staff message gets a reply.
	say("hello bot")
	next(created("echo: hello bot (staff)"))

	// A non-admin's admin command is refused.
	say("/here")
	next(created(msgNotAdmin))

	// An admin command is answered.
	sink.ch.Store(mk([]string{cfg.Config.CurrentUser.AADObjectID}))
	say("/here")
	next(created(msgHere))

	// A card is posted proactively, clicked (Action.Execute) and replaced.
	say("card please")
	card := next(func(f frame) bool { return f.Action == "createMessage" && len(f.Message.Attachments) > 0 })
	var res map[string]any
	postJSON(t, base+"/_conversation/v1/invoke", map[string]any{
		"name": "adaptiveCard/action", "conversation": map[string]string{"id": conv}, "from": map[string]string{"id": pgUser},
		"replyToId": card.Message.MessageID,
		"value": map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "approve",
			"data": map[string]any{"switchboard": "decide", "verb": "approve", "draft": 1}}, "trigger": "manual"},
	}, &res)
	assert.Equal(t, contentTypeCard, res["type"])
	updated := next(func(f frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card.Message.MessageID
	})
	require.NotEmpty(t, updated.Message.Attachments)
	assert.Contains(t, string(updated.Message.Attachments[0]), "Decided by")

	// Action.Submit on a second card.
	say("card please")
	card2 := next(func(f frame) bool { return f.Action == "createMessage" && len(f.Message.Attachments) > 0 })
	postJSON(t, base+"/_conversation/v1/submit", map[string]any{
		"conversation": map[string]string{"id": conv}, "from": map[string]string{"id": pgUser}, "replyToId": card2.Message.MessageID,
		"value": map[string]any{"switchboard": "decide", "verb": "reject", "draft": 2},
	}, nil)
	updated = next(func(f frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card2.Message.MessageID
	})
	assert.Contains(t, string(updated.Message.Attachments[0]), "Rejected")

	// An admin @mentions the bot with /here in a team channel: the mention is
	// stripped, and the next card starts a new thread in that channel.
	require.NotEmpty(t, cfg.Config.Teams)
	team := cfg.Config.Teams[0].ID
	at := "<at>" + cfg.Config.Bot.Name + "</at>"
	var posted map[string]any
	postJSON(t, base+"/_conversation/v1/conversations/"+team+"/messages", map[string]any{
		"from": map[string]string{"id": pgUser}, "text": at + " /here", "textFormat": "plain",
		"mentions": []any{map[string]any{"mentioned": map[string]string{"id": cfg.Config.Bot.ID, "name": cfg.Config.Bot.Name}, "text": at}},
	}, &posted)
	next(created(msgHere))
	staff, err := state.StaffConversation(ctx)
	require.NoError(t, err)
	assert.Equal(t, "channel", staff.Type)
	say("card please")
	inChannel := next(func(f frame) bool { return f.Action == "createMessage" && len(f.Message.Attachments) > 0 })
	assert.True(t, strings.HasPrefix(inChannel.Conversation, team), "card posted in the team channel, got %q", inChannel.Conversation)
	assert.NotEqual(t, staff.ID, inChannel.Conversation, "a new thread, not a reply to /here")
	t.Logf("/here in %q; card posted in %q", staff.ID, inChannel.Conversation)
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
}

func postJSON(t *testing.T, url string, body, into any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Less(t, resp.StatusCode, 300, "playground answered %d: %s", resp.StatusCode, out)
	if into != nil {
		require.NoError(t, json.Unmarshal(out, into), "body: %s", out)
	}
}
