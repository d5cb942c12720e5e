package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/store"
)

func TestApproveSendDeliverRead(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(1)
	h.send(c, "Are you open on Sunday?")

	card := h.cardFor("Are you open on Sunday?")
	assert.Equal(t, c.name, card.Customer)
	assert.Equal(t, "Thanks for your message. We open at 9.", card.Draft)
	assert.Equal(t, bot.DraftPending, card.Status)
	assert.NotEmpty(t, card.Subject)
	reqs := h.drafter.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "Are you open on Sunday?", reqs[0].Message.Text)

	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ActionID: "click-1"})
	assert.Equal(t, bot.Applied, res.Outcome)
	assert.Equal(t, "Ann Staff", res.Card.DecidedBy)

	sends := h.waitSends(c.chat, 1)
	assert.Equal(t, []string{"Thanks for your message. We open at 9."}, sends)
	card = h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "card shows sent")
	assert.Equal(t, bot.DraftSent, card.Status)

	id := h.wa.Sends()[0].ID
	ctx := context.Background()
	require.NoError(t, h.wa.InjectReceipt(ctx, bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id}, Status: bot.StatusDelivered}))
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusDelivered }, "card shows delivered")
	require.NoError(t, h.wa.InjectReceipt(ctx, bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id}, Status: bot.StatusRead}))
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusRead }, "card shows read")
	// A late "delivered" never lowers "read".
	require.NoError(t, h.wa.InjectReceipt(ctx, bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id}, Status: bot.StatusDelivered}))
	require.NoError(t, h.stop())
	got, _ := h.notifier.Card(card.DraftID)
	assert.Equal(t, bot.StatusRead, got.SendStatus)
	assert.Len(t, h.wa.SendsTo(c.chat), 1)
}

func TestEditThenSend(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(2)
	h.send(c, "How much is a haircut?")
	card := h.cardFor("How much is a haircut?")

	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: "   "})
	assert.Equal(t, bot.Refused, res.Outcome, "an empty edit is refused")
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: "A haircut is £25."})
	assert.Equal(t, bot.Applied, res.Outcome)
	assert.Equal(t, []string{"A haircut is £25."}, h.waitSends(c.chat, 1))
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "card shows sent")

	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	assert.Equal(t, bot.AlreadyDecided, res.Outcome)
	assert.Contains(t, res.Message, "Already approved with edits by Ann Staff at ")
}

func TestReject(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(3)
	h.send(c, "Spam spam spam")
	card := h.cardFor("Spam spam spam")

	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Reject, ByName: "Bob Staff"})
	assert.Equal(t, bot.Applied, res.Outcome)
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.Status == bot.DraftRejected }, "card shows rejected")

	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	assert.Equal(t, bot.AlreadyDecided, res.Outcome)
	assert.Regexp(t, `^Already rejected by Bob Staff at \d\d:\d\d; nothing sent\.$`, res.Message)
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.SendsTo(c.chat))
}

func TestDuplicateApproveSendsOnce(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	t.Run("Repeated click", func(t *testing.T) {
		c := newCustomer(4)
		h.send(c, "Repeated?")
		card := h.cardFor("Repeated?")
		first := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ActionID: "a-1"})
		require.Equal(t, bot.Applied, first.Outcome)
		again := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ActionID: "a-1"})
		assert.Equal(t, bot.AlreadyDecided, again.Outcome, "a retried delivery of the same click")
		other := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ActionID: "a-2"})
		assert.Equal(t, bot.AlreadyDecided, other.Outcome)
		assert.Regexp(t, `^Already approved by Ann Staff at \d\d:\d\d; nothing sent again\.$`, other.Message)
		h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent")
	})
	t.Run("Concurrent double-click", func(t *testing.T) {
		c := newCustomer(5)
		h.send(c, "Concurrent?")
		card := h.cardFor("Concurrent?")
		const n = 12
		outcomes := make([]bot.Outcome, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res, err := h.router.Decide(context.Background(), bot.Decision{
					DraftID: card.DraftID, Token: card.Token, Kind: bot.Approve, ActionID: fmt.Sprintf("c-%d", i),
					By: bot.Identity{Kind: bot.IDTeams, Value: fmt.Sprintf("00000000-0000-0000-0000-%012d", i)}, ByName: "Staff",
				})
				assert.NoError(t, err)
				outcomes[i] = res.Outcome
			})
		}
		wg.Wait()
		applied := 0
		for _, o := range outcomes {
			if o == bot.Applied {
				applied++
			} else {
				assert.Equal(t, bot.AlreadyDecided, o)
			}
		}
		assert.Equal(t, 1, applied)
		h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent")
	})
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.SendsTo(newCustomer(4).chat), 1)
	assert.Len(t, h.wa.SendsTo(newCustomer(5).chat), 1)
}

