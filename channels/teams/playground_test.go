package teams

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/channels/teams/playgroundtest"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// The Microsoft 365 Agents Playground is driven by playgroundtest; run with
// channels/teams/playground.sh.

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
		_, err := ch.PostCard(ctx, bot.Card{DraftID: id, Subject: "s_00000000000000000000c001", Customer: "+44 7••• ••0123",
			Message: "Are you open Sunday?", Draft: "Yes, 10am to 4pm.", Author: "AI draft", Status: bot.DraftPending})
		return err
	}
	_, err := ch.Send(ctx, bot.Outbound{Chat: in.Chat, ReplyTo: in.ID, Text: "echo: " + in.Text + " (" + string(in.Role) + ")"})
	return err
}

func (s *playgroundSink) Receipt(context.Context, bot.Receipt) error { return nil }

func (s *playgroundSink) Decide(_ context.Context, d bot.Decision) (bot.DecisionResult, error) {
	status := map[bot.DecisionKind]bot.DraftStatus{bot.Approve: bot.DraftApproved, bot.Edit: bot.DraftEdited, bot.Reject: bot.DraftRejected}[d.Kind]
	card := bot.Card{DraftID: d.DraftID, Customer: "+44 7••• ••0123", Message: "Are you open Sunday?",
		Draft: "Yes, 10am to 4pm.", Author: "AI draft", Status: status, DecidedBy: d.ByName, DecidedAt: d.At, SendStatus: bot.StatusPending}
	if d.Kind == bot.Edit {
		card.Draft, card.Author = d.Text, "AI draft, edited by "+d.ByName
	}
	return bot.DecisionResult{Outcome: bot.Applied, Card: card}, nil
}

func (s *playgroundSink) Revoke(context.Context, bot.Platform, bot.ChatID, bot.Identity, bot.MessageID) error {
	return nil
}

// frame is one message of the playground's conversation stream.
func TestPlaygroundEndToEnd(t *testing.T) {
	bin := playgroundtest.Binary(t)
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
		ch, err := New(Options{Log: zerolog.New(logs), Dev: true, ListenAddr: addr, TenantID: playgroundtest.Tenant, Admins: admins, State: state})
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
	pg := playgroundtest.Start(ctx, t, bin, "http://"+addr+"/api/messages")
	defer func() {
		if t.Failed() {
			t.Logf("bot log:\n%s", logs.String())
		}
	}()
	cfg, say, next, created := pg.Config, pg.Say, pg.Next, playgroundtest.Created

	// A staff message gets a reply.
	say("hello bot")
	next(created("echo: hello bot (staff)"))

	// A non-admin's admin command is refused.
	say("/here")
	next(created(msgNotAdmin))

	// An admin command is answered.
	sink.ch.Store(mk([]string{cfg.CurrentUser.AADObjectID}))
	say("/here")
	next(created(msgHere))

	// A card is posted proactively, clicked (Action.Execute) and replaced.
	say("card please")
	card := next(playgroundtest.CreatedCard)
	var res map[string]any
	pg.Invoke(card.Message.MessageID, map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "approve",
		"data": map[string]any{"switchboard": "decide", "verb": "approve", "draft": 1}}, "trigger": "manual"}, &res)
	assert.Equal(t, contentTypeCard, res["type"])
	updated := next(func(f playgroundtest.Frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card.Message.MessageID
	})
	require.NotEmpty(t, updated.Message.Attachments)
	assert.Contains(t, string(updated.Message.Attachments[0]), "Decided by")

	// Action.Submit on a second card.
	say("card please")
	card2 := next(playgroundtest.CreatedCard)
	pg.Submit(card2.Message.MessageID, map[string]any{"switchboard": "decide", "verb": "reject", "draft": 2})
	updated = next(func(f playgroundtest.Frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card2.Message.MessageID
	})
	assert.Contains(t, string(updated.Message.Attachments[0]), "Rejected")

	// An admin @mentions the bot with /here in a team channel: the mention is
	// stripped, and the next card starts a new thread in that channel.
	require.NotEmpty(t, cfg.Teams)
	team := cfg.Teams[0].ID
	at := "<at>" + cfg.Bot.Name + "</at>"
	pg.SayIn(team, at+" /here",
		[]any{map[string]any{"mentioned": map[string]string{"id": cfg.Bot.ID, "name": cfg.Bot.Name}, "text": at}})
	next(created(msgHere))
	staff, err := state.StaffConversation(ctx)
	require.NoError(t, err)
	assert.Equal(t, "channel", staff.Type)
	say("card please")
	inChannel := next(playgroundtest.CreatedCard)
	assert.True(t, strings.HasPrefix(inChannel.Conversation, team), "card posted in the team channel, got %q", inChannel.Conversation)
	assert.NotEqual(t, staff.ID, inChannel.Conversation, "a new thread, not a reply to /here")
	t.Logf("/here in %q; card posted in %q", staff.ID, inChannel.Conversation)

	// The same customer's next card is a reply in that card's thread.
	say("card please")
	reply := next(playgroundtest.CreatedCard)
	t.Logf("second card for the customer posted in %q", reply.Conversation)
	assert.Equal(t, threadRoot(inChannel.Conversation)+";messageid="+inChannel.Message.MessageID, reply.Conversation,
		"a reply in the customer's thread")
	root, err := state.Thread(ctx, threadRoot(staff.ID), "s_00000000000000000000c001")
	require.NoError(t, err)
	assert.Equal(t, inChannel.Message.MessageID, root)

	// Edit on a card in personal chat: the card shows the text sent and who wrote it.
	sink.ch.Store(mk([]string{cfg.CurrentUser.AADObjectID}))
	require.NoError(t, state.SetStaffConversation(ctx, Conversation{ServiceURL: staff.ServiceURL, ID: cfg.PersonalChat.ID,
		TenantID: staff.TenantID, Type: "personal", BotID: staff.BotID}))
	say("card please")
	card3 := next(playgroundtest.CreatedCard)
	pg.Invoke(card3.Message.MessageID, map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "edit",
		"data": map[string]any{"switchboard": "decide", "verb": "edit", "draft": 5, "text": "Yes, 10am to 2pm this Sunday."}}, "trigger": "manual"}, &res)
	assert.Equal(t, contentTypeCard, res["type"])
	updated = next(func(f playgroundtest.Frame) bool {
		return f.Action == "updateMessage" && f.Message.MessageID == card3.Message.MessageID
	})
	got := string(updated.Message.Attachments[0])
	assert.Contains(t, got, "Yes, 10am to 2pm this Sunday.")
	assert.Contains(t, got, "AI draft, edited by")
	assert.NotContains(t, got, "Yes, 10am to 4pm.")
}
