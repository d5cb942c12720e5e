package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/channels/teams/playgroundtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

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
	bin := playgroundtest.Binary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	botAddr := fmt.Sprintf("127.0.0.1:%d", playgroundtest.FreePort(t))
	dir := t.TempDir()
	wa := &sinkChannel{Fake: channeltest.NewFake(bot.WhatsApp), sinks: make(chan bot.Sink, 2)}

	// start runs the bot until the returned stop is called.
	start := func(admins []string) (stop func()) {
		cfg := DefaultConfig()
		cfg.DataDir, cfg.Listen, cfg.LogFormat = dir, botAddr, LogJSON
		cfg.NoWhatsApp, cfg.TeamsDev, cfg.MicrosoftAppTenantID, cfg.Admins = true, true, playgroundtest.Tenant, admins
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

	pg := playgroundtest.Start(ctx, t, bin, "http://"+botAddr+"/api/messages")
	say, next, created := pg.Say, pg.Next, playgroundtest.Created

	// Staff, not an admin: admin commands are refused.
	say("/help")
	help := next(created("/forget me"))
	assert.NotContains(t, help.Message.Text, "/disconnect")
	say("/profile set name Impostor Ltd")
	next(created(msgAdminOnly))
	say("/here")
	next(created(msgAdminOnly))
	stop()

	// The playground user is an admin now.
	stop = start([]string{pg.Config.CurrentUser.AADObjectID})
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
	card := next(playgroundtest.CreatedCard)
	card = next(playgroundtest.FilledCard(card))
	raw := string(card.Message.Attachments[0])
	i := strings.Index(raw, `"draft":`)
	require.GreaterOrEqual(t, i, 0, "card has no draft id: %s", raw)
	var draftID int64
	_, err := fmt.Sscanf(raw[i:], `"draft":%d`, &draftID)
	require.NoError(t, err)
	var token string
	if j := strings.Index(raw, `"token":"`); j >= 0 {
		token, _, _ = strings.Cut(raw[j+len(`"token":"`):], `"`)
	}
	require.NotEmpty(t, token, "card actions carry their draft's token: %s", raw)
	var res map[string]any
	pg.Invoke(card.Message.MessageID, map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "edit",
		"data": map[string]any{"switchboard": "decide", "verb": "edit", "draft": draftID, "token": token, "text": plantedReply}}, "trigger": "manual"}, &res)
	edited := next(func(f playgroundtest.Frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card.Message.MessageID &&
			strings.Contains(string(f.Message.Attachments[0]), plantedReply)
	})
	assert.Contains(t, string(edited.Message.Attachments[0]), "Written by", "the card says who wrote what was sent")
	require.Eventually(t, func() bool { return len(wa.Sends()) == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, plantedReply, wa.Sends()[0].Text)

	// In a team channel, one thread per customer: the admin moves the cards
	// there with /here; the customer's next two messages are a new thread
	// and a reply in it.
	require.NotEmpty(t, pg.Config.Teams)
	team := pg.Config.Teams[0].ID
	at := "<at>" + pg.Config.Bot.Name + "</at>"
	pg.SayIn(team, at+" /here", []any{map[string]any{"mentioned": map[string]string{"id": pg.Config.Bot.ID, "name": pg.Config.Bot.Name}, "text": at}})
	next(created("Draft cards will be posted"))
	for i, text := range []string{"Are you open on Saturday?", "And on Sunday?"} {
		require.NoError(t, wa.Inject(ctx, bot.Inbound{
			Chat: plantedChat, ID: bot.MessageID(fmt.Sprintf("WAMSG-PG-T%d", i)), Sender: bot.Identity{Kind: bot.IDPhone, Value: plantedPhone},
			SenderName: plantedName, Role: bot.RoleCustomer, Kind: bot.KindText, Text: text, SentAt: time.Now(),
		}))
	}
	first := next(playgroundtest.CreatedCard)
	second := next(playgroundtest.CreatedCard)
	secondFilled := next(playgroundtest.FilledCard(second))
	t.Logf("customer's cards in %q and %q", first.Conversation, second.Conversation)
	assert.Equal(t, team, first.Conversation, "the customer's first card in the channel starts a thread")
	assert.Equal(t, team+";messageid="+first.Message.MessageID, second.Conversation, "the next is a reply in it")
	assert.Contains(t, string(secondFilled.Message.Attachments[0]), "Earlier in this chat", "with the conversation before it")
}