func TestStoppedBetweenApprovalAndSend(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(6)
	h.send(c, "Can I book for Friday?")
	card := h.cardFor("Can I book for Friday?")

	// The process stops (router drained, store closed) right after the
	// approval was stored: the send has not happened.
	require.NoError(t, h.stop())
	h.db = h.openStore()
	r := h.newRouter(h.db)
	res, err := r.Decide(context.Background(), bot.Decision{DraftID: card.DraftID, Token: card.Token, Kind: bot.Approve, ByName: "Ann Staff",
		By: bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000a1"}})
	require.NoError(t, err)
	require.Equal(t, bot.Applied, res.Outcome)
	require.NoError(t, h.db.Close())
	assert.Empty(t, h.wa.SendsTo(c.chat), "nothing sent before the restart")

	h.start()
	assert.Equal(t, []string{"Thanks for your message. We open at 9."}, h.waitSends(c.chat, 1))
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "card updated after restart")
	h.restart()
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.SendsTo(c.chat), 1, "sent exactly once across restarts")
}

func TestCommands(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(7)
	h.send(c, "/frobnicate now")
	h.send(c, "/HELP")
	sends := h.waitSends(c.chat, 2)
	assert.Equal(t, "Unknown command /frobnicate. Send /help for the list.", sends[0])
	assert.Equal(t, bot.BuiltinHelp, sends[1])
	require.NoError(t, h.stop())
	assert.Empty(t, h.drafter.Requests(), "commands are not drafted")
	assert.Empty(t, h.notifier.Posts())

	t.Run("Restart does not draft stored commands", func(t *testing.T) {
		h.start()
		h.send(c, "a real question")
		h.cardFor("a real question")
		require.NoError(t, h.stop())
		require.Len(t, h.drafter.Requests(), 1)
		assert.Equal(t, "a real question", h.drafter.Requests()[0].Message.Text)
	})
}

// commandsFn is a function-field fake of the privacy service.
type commandsFn struct {
	handle    func(bot.CommandRequest) (bot.Reply, error)
	intercept func(bot.CommandRequest) (bot.Reply, bool, error)
}

func (c commandsFn) Handle(_ context.Context, req bot.CommandRequest) (bot.Reply, error) {
	return c.handle(req)
}

func (c commandsFn) Intercept(_ context.Context, req bot.CommandRequest) (bot.Reply, bool, error) {
	return c.intercept(req)
}

func TestCommandsService(t *testing.T) {
	cmds := commandsFn{
		handle: func(req bot.CommandRequest) (bot.Reply, error) {
			switch req.Command.Name {
			case "export":
				return bot.Reply{Text: "Your data", File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte("{}")}}, nil
			case "forget":
				return bot.Reply{}, &bot.UserError{Code: "confirm", Safe: "Reply YES to confirm.", Err: errors.New("needs confirmation")}
			}
			return bot.Reply{}, bot.ErrUnknownCommand
		},
		intercept: func(req bot.CommandRequest) (bot.Reply, bool, error) {
			if req.Text == "YES" {
				return bot.Reply{Text: "Erased."}, true, nil
			}
			return bot.Reply{}, false, nil
		},
	}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Commands = cmds })
	c := newCustomer(8)
	h.send(c, "/export")
	h.send(c, "/forget me")
	h.send(c, "YES")
	h.send(c, "/help")
	h.send(c, "/nope")
	sends := h.waitSends(c.chat, 5)
	assert.Equal(t, []string{"Your data", "Reply YES to confirm.", "Erased.", bot.CommandHelp, "Unknown command /nope. Send /help for the list."}, sends)
	assert.NotNil(t, h.wa.Sends()[0].File)
	require.NoError(t, h.stop())
	assert.Empty(t, h.drafter.Requests())
}

