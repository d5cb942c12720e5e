package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// sinkChannel is a fake channel that also hands out its sink, so the test
// can play the staff side (Decide) as the Teams channel would.
type sinkChannel struct {
	*channeltest.Fake
	sinks chan bot.Sink
}

func (c *sinkChannel) Run(ctx context.Context, sink bot.Sink) error {
	c.sinks <- sink
	return c.Fake.Run(ctx, sink)
}

// Personal data planted in the flow; none may reach the logs, at any level.
const (
	plantedPhone     = "+447700900123"
	plantedLID       = "88112233445566@lid"
	plantedName      = "Zebedee Quillfeather"
	plantedText      = "PLANTED-TEXT: is my order for the blue sofa ready?"
	plantedReply     = "PLANTED-REPLY: your blue sofa ships tomorrow"
	plantedStaffAAD  = "6f1c2d3e-planted-aad-object-id"
	plantedStaffName = "Staffname Plantedsson"
	plantedChat      = "447700900123@s.whatsapp.net"
)

// TestFlowLogsArePseudonymous runs the whole process (serve with the
// production logger at trace level) through one customer message, a draft,
// a card, an approval, a send and a receipt, and asserts that no phone
// number, LID, name, message text, draft or staff identity appears in the
// log output, nor in clear in the database files.
func TestFlowLogsArePseudonymous(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.LogLevel, cfg.LogFormat = dir, "127.0.0.1:0", "trace", LogJSON

	wa := &sinkChannel{Fake: channeltest.NewFake(bot.WhatsApp), sinks: make(chan bot.Sink, 1)}
	notifier := channeltest.NewNotifier()
	drafter := &channeltest.Drafter{Text: plantedReply}
	build := func(app *App) ([]bot.Channel, error) {
		app.Notifier, app.Drafter = notifier, drafter
		app.Health.SetState(compWhatsApp, true, "connected")
		return []bot.Channel{wa}, nil
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tap := newLogTap()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, tap, build) }()
	var sink bot.Sink
	select {
	case sink = <-wa.sinks:
	case err := <-done:
		require.FailNow(t, "serve returned early", "err=%v log:\n%s", err, tap.String())
	}

	// A customer writes.
	require.NoError(t, wa.Inject(ctx, bot.Inbound{
		Chat: plantedChat, ID: "WAMSG-1",
		Sender:     bot.Identity{Kind: bot.IDPhone, Value: plantedPhone},
		AltSenders: []bot.Identity{{Kind: bot.IDLID, Value: plantedLID}},
		SenderName: plantedName, Role: bot.RoleCustomer, Kind: bot.KindText,
		Text: plantedText, SentAt: time.Now(),
	}))
	// A redelivery changes nothing.
	require.NoError(t, wa.Inject(ctx, bot.Inbound{
		Chat: plantedChat, ID: "WAMSG-1", Sender: bot.Identity{Kind: bot.IDPhone, Value: plantedPhone},
		Kind: bot.KindText, Text: plantedText,
	}))
	var card bot.Card
	require.Eventually(t, func() bool {
		cards := notifier.Cards()
		if len(cards) != 1 || cards[0].Preparing || cards[0].Status == bot.DraftDrafting {
			return false
		}
		card = cards[0]
		return true
	}, 10*time.Second, 10*time.Millisecond)
	assert.Len(t, notifier.Posts(), 1, "one card")
	assert.Equal(t, plantedReply, card.Draft)
	assert.Equal(t, plantedText, card.Message)

	// Staff approve twice; one send.
	decision := bot.Decision{
		DraftID: card.DraftID, Token: card.Token, Kind: bot.Approve,
		By: bot.Identity{Kind: bot.IDTeams, Value: plantedStaffAAD}, ByName: plantedStaffName, ActionID: "click-1",
	}
	res, err := sink.Decide(ctx, decision)
	require.NoError(t, err)
	assert.Equal(t, bot.Applied, res.Outcome)
	decision.ActionID = "click-2"
	res, err = sink.Decide(ctx, decision)
	require.NoError(t, err)
	assert.Equal(t, bot.AlreadyDecided, res.Outcome)
	require.Eventually(t, func() bool { return len(wa.Sends()) == 1 }, 10*time.Second, 10*time.Millisecond)
	sent := wa.Sends()[0]
	assert.Equal(t, plantedReply, sent.Text)

	// The receipt reaches the card.
	require.NoError(t, wa.InjectReceipt(ctx, bot.Receipt{Chat: plantedChat, IDs: []bot.MessageID{sent.ID}, Status: bot.StatusDelivered, At: time.Now()}))
	require.Eventually(t, func() bool {
		c, ok := notifier.Card(card.DraftID)
		return ok && c.SendStatus == bot.StatusDelivered
	}, 10*time.Second, 10*time.Millisecond)

	// An unknown command gets an answer, not a crash.
	require.NoError(t, wa.Inject(ctx, bot.Inbound{
		Chat: plantedChat, ID: "WAMSG-2", Sender: bot.Identity{Kind: bot.IDPhone, Value: plantedPhone},
		Kind: bot.KindText, Text: "/frobnicate " + plantedName,
	}))
	require.Eventually(t, func() bool { return len(wa.Sends()) == 2 }, 10*time.Second, 10*time.Millisecond)

	cancel()
	require.NoError(t, <-done, "log:\n%s", tap.String())

	logs := tap.String()
	require.Contains(t, logs, `"level":"debug"`, "the test must see debug lines to mean anything")
	assert.Contains(t, logs, "s_", "logs name subjects by id")
	for _, planted := range []string{
		plantedPhone, strings.TrimPrefix(plantedPhone, "+"), "7700900123", plantedLID, "88112233445566",
		plantedName, "Zebedee", "Quillfeather", plantedText, "blue sofa", plantedReply,
		plantedStaffAAD, plantedStaffName, "Plantedsson",
	} {
		assert.NotContains(t, logs, planted)
	}
	// Nor did the scrubber have to catch any: no code tried to log them.
	assert.NotContains(t, logs, redactedPhone)
	assert.NotContains(t, logs, redactedJID)

	// Text and names are sealed at rest: a byte scan of every file in the
	// data dir finds none of them.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		for _, planted := range []string{plantedName, "blue sofa", "PLANTED-REPLY", "PLANTED-TEXT"} {
			assert.NotContains(t, string(b), planted, "%s holds plaintext", e.Name())
		}
	}
}

