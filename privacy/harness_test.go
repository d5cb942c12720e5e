package privacy

import (
	"context"
	"flag"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func newClock() *bottest.Clock { return bottest.NewClock(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)) }

// forgetCall records one Forgetter call.
type forgetCall struct {
	Subject bot.SubjectID
	IDs     []bot.Identity
	Cards   []bot.CardRef
}

// recForgetter is a channel's Forget hook that records its calls and, like
// the Teams channel, looks up the subject's cards through a card index.
type recForgetter struct {
	mu    sync.Mutex
	calls []forgetCall
	cards CardIndex
	err   error
}

// Platform is the Teams channel's, whose Forget deletes posted cards.
func (f *recForgetter) Platform() bot.Platform { return bot.Teams }

func (f *recForgetter) Forget(ctx context.Context, s bot.SubjectID, ids []bot.Identity) error {
	var refs []bot.CardRef
	if f.cards != nil {
		var err error
		if refs, err = f.cards.CardsOf(ctx, s); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, forgetCall{s, ids, refs})
	return f.err
}

// recChannel records what the service sends to other chats. Like the Teams
// channel it takes files, unless noFiles.
type recChannel struct {
	mu      sync.Mutex
	sent    []bot.Outbound
	noFiles atomic.Bool
}

func (c *recChannel) Platform() bot.Platform { return bot.Teams }
func (c *recChannel) Capabilities() bot.Capabilities {
	return bot.Capabilities{Files: !c.noFiles.Load()}
}
func (c *recChannel) Run(ctx context.Context, _ bot.Sink) error { <-ctx.Done(); return nil }
func (c *recChannel) Send(_ context.Context, m bot.Outbound) (bot.MessageID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, m)
	return "sent", nil
}

// last returns the last message sent, and whether there was one.
func (c *recChannel) last() (bot.Outbound, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		return bot.Outbound{}, false
	}
	return c.sent[len(c.sent)-1], true
}

// delivered returns, as a Reply, the message an export of a Teams user
// sent through the Teams channel (a file or a link), after checking that
// the command's own reply r added nothing.
func (h *harness) delivered(r bot.Reply) bot.Reply {
	h.t.Helper()
	require.Empty(h.t, r.Text, "the export went through the channel")
	require.Nil(h.t, r.File)
	m, ok := h.teams.last()
	require.True(h.t, ok, "nothing was sent")
	return bot.Reply{Text: m.Text, File: m.File}
}

// harness is a Service on a store with a clock, captured logs, a recording
// forgetter and a recording Teams sender.
type harness struct {
	t      testing.TB
	ctx    context.Context
	st     testStore
	svc    *Service
	clock  *bottest.Clock
	logs   *bottest.LogBuffer
	forget *recForgetter
	teams  *recChannel
	dir    string // the store's directory, "" for the in-memory store
	log    zerolog.Logger
	opts   []harnessOpt // the options newHarness was given
	// exports is the service's export directory.
	exports string
}

// options are the service's options: the harness's defaults changed by
// the options newHarness was given.
func (h *harness) options() Options {
	o := Options{
		Log: h.log, Store: h.st, Forgetters: []bot.Forgetter{h.forget},
		Senders: map[bot.Platform]bot.Channel{bot.Teams: h.teams},
		Now:     h.clock.Now, ExportDir: h.exports,
		Policy: Policy{Controller: "Acme Plumbing Ltd", Contact: "privacy@acme.example", LLMProvider: "OpenAI (USA)"},
	}
	for _, f := range h.opts {
		f(&o)
	}
	return o
}

type harnessOpt func(*Options)

func newHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, ctx: context.Background(), clock: newClock(), logs: &bottest.LogBuffer{}, forget: &recForgetter{}, teams: &recChannel{},
		opts: opts, exports: t.TempDir()}
	h.log = zerolog.New(h.logs).With().Timestamp().Logger()
	h.st, h.dir = openTestStore(t, h.clock.Now, h.log)
	svc, err := New(h.options())
	require.NoError(t, err)
	h.svc = svc
	h.forget.cards = svc.Cards()
	return h
}