// TestReplyFileTheChannelCannotSend: a command's file that the chat's
// channel does not send (a ZIP where only photos and PDFs go) is left out
// before any call, and the reply says so; a file whose send fails is
// followed by a plain text saying it did not go. Never silence.
func TestReplyFileTheChannelCannotSend(t *testing.T) {
	zip := &bot.File{Name: "export.zip", MIME: "application/zip", Data: []byte("PK\x03\x04 zip")}
	cmds := commandsFn{
		handle: func(bot.CommandRequest) (bot.Reply, error) {
			return bot.Reply{Text: "Your data", File: zip}, nil
		},
		intercept: func(bot.CommandRequest) (bot.Reply, bool, error) { return bot.Reply{}, false, nil },
	}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Commands = cmds })
	h.wa.SetCapabilities(bot.Capabilities{Files: true, FileTypes: []bot.FileType{{MIME: "image/jpeg"}, {MIME: "application/pdf"}}})
	c := newCustomer(9)
	h.send(c, "/export")
	sends := h.waitSends(c.chat, 1)
	assert.Equal(t, "Your data\n\nThe file that goes with this (a ZIP archive, 8 bytes) cannot be sent in this chat; please ask in another chat.", sends[0])
	assert.Nil(t, h.wa.Sends()[0].File)

	h.wa.SetCapabilities(bot.Capabilities{Files: true})
	h.wa.FailNext(1, fmt.Errorf("upload: %w", bot.ErrUnavailable))
	h.send(c, "/export")
	sends = h.waitSends(c.chat, 2)
	assert.Equal(t, bot.ReplyFileFailed, sends[1], "the failed file is followed by a plain text")
	require.NoError(t, h.stop())
}

// TestCommandsAreNotConversation: a command is kept as its name only; its
// arguments (an erased person's number in an admin's "/forget 07700 900987",
// another customer's number in a refused one) reach Commands but are never
// stored in the sender's history or export.
func TestCommandsAreNotConversation(t *testing.T) {
	var mu sync.Mutex
	var args []string
	cmds := commandsFn{
		handle: func(req bot.CommandRequest) (bot.Reply, error) {
			mu.Lock()
			args = append(args, req.Command.Args)
			mu.Unlock()
			return bot.Reply{Text: "ok"}, nil
		},
		intercept: func(bot.CommandRequest) (bot.Reply, bool, error) { return bot.Reply{}, false, nil },
	}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Commands = cmds })
	admin := bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000a9"}
	in := bot.Inbound{Platform: bot.Teams, Chat: "a:admin-chat", ID: "act-forget", Sender: admin,
		Tenant: "00000000-0000-0000-0000-00000000000t", Role: bot.RoleAdmin, Text: "/forget 07700 900987", SentAt: time.Now()}
	require.NoError(t, h.teams.Inject(context.Background(), in))
	c := newCustomer(11)
	h.send(c, "/forget whatsapp-lid:123456789@lid")
	require.Eventually(t, func() bool { return len(h.teams.SendsTo("a:admin-chat")) == 1 && len(h.wa.SendsTo(c.chat)) == 1 }, wait, tick)
	mu.Lock()
	assert.ElementsMatch(t, []string{"07700 900987", "whatsapp-lid:123456789@lid"}, args, "Commands see the arguments")
	mu.Unlock()

	for _, who := range []struct {
		id   bot.Identity
		chat bot.ChatID
	}{{admin, "a:admin-chat"}, {bot.Identity{Kind: bot.IDPhone, Value: c.phone}, c.chat}} {
		subs, err := h.db.FindSubjects(context.Background(), who.id)
		require.NoError(t, err)
		require.Len(t, subs, 1)
		hist, err := h.db.History(context.Background(), subs[0], who.chat, 0, 10)
		require.NoError(t, err)
		require.Len(t, hist, 1)
		assert.Equal(t, "/forget", hist[0].Text, "only the command's name is kept")
	}
}

// TestMergedAwayMessageIsDrafted: a message queued for a subject that a
// later message merges into an older one (a LID first, the phone number
// next, then a message carrying both) still reaches staff, under the
// subject it was merged into.
func TestMergedAwayMessageIsDrafted(t *testing.T) {
	t.Run("MessageFinder", func(t *testing.T) { testMergedAway(t, nil) })
	// Without FindMessage the message waits for the rescan, which reads
	// it under its new subject.
	t.Run("Rescan", func(t *testing.T) { testMergedAway(t, func(o *bot.Options) { o.Store = plainStore{o.Store} }) })
}