// failingChannel fails for good as soon as it runs.
type failingChannel struct{ *channeltest.Fake }

func (failingChannel) Run(context.Context, bot.Sink) error { return errors.New("logged out") }

func TestChannelFailureKeepsProcessUpAndNotReady(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.LogFormat = t.TempDir(), "127.0.0.1:0", LogJSON
	var health *Health
	build := func(app *App) ([]bot.Channel, error) {
		health = app.Health
		app.Health.Register(compWhatsApp)
		return []bot.Channel{failingChannel{channeltest.NewFake(bot.WhatsApp)}}, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tap := newLogTap()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, tap, build) }()
	addr := <-tap.addrs

	require.Eventually(t, func() bool { return strings.Contains(tap.String(), `"message":"channel stopped"`) },
		10*time.Second, 10*time.Millisecond)
	// The router may still be resuming work on a loaded machine: wait until
	// only the failed channel is not ready.
	var code int
	var body string
	require.Eventually(t, func() bool {
		code, body = get(t, "http://"+addr+"/readyz")
		return strings.Contains(body, `"not_ready":["whatsapp"]`)
	}, 10*time.Second, 10*time.Millisecond, "readyz: %s", body)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	_, comps := health.Snapshot()
	assert.Equal(t, StateFailed, comps[compWhatsApp].State)
	code, _ = get(t, "http://"+addr+"/healthz")
	assert.Equal(t, http.StatusOK, code, "the process keeps running")
	_, metrics := get(t, "http://"+addr+"/metrics")
	assert.Contains(t, metrics, `switchboard_failures_total{stage="channel"} 1`)
	assert.Contains(t, metrics, `switchboard_component_ready{component="whatsapp"} 0`)

	cancel()
	require.NoError(t, <-done, "log:\n%s", tap.String())
}
