// Package playgroundtest drives the Microsoft 365 Agents Playground (npm
// @microsoft/m365agentsplayground, tested with 0.2.28), a local Teams
// client, headless from Go tests: it starts the playground against a bot
// endpoint, reads its conversation stream and posts as its user. The
// routes it uses are internal to the playground's web UI, so pin the
// version (channels/teams/playground.sh installs it). Only tests import it.
package playgroundtest

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
	"github.com/stretchr/testify/require"
)

// Env names the variable holding the agentsplayground binary.
const Env = "SWITCHBOARD_PLAYGROUND"

// Tenant is the playground's tenant id.
const Tenant = "00000000-0000-0000-0000-0000000000001"

// Binary returns the playground binary from Env, or skips the test.
func Binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		t.Skip("set " + Env + " to the agentsplayground binary (see channels/teams/playground.sh)")
	}
	return bin
}

// Frame is one message of the playground's conversation stream.
type Frame struct {
	Action       string `json:"action"` // createMessage, updateMessage, …
	Conversation string `json:"actionConversationId"`
	Message      struct {
		MessageID   string            `json:"messageId"`
		Text        string            `json:"text"`
		Attachments []json.RawMessage `json:"attachments"`
	} `json:"message"`
}

// Created matches a new message whose text contains text.
func Created(text string) func(Frame) bool {
	return func(f Frame) bool { return f.Action == "createMessage" && strings.Contains(f.Message.Text, text) }
}

// CreatedCard matches a new message with an attachment.
func CreatedCard(f Frame) bool { return f.Action == "createMessage" && len(f.Message.Attachments) > 0 }

// FilledCard matches the update that replaces the placeholder posted as
// created with a draft's card: the bot posts a card that names nobody
// first, records where it went, then fills it in.
func FilledCard(created Frame) func(Frame) bool {
	return func(f Frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == created.Message.MessageID &&
			len(f.Message.Attachments) > 0 && strings.Contains(string(f.Message.Attachments[0]), `"draft":`)
	}
}

// Config is what the playground says about its world.
type Config struct {
	PersonalChat struct{ ID string }       `json:"personalChat"`
	Bot          struct{ ID, Name string } `json:"bot"`
	Teams        []struct{ ID string }     `json:"teams"`
	CurrentUser  struct {
		ID          string `json:"id"`
		AADObjectID string `json:"aadObjectId"`
	} `json:"currentUser"`
}

// Playground is one running playground.
type Playground struct {
	t      *testing.T
	Base   string // its HTTP address
	Config Config
	// User is the id the playground's user posts as.
	User   string
	frames chan Frame
}

// Start runs the playground against the bot at endpoint (".../api/messages")
// until ctx is done or the test ends, and connects to its stream.
func Start(ctx context.Context, t *testing.T, bin, endpoint string) *Playground {
	t.Helper()
	port := FreePort(t)
	p := &Playground{t: t, Base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	cmd := exec.CommandContext(ctx, bin, "--app-endpoint", endpoint, "-c", "msteams",
		"-p", fmt.Sprint(port), "--disable-telemetry")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TEAMSAPPTESTER_BROWSER=none")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("playground output:\n%s", out.String())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.Base + "/_debug/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 200*time.Millisecond, "playground did not start")

	var cfg struct{ Config Config }
	p.JSON(http.MethodGet, "/_internal/v1/config", nil, &cfg)
	p.Config = cfg.Config
	require.NotEmpty(t, p.Config.PersonalChat.ID)
	p.User = p.Config.CurrentUser.ID
	if p.User == "" {
		p.User = "user-id-0"
	}

	ws, _, err := websocket.Dial(ctx, strings.Replace(p.Base, "http", "ws", 1)+"/_ws_conversation/v1/conversations/stream", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.CloseNow() })
	ws.SetReadLimit(4 << 20)
	p.frames = make(chan Frame, 64)
	go func() {
		defer close(p.frames)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var f Frame
			if json.Unmarshal(b, &f) == nil {
				p.frames <- f
			}
		}
	}()
	return p
}

// Next waits up to 30 s for a stream frame that matches.
func (p *Playground) Next(match func(Frame) bool) Frame {
	p.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case f, ok := <-p.frames:
			require.True(p.t, ok, "stream closed")
			if match(f) {
				return f
			}
		case <-timeout:
			require.FailNow(p.t, "no matching frame from the playground")
		}
	}
}

// Say posts text as the playground's user in its personal chat.
func (p *Playground) Say(text string) {
	p.t.Helper()
	p.SayIn(p.Config.PersonalChat.ID, text, nil)
}

// SayIn posts text as the user in conversation conv, with optional
// mention entities.
func (p *Playground) SayIn(conv, text string, mentions []any) {
	p.t.Helper()
	body := map[string]any{"from": map[string]string{"id": p.User}, "text": text, "textFormat": "plain"}
	if mentions != nil {
		body["mentions"] = mentions
	}
	p.JSON(http.MethodPost, "/_conversation/v1/conversations/"+conv+"/messages", body, nil)
}

// Invoke sends an adaptiveCard/action invoke for the card message replyTo
// with value, and decodes the bot's answer into into (if set).
func (p *Playground) Invoke(replyTo string, value, into any) {
	p.t.Helper()
	p.JSON(http.MethodPost, "/_conversation/v1/invoke", map[string]any{
		"name": "adaptiveCard/action", "conversation": map[string]string{"id": p.Config.PersonalChat.ID},
		"from": map[string]string{"id": p.User}, "replyToId": replyTo, "value": value,
	}, into)
}

// Submit sends an Action.Submit with value for the card message replyTo.
func (p *Playground) Submit(replyTo string, value any) {
	p.t.Helper()
	p.JSON(http.MethodPost, "/_conversation/v1/submit", map[string]any{
		"conversation": map[string]string{"id": p.Config.PersonalChat.ID},
		"from":         map[string]string{"id": p.User}, "replyToId": replyTo, "value": value,
	}, nil)
}

// JSON sends body (if any) as JSON to the playground's path and decodes
// the answer into into (if set). Any status of 300 or more fails the test.
func (p *Playground) JSON(method, path string, body, into any) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(p.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(p.t.Context(), method, p.Base+path, rd)
	require.NoError(p.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Less(p.t, resp.StatusCode, 300, "playground answered %d: %s", resp.StatusCode, out)
	if into != nil {
		require.NoError(p.t, json.Unmarshal(out, into), "body: %s", out)
	}
}

// FreePort returns a free loopback TCP port.
func FreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