func testMergedAway(t *testing.T, opts func(*bot.Options)) {
	release := make(chan struct{})
	var once sync.Once
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		o.Workers = 1
		if opts != nil {
			opts(o)
		}
	})
	h.drafter.Fn = func(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
		if req.Message.Text == "blocker" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return bot.DraftResult{Text: "draft", Intent: "question"}, nil
	}
	defer once.Do(func() { close(release) })
	lid := bot.Identity{Kind: bot.IDLID, Value: "123456789@lid"}
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+447700900321"}
	msg := func(id, text string, sender bot.Identity, alt ...bot.Identity) bot.Inbound {
		return bot.Inbound{Platform: bot.WhatsApp, Chat: bot.ChatID(strings.TrimPrefix(sender.Value, "+")), ID: bot.MessageID(id),
			Sender: sender, AltSenders: alt, Role: bot.RoleCustomer, Kind: bot.KindText, Text: text, SentAt: time.Now()}
	}
	// The one worker is held by another customer's draft.
	h.send(newCustomer(12), "blocker")
	require.Eventually(t, func() bool { return len(h.drafter.Requests()) == 1 }, wait, tick)
	require.NoError(t, h.wa.Inject(context.Background(), msg("m1", "first, from the LID", lid)))
	require.NoError(t, h.wa.Inject(context.Background(), msg("m2", "second, from the phone", phone)))
	require.NoError(t, h.wa.Inject(context.Background(), msg("m3", "third, with both", phone, lid)))
	once.Do(func() { close(release) })

	for _, text := range []string{"first, from the LID", "second, from the phone", "third, with both"} {
		card := h.cardFor(text)
		subs, err := h.db.FindSubjects(context.Background(), lid)
		require.NoError(t, err)
		require.Len(t, subs, 1)
		assert.Equal(t, subs[0], card.Subject, "%q is drafted under the merged subject", text)
	}
}

func TestStaffPlainTextGetsHelp(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	in := bot.Inbound{Platform: bot.Teams, Chat: "a:staff-chat", ID: "act-1", Sender: bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000b2"},
		Tenant: "00000000-0000-0000-0000-00000000000t", Role: bot.RoleStaff, Text: "hello bot", SentAt: time.Now()}
	require.NoError(t, h.teams.Inject(context.Background(), in))
	require.Eventually(t, func() bool { return len(h.teams.SendsTo("a:staff-chat")) == 1 }, wait, tick)
	assert.Equal(t, bot.StaffHelp, h.teams.SendsTo("a:staff-chat")[0])
	require.NoError(t, h.stop())
	assert.Empty(t, h.drafter.Requests())
}

func TestLongMessageTruncated(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(9)
	// 100 kB whose cut falls inside a three-byte character.
	long := strings.Repeat("a", 16380-1) + strings.Repeat("€", (102400-16379)/3)
	long += strings.Repeat("b", 102400-len(long))
	require.Len(t, long, 102400)
	h.send(c, long)
	h.send(c, "and a short one")

	var card bot.Card
	require.Eventually(t, func() bool {
		for _, p := range h.notifier.Cards() {
			if strings.HasPrefix(p.Message, "aaaa") && p.Status != bot.DraftDrafting {
				card = p
				return true
			}
		}
		return false
	}, wait, tick)
	assert.Contains(t, card.Note, "message truncated from 102400 bytes")
	assert.LessOrEqual(t, len(card.Message), bot.DefaultMaxText)
	assert.True(t, strings.HasPrefix(long, strings.SplitN(card.Message, "\n\n[message truncated", 2)[0]))
	h.cardFor("and a short one")
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	assert.Equal(t, bot.Applied, res.Outcome)
	h.waitSends(c.chat, 1)
}

func TestDrafterFailureThenRetry(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	h.drafter.FailNext(1)
	c := newCustomer(10)
	h.send(c, "Will this fail?")
	card := h.cardFor("Will this fail?")
	assert.Equal(t, bot.DraftFailed, card.Status)
	assert.Equal(t, bot.FailOther.Note(), card.Note)
	assert.Empty(t, card.Draft)

	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Retry})
	require.Equal(t, bot.Applied, res.Outcome)
	card = h.waitCard(card.DraftID, func(c bot.Card) bool { return c.Status == bot.DraftPending && c.Draft != "" }, "retry drafted")
	assert.Empty(t, card.Note)

	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Regenerate, Instruction: "shorter"})
	require.Equal(t, bot.Applied, res.Outcome)
	require.Eventually(t, func() bool {
		reqs := h.drafter.Requests()
		return len(reqs) == 3 && reqs[2].Instruction == "shorter" && reqs[2].Previous != ""
	}, wait, tick)
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	assert.Equal(t, bot.Applied, res.Outcome)
	h.waitSends(c.chat, 1)
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Regenerate})
	assert.Equal(t, bot.AlreadyDecided, res.Outcome)
}