// customer creates a WhatsApp customer known by a phone number and a LID.
func (h *harness) customer(phone, lid, name string) bot.Subject {
	h.t.Helper()
	s, err := h.st.ResolveSubject(h.ctx, bot.SubjectInput{
		Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}, {Kind: bot.IDLID, Value: lid}},
		Name:       name, Role: bot.RoleCustomer,
	})
	require.NoError(h.t, err)
	return s
}

// staffer creates a Teams staff member or admin.
func (h *harness) staffer(aad, name string, role bot.Role) bot.Subject {
	h.t.Helper()
	s, err := h.st.ResolveSubject(h.ctx, bot.SubjectInput{
		Identities: []bot.Identity{{Kind: bot.IDTeams, Value: aad}}, Name: name, Role: role, Tenant: "tenant-1",
	})
	require.NoError(h.t, err)
	return s
}

func chatOf(s bot.Subject) bot.ChatID { return bot.ChatID("chat-" + string(s.ID)) }

// conversation stores inbound messages of the customer, a draft for each
// and, for the first, a card and an approval by staff.
func (h *harness) conversation(c bot.Subject, by bot.Subject, texts ...string) {
	h.t.Helper()
	for i, text := range texts {
		h.clock.Add(time.Minute)
		m := bot.Message{Subject: c.ID, Platform: bot.WhatsApp, Chat: chatOf(c), PlatformID: bot.MessageID("WAMID-" + string(c.ID) + "-" + string(rune('a'+i))),
			Dir: bot.In, Kind: bot.KindText, Text: text, SentAt: h.clock.Now(), Status: bot.StatusReceived}
		id, _, err := h.st.SaveInbound(h.ctx, m)
		require.NoError(h.t, err)
		d := bot.Draft{Subject: c.ID, MessageID: id, Platform: bot.WhatsApp, Chat: m.Chat, Text: "Draft answer to: " + text,
			Status: bot.DraftPending, Result: &bot.DraftResult{Text: "Draft answer to: " + text, Intent: "question"}}
		did, err := h.st.CreateDraft(h.ctx, d)
		require.NoError(h.t, err)
		if i == 0 && by.ID != "" {
			require.NoError(h.t, h.st.SaveCard(h.ctx, did, bot.CardRef{Conversation: "staff-conv", ActivityID: "act-" + string(c.ID)}))
			require.NoError(h.t, h.st.Decide(h.ctx, bot.Decision{DraftID: did, Kind: bot.Edit, Text: "Edited reply about " + text,
				By: bot.Identity{Kind: bot.IDTeams, Value: "aad-staff"}, Tenant: "tenant-1", ByName: "Sam Staff", ActionID: "click-" + string(c.ID), At: h.clock.Now()}))
		}
	}
}

// say sends text from the subject in its own chat: a command goes to
// Handle, other text to Intercept.
func (h *harness) say(s bot.Subject, text string) (bot.Reply, bool, error) {
	return h.sayIn(s, text, false)
}

func (h *harness) sayIn(s bot.Subject, text string, group bool) (bot.Reply, bool, error) {
	h.t.Helper()
	p := bot.WhatsApp
	if s.Role != bot.RoleCustomer {
		p = bot.Teams
	}
	req := bot.CommandRequest{Text: text, Subject: s, Platform: p, Chat: chatOf(s), Group: group, At: h.clock.Now()}
	if cmd, ok := bot.ParseCommand(text); ok {
		req.Command = cmd
		r, err := h.svc.Handle(h.ctx, req)
		return r, true, err
	}
	return h.svc.Intercept(h.ctx, req)
}

// must says text and requires it to be handled without error.
func (h *harness) must(s bot.Subject, text string) bot.Reply {
	h.t.Helper()
	r, handled, err := h.say(s, text)
	require.NoError(h.t, err)
	require.True(h.t, handled)
	return r
}

// exportOf returns the subject's own export document (bypassing the
// rate limit and the register).
func (h *harness) exportOf(s bot.SubjectID) string {
	h.t.Helper()
	var b strings.Builder
	_, err := writeExport(h.ctx, h.st, &b, h.clock.Now(), 1, ScopeSelf, h.svc.policy.Supplementary(), []bot.SubjectID{s})
	require.NoError(h.t, err)
	return b.String()
}