func TestAIRestrictedNeverReachesDrafter(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(11)
	ctx := context.Background()
	subj, err := h.db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: c.phone}}, Role: bot.RoleCustomer})
	require.NoError(t, err)
	require.NoError(t, h.db.SetAIRestricted(ctx, subj.ID, true))

	h.send(c, "Private question")
	card := h.cardFor("Private question")
	assert.Equal(t, bot.NoteAIOff, card.Note)
	assert.Empty(t, card.Draft)
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Regenerate})
	require.Equal(t, bot.Applied, res.Outcome)
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.Note == bot.NoteAIOff }, "still manual")
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	assert.Equal(t, bot.Refused, res.Outcome, "an empty manual draft cannot be approved as is")
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: "Written by hand."})
	assert.Equal(t, bot.Applied, res.Outcome)
	assert.Equal(t, []string{"Written by hand."}, h.waitSends(c.chat, 1))
	require.NoError(t, h.stop())
	assert.Empty(t, h.drafter.Requests(), "the drafter never saw the restricted subject")
}

func TestQueueFullDraftsLater(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Workers = 1; o.QueueSize = 1 })
	h.drafter.Fn = func(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return bot.DraftResult{}, ctx.Err()
		}
		return bot.DraftResult{Text: "reply to " + req.Message.Text}, nil
	}
	c1, c2, c3 := newCustomer(21), newCustomer(22), newCustomer(23)
	h.send(c1, "one")
	require.Eventually(t, func() bool { return len(h.drafter.Requests()) == 1 }, wait, tick, "the worker holds the first")
	h.send(c2, "two")
	// The drafting queue is full: "three" waits in the store. (If the start
	// queue still holds "two", Deliver says so: stored, drafted later.)
	if err := h.wa.Inject(context.Background(), c3.inbound("three")); err != nil {
		require.ErrorIs(t, err, bot.ErrQueueFull)
	}
	// Cards first: every message has its card while the drafter is stuck.
	require.Eventually(t, func() bool {
		n := 0
		for _, c := range h.notifier.Cards() {
			if c.Status == bot.DraftDrafting && c.Message != "" {
				n++
			}
		}
		return n == 3
	}, wait, tick, "three drafting cards")
	close(release)
	for _, text := range []string{"one", "two", "three"} {
		h.cardFor(text)
	}
	require.NoError(t, h.stop())
	assert.Len(t, h.drafter.Requests(), 3, "each message drafted once")
	assert.Len(t, h.notifier.Posts(), 3, "one card each")
}

func TestUncardedPostedOnRestartWithNotifier(t *testing.T) {
	var noNotifier = true
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		if noNotifier {
			o.Notifier = nil
		}
	})
	c := newCustomer(12)
	h.send(c, "anyone there?")
	require.Eventually(t, func() bool { return len(h.drafter.Requests()) == 1 }, wait, tick)
	require.NoError(t, h.stop())
	assert.Empty(t, h.notifier.Posts())
	noNotifier = false
	h.start()
	card := h.cardFor("anyone there?")
	assert.Equal(t, bot.DraftPending, card.Status)
	h.restart()
	require.NoError(t, h.stop())
	assert.Len(t, h.notifier.Posts(), 1, "posted once")
	assert.Len(t, h.drafter.Requests(), 1, "drafted once")
}

func TestSendRetriesThenFails(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.SendAttempts = 3 })
	c, d := newCustomer(13), newCustomer(14)
	h.send(c, "retry me")
	card := h.cardFor("retry me")
	h.wa.FailNext(2, nil)
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent on the third attempt")
	assert.Len(t, h.wa.SendsTo(c.chat), 1)

	h.send(d, "fail me")
	card = h.cardFor("fail me")
	h.wa.FailNext(3, nil)
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusFailed }, "failed after three attempts")
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.SendsTo(d.chat))
	require.Len(t, h.notifier.Alerts(), 1, "admins hear of a reply given up")
	assert.Contains(t, h.notifier.Alerts()[0], fmt.Sprintf("draft %d", card.DraftID))
}

func TestSendWaitsForUnavailableChannel(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		o.SendAttempts = 2
		o.UnavailableWait = time.Millisecond
	})
	c := newCustomer(31)
	h.send(c, "send me after the reconnect")
	card := h.cardFor("send me after the reconnect")
	// Far more failures than SendAttempts, all "not connected": none counts.
	h.wa.FailNext(10, fmt.Errorf("reconnecting: %w", bot.ErrUnavailable))
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent once the channel is back")
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.SendsTo(c.chat), 1)
	assert.Empty(t, h.notifier.Alerts(), "nothing was given up")
}

func TestRevokeUpdatesCard(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(15)
	in := h.send(c, "oops, wrong chat")
	card := h.cardFor("oops, wrong chat")
	require.NoError(t, h.wa.InjectRevoke(context.Background(), c.chat, in.Sender, in.ID))
	card = h.waitCard(card.DraftID, func(c bot.Card) bool { return strings.Contains(c.Note, bot.NoteRevoked) }, "card says deleted")
	assert.NotContains(t, card.Message, "oops")
	assert.NoError(t, h.wa.InjectRevoke(context.Background(), c.chat, in.Sender, "never-stored"))
}

func TestDeliverValidates(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	ctx := context.Background()
	good := newCustomer(16).inbound("hi")
	tests := []struct {
		name string
		edit func(*bot.Inbound)
		want string
	}{
		{"No platform", func(in *bot.Inbound) { in.Platform = "" }, "no platform"},
		{"No sender", func(in *bot.Inbound) { in.Sender = bot.Identity{} }, "no sender"},
		{"No chat", func(in *bot.Inbound) { in.Chat = "" }, "no chat"},
		{"No id", func(in *bot.Inbound) { in.ID = "" }, "no platform message id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := good
			tc.edit(&in)
			assert.ErrorContains(t, h.router.Deliver(ctx, in), tc.want)
		})
	}
	require.NoError(t, h.router.Deliver(ctx, good))
	require.NoError(t, h.router.Deliver(ctx, good), "a redelivery is accepted and ignored")
	h.cardFor("hi")
	require.NoError(t, h.stop())
	assert.Len(t, h.drafter.Requests(), 1)
	assert.ErrorIs(t, h.router.Deliver(ctx, good), bot.ErrStopped)
}

func TestNonTextPlaceholder(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(17)
	in := c.inbound("")
	in.Kind = bot.KindVoice
	in.SenderName = ""
	require.NoError(t, h.wa.Inject(context.Background(), in))
	card := h.cardFor("[voice note]")
	assert.Equal(t, "+44 7••• ••0017", card.Customer, "no name: a masked number")
	in = c.inbound("look at this")
	in.Kind = bot.KindImage
	require.NoError(t, h.wa.Inject(context.Background(), in))
	h.cardFor("[image] look at this")
}

// TestLogsCarryNoPersonalData runs whole flows with a planted phone number,
// name and message text and checks none of them reaches the logs.
func TestLogsCarryNoPersonalData(t *testing.T) {
	var buf bottest.LogBuffer
	log := zerolog.New(&buf).Level(zerolog.DebugLevel)
	h := newHarness(t, log, nil)
	const (
		phone = "+447700900123"
		name  = "Zebulon Quixote"
		text  = "my parcel code is XYZZY-4242"
		reply = "Your code XYZZY-4242 is noted, Zebulon"
	)
	h.drafter.Text = reply
	c := &customer{phone: phone, name: name, chat: "447700900123@s.whatsapp.net"}
	h.send(c, text)
	card := h.cardFor(text)
	h.wa.FailNext(1, nil)
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ByName: "Yolanda Staffperson"})
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent")
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ByName: "Yolanda Staffperson"})
	h.send(c, "/frobnicate "+text)
	h.drafter.Fn = func(_ context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
		// A model endpoint whose error echoes the prompt.
		return bot.DraftResult{}, fmt.Errorf("400 bad request: %q", req.Message.Text)
	}
	in := h.send(c, text+" again")
	h.cardFor(text + " again")
	require.NoError(t, h.wa.InjectRevoke(context.Background(), c.chat, in.Sender, in.ID))
	h.restart()
	require.NoError(t, h.stop())

	out := buf.String()
	require.Contains(t, out, `"subject":"s_`, "logs name subjects by id")
	for _, secret := range []string{phone, "7700900123", name, "Zebulon", "Quixote", "XYZZY", "parcel", "Yolanda", "frobnicate"} {
		assert.NotContains(t, out, secret)
	}
	_ = channeltest.ErrInjected
}

func TestStopDrainsQueueInChatOrder(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Workers = 3 })
	customers := []*customer{newCustomer(31), newCustomer(32), newCustomer(33), newCustomer(34)}
	for i := range 6 {
		for _, c := range customers {
			h.send(c, fmt.Sprintf("%s message %d", c.chat, i))
		}
	}
	require.NoError(t, h.stop(), "the drain finishes within its deadline")
	reqs := h.drafter.Requests()
	require.Len(t, reqs, 24, "every queued message was drafted before Run returned")
	next := map[bot.ChatID]int{}
	for _, req := range reqs {
		chat := req.Message.Chat
		assert.Equal(t, fmt.Sprintf("%s message %d", chat, next[chat]), req.Message.Text, "one chat's messages are drafted in order")
		next[chat]++
		if next[chat] > 1 {
			assert.NotEmpty(t, req.History, "the drafter sees the earlier messages")
		}
	}
	h.start()
	require.NoError(t, h.stop())
	assert.Len(t, h.drafter.Requests(), 24, "nothing drafted twice after restart")
	assert.Len(t, h.notifier.Posts(), 24)
}

// countMetrics counts calls; it is safe for concurrent use.
type countMetrics struct {
	mu sync.Mutex
	n  map[string]int
}

func (m *countMetrics) add(k string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[k]++
}

func (m *countMetrics) get(k string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[k]
}

func (m *countMetrics) Inbound(p bot.Platform)    { m.add("inbound:" + string(p)) }
func (m *countMetrics) Drafted(s bot.DraftStatus) { m.add("drafted:" + string(s)) }
func (m *countMetrics) Decided(k bot.DecisionKind, o bot.Outcome) {
	m.add("decided:" + string(k) + ":" + string(o))
}
func (m *countMetrics) Failure(stage string) { m.add("failure:" + stage) }
func (m *countMetrics) Sent(p bot.Platform, err error) {
	if err != nil {
		m.add("sent-error:" + string(p))
		return
	}
	m.add("sent:" + string(p))
}

func TestMetricsCountEveryStep(t *testing.T) {
	m := &countMetrics{}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Metrics = m })
	c := newCustomer(40)
	h.send(c, "count me")
	card := h.cardFor("count me")
	h.wa.FailNext(1, nil)
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent")
	require.NoError(t, h.stop())
	assert.Equal(t, 1, m.get("inbound:whatsapp"))
	assert.Equal(t, 1, m.get("drafted:pending"))
	assert.Equal(t, 1, m.get("decided:approve:applied"))
	assert.Equal(t, 1, m.get("decided:approve:already-decided"))
	assert.Equal(t, 1, m.get("sent-error:whatsapp"))
	assert.Equal(t, 1, m.get("sent:whatsapp"))
}

func TestDecideNeedsDecider(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(41)
	h.send(c, "who decides?")
	card := h.cardFor("who decides?")
	res, err := h.router.Decide(context.Background(), bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	require.NoError(t, err)
	assert.Equal(t, bot.Refused, res.Outcome)
	res = h.decide(bot.Decision{DraftID: 0, Kind: bot.Approve})
	assert.Equal(t, bot.Refused, res.Outcome)
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: "dance"})
	assert.Equal(t, bot.Refused, res.Outcome)
	res = h.decide(bot.Decision{DraftID: card.DraftID + 1000, Kind: bot.Approve})
	assert.Equal(t, bot.Refused, res.Outcome)
	assert.Contains(t, res.Message, "no longer exists")
}

func TestRunOnce(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	r := h.newRouter(h.db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, r.Run(ctx), "a cancelled Run drains and returns")
	assert.ErrorContains(t, r.Run(context.Background()), "already started")
}

// markingStore is the real store plus a record of MarkHandled calls.
type markingStore struct {
	*store.DB
	mu     sync.Mutex
	marked []int64
}

func (m *markingStore) MarkHandled(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marked = append(m.marked, id)
	return nil
}

// count returns the number of distinct ids marked (a startup rescan may
// mark a stored command again; marking is idempotent).
func (m *markingStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[int64]bool{}
	for _, id := range m.marked {
		seen[id] = true
	}
	return len(seen)
}

func TestAnsweredWithoutDraftIsMarkedHandled(t *testing.T) {
	var ms *markingStore
	cmds := commandsFn{
		handle: func(bot.CommandRequest) (bot.Reply, error) { return bot.Reply{}, bot.ErrUnknownCommand },
		intercept: func(req bot.CommandRequest) (bot.Reply, bool, error) {
			return bot.Reply{Text: "ok"}, req.Text == "YES", nil
		},
	}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		o.Commands = cmds
		ms = &markingStore{DB: o.Store.(*store.DB)}
		o.Store = ms
	})
	c := newCustomer(42)
	h.send(c, "/help")
	h.send(c, "YES")
	staff := bot.Inbound{Platform: bot.Teams, Chat: "a:staff", ID: "act-9", Sender: bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000c3"}, Role: bot.RoleStaff, Text: "hi"}
	require.NoError(t, h.teams.Inject(context.Background(), staff))
	h.send(c, "a question")
	h.cardFor("a question")
	assert.Equal(t, 3, ms.count(), "command, intercepted text and staff text; not the drafted question")
}

func TestCardPostRetried(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	h.notifier.FailPosts(1)
	c := newCustomer(43)
	h.send(c, "card later")
	h.cardFor("card later")
	require.NoError(t, h.stop())
	assert.Len(t, h.notifier.Posts(), 1)
}

func TestDrainDeadlineResumesOnRestart(t *testing.T) {
	block := true
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.DrainTimeout = 200 * time.Millisecond })
	h.drafter.Fn = func(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
		if block {
			<-ctx.Done() // a model call that outlives the drain
			return bot.DraftResult{}, ctx.Err()
		}
		return bot.DraftResult{Text: "late but here"}, nil
	}
	c := newCustomer(44)
	h.send(c, "slow one")
	require.Eventually(t, func() bool { return len(h.drafter.Requests()) == 1 }, wait, tick)
	require.Eventually(t, func() bool {
		cards := h.notifier.Cards()
		return len(cards) == 1 && cards[0].Status == bot.DraftDrafting
	}, wait, tick, "the card is up while the model works")
	assert.ErrorContains(t, h.stop(), "drain deadline passed")
	require.Len(t, h.notifier.Cards(), 1)
	assert.Equal(t, bot.DraftDrafting, h.notifier.Cards()[0].Status, "no failed draft is stored for a cut-off call")

	block = false
	h.start()
	card := h.cardFor("slow one")
	assert.Equal(t, "late but here", card.Draft)
}

func TestDeliverBeforeRun(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	require.NoError(t, h.stop())
	h.db = h.openStore()
	t.Cleanup(func() { _ = h.db.Close() })
	r := h.newRouter(h.db)
	c := newCustomer(45)
	require.NoError(t, r.Deliver(context.Background(), c.inbound("early bird")))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	h.cardFor("early bird")
	cancel()
	require.NoError(t, <-done)
	assert.Len(t, h.drafter.Requests(), 1)
}

// FuzzDeliver feeds arbitrary inbound messages through the router into a
// real store: Deliver never panics, and a message it accepted is a
// duplicate the second time.
func FuzzDeliver(f *testing.F) {
	f.Add("hello", "Ann", "text", "+447700900123", false)
	f.Add("/forget me", "", "text", "+447700900124", false)
	f.Add("\xff\xfe bad utf8", "\x00", "voice", "+447700900125", true)
	f.Add("", "", "", "", false)
	f.Add(strings.Repeat("€", 7000), strings.Repeat("n", 400), "image", "+1 (555) 010-9999", true)
	h := newHarness(f, zerolog.Nop(), nil)
	n := 0
	f.Fuzz(func(t *testing.T, text, name, kind, phone string, group bool) {
		n++
		in := bot.Inbound{
			Platform: bot.WhatsApp, Chat: bot.ChatID(fmt.Sprintf("fuzz-%d", n%50)), ID: bot.MessageID(fmt.Sprintf("fuzz-%d", n)),
			Sender: bot.Identity{Kind: bot.IDPhone, Value: phone}, SenderName: name, Kind: bot.MessageKind(kind), Text: text, Group: group,
		}
		ctx := context.Background()
		if err := h.router.Deliver(ctx, in); err != nil {
			return
		}
		assert.NoError(t, h.router.Deliver(ctx, in), "a redelivery is a duplicate")
	})
}

func TestInterceptFailurePassesMessageOn(t *testing.T) {
	cmds := commandsFn{
		handle: func(bot.CommandRequest) (bot.Reply, error) { return bot.Reply{}, bot.ErrUnknownCommand },
		intercept: func(bot.CommandRequest) (bot.Reply, bool, error) {
			return bot.Reply{}, false, errors.New("privacy store down")
		},
	}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Commands = cmds })
	c := newCustomer(46)
	h.send(c, "still reaches staff")
	h.cardFor("still reaches staff")
	assert.Empty(t, h.wa.SendsTo(c.chat))
}

func TestReceiptStatuses(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(40)
	h.send(c, "Can you come on Friday?")
	card := h.cardFor("Can you come on Friday?")
	require.Equal(t, bot.Applied, h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve}).Outcome)
	h.waitSends(c.chat, 1)
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "card shows sent")
	id := h.wa.Sends()[0].ID
	ctx := context.Background()

	err := h.wa.InjectReceipt(ctx, bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id}, Status: bot.StatusReceived})
	assert.ErrorContains(t, err, "is not sent, delivered, read or failed")
	// A platform that reports "sent" again changes nothing.
	require.NoError(t, h.wa.InjectReceipt(ctx, bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id}, Status: bot.StatusSent}))
	// A failure reported after acceptance (an undeliverable number) reaches the card.
	require.NoError(t, h.wa.InjectReceipt(ctx, bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id}, Status: bot.StatusFailed, Reason: "131026 Message undeliverable"}))
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusFailed }, "card shows failed")
}
