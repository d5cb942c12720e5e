package bot_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// sentBeforeCrash leaves the process as a SIGKILL right after a send
// leaves it: the approved reply of text's draft is sending in the store and
// the platform has it, but nothing recorded the send. It returns the draft
// id and the item's key; the process is stopped.
func (h *harness) sentBeforeCrash(c *customer, text string) (int64, string) {
	h.t.Helper()
	h.send(c, text)
	card := h.cardFor(text)
	require.NoError(h.t, h.stop())
	h.db = h.openStore()
	r := h.newRouter(h.db)
	res, err := r.Decide(context.Background(), bot.Decision{DraftID: card.DraftID, Token: card.Token, Kind: bot.Approve,
		By: bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000a1"}, ByName: "Ann Staff"})
	require.NoError(h.t, err)
	require.Equal(h.t, bot.Applied, res.Outcome)
	ctx := context.Background()
	items, err := h.db.DueOutbox(ctx, time.Now(), 10)
	require.NoError(h.t, err)
	require.Len(h.t, items, 1)
	it := items[0]
	require.NoError(h.t, h.db.BeginSend(ctx, it.ID, time.Now()))
	_, err = h.wa.Send(ctx, bot.Outbound{Chat: it.Chat, Text: it.Text, Key: it.Key})
	require.NoError(h.t, err)
	require.NoError(h.t, h.db.Close())
	return card.DraftID, it.Key
}

// TestInDoubtSendResentWithSameKey: after a crash between send and record,
// an idempotent channel gets the reply again under the same key, which the
// platform treats as the same message: the customer has one.
func TestInDoubtSendResentWithSameKey(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(101)
	draft, _ := h.sentBeforeCrash(c, "in doubt?")
	h.start()
	h.waitCard(draft, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "resolved as sent")
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.SendsTo(c.chat), 1, "one message for the customer")
	assert.Equal(t, 1, h.wa.Repeats(), "resent once, with the same key")
}

// TestInDoubtSettledByReceipt: a channel that is not idempotent never gets
// an in-doubt reply again; the platform's receipt carrying the key settles
// it.
func TestInDoubtSettledByReceipt(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	h.wa.SetCapabilities(bot.Capabilities{Files: true})
	c := newCustomer(102)
	draft, key := h.sentBeforeCrash(c, "cloud in doubt?")
	h.start()
	// Well past a poll: nothing is resent while the receipt may come.
	time.Sleep(1500 * time.Millisecond)
	assert.Len(t, h.wa.Sends(), 1)
	id := h.wa.Sends()[0].ID
	require.NoError(t, h.wa.InjectReceipt(context.Background(), bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id},
		Status: bot.StatusSent, Key: key}))
	h.waitCard(draft, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "settled by the receipt")
	require.NoError(t, h.wa.InjectReceipt(context.Background(), bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{id},
		Status: bot.StatusRead}))
	h.waitCard(draft, func(c bot.Card) bool { return c.SendStatus == bot.StatusRead }, "later receipts find it by its id")
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.Sends(), 1, "never sent again")
}

// TestInDoubtUnconfirmedThenResent: with no receipt within InDoubtWait the
// reply is unconfirmed, the card says so and admins hear of it; staff may
// resend it. This is the one case that is not exactly once: if the first
// send did arrive, the customer now has two.
func TestInDoubtUnconfirmedThenResent(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.InDoubtWait = 50 * time.Millisecond })
	h.wa.SetCapabilities(bot.Capabilities{Files: true})
	c := newCustomer(103)
	draft, _ := h.sentBeforeCrash(c, "lost answer?")
	h.start()
	card := h.waitCard(draft, func(c bot.Card) bool { return c.SendStatus == bot.StatusUnconfirmed }, "unconfirmed")
	assert.Contains(t, card.SendReason, "WhatsApp did not confirm whether this reply was sent")
	require.Eventually(t, func() bool { return len(h.notifier.Alerts()) == 1 }, wait, tick, "admins are told")
	res := h.decide(bot.Decision{DraftID: draft, Kind: bot.Resend, ActionID: "resend-1"})
	require.Equal(t, bot.Applied, res.Outcome)
	h.waitCard(draft, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "resent")
	res = h.decide(bot.Decision{DraftID: draft, Kind: bot.Resend, ActionID: "resend-2"})
	assert.Equal(t, bot.AlreadyDecided, res.Outcome, "a sent reply is not resent")
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.SendsTo(c.chat), 2, "staff chose to send it again")
}

// TestChannelInDoubt: a channel that says ErrInDoubt (Meta may have taken
// the message: a lost answer, a 5xx) never gets the reply again, even when
// the error also wraps ErrUnavailable; a receipt with its key settles it,
// and without one it becomes unconfirmed.
func TestChannelInDoubt(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		o.InDoubtWait = 300 * time.Millisecond
		o.UnavailableWait = 10 * time.Millisecond
	})
	h.wa.SetCapabilities(bot.Capabilities{Files: true})
	inDoubt := fmt.Errorf("graph: no answer after the request left: %w: %w", bot.ErrInDoubt, bot.ErrUnavailable)

	settled, lost := newCustomer(104), newCustomer(105)
	h.send(settled, "settled by its status?")
	h.send(lost, "never confirmed?")
	c1, c2 := h.cardFor("settled by its status?"), h.cardFor("never confirmed?")

	h.wa.FailNext(1, inDoubt)
	res := h.decide(bot.Decision{DraftID: c1.DraftID, Kind: bot.Approve, ActionID: "a1"})
	require.Equal(t, bot.Applied, res.Outcome)
	require.Eventually(t, func() bool {
		items, err := h.db.InDoubt(context.Background(), 10)
		return err == nil && len(items) == 1
	}, wait, tick, "the reply is in doubt")
	items, err := h.db.InDoubt(context.Background(), 10)
	require.NoError(t, err)
	require.NoError(t, h.wa.InjectReceipt(context.Background(), bot.Receipt{Chat: settled.chat, IDs: []bot.MessageID{"wamid.late"},
		Status: bot.StatusDelivered, Key: items[0].Key}))
	h.waitCard(c1.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusDelivered }, "the status with its key settles it")

	h.wa.FailNext(1, inDoubt)
	res = h.decide(bot.Decision{DraftID: c2.DraftID, Kind: bot.Approve, ActionID: "a2"})
	require.Equal(t, bot.Applied, res.Outcome)
	card := h.waitCard(c2.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusUnconfirmed }, "no status: unconfirmed")
	assert.Contains(t, card.SendReason, "did not confirm whether this reply was sent")
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.Sends(), "neither reply was sent again")
}

// TestReplyWaitsForItsChannel: a reply approved while WhatsApp is off waits
// (the card says so) and goes out once a process with WhatsApp runs.
func TestReplyWaitsForItsChannel(t *testing.T) {
	noWhatsApp := false
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		if noWhatsApp {
			o.Channels = o.Channels[1:] // Teams only
			o.UnavailableWait = 50 * time.Millisecond
		}
	})
	c := newCustomer(104)
	h.send(c, "when WhatsApp is back")
	card := h.cardFor("when WhatsApp is back")
	noWhatsApp = true
	h.restart()
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	card = h.waitCard(card.DraftID, func(c bot.Card) bool { return c.Waiting == bot.WhatsApp }, "waiting for WhatsApp")
	assert.Equal(t, bot.StatusPending, card.SendStatus, "waiting, not failed")
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, h.notifier.Alerts(), "nothing was given up")
	noWhatsApp = false
	h.restart()
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent && c.Waiting == "" }, "sent once WhatsApp is on")
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.SendsTo(c.chat), 1)
}

// TestFailedReceiptThenResend: the platform's failed status marks the reply
// failed with its reason in plain words, and staff resend it.
func TestFailedReceiptThenResend(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(105)
	h.send(c, "will fail later")
	card := h.cardFor("will fail later")
	h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent")
	sent := h.wa.Sends()[0]
	require.NoError(t, h.wa.InjectReceipt(context.Background(), bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{sent.ID},
		Status: bot.StatusFailed, Key: sent.Key, Reason: "131026 Message undeliverable"}))
	card = h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusFailed }, "failed")
	assert.Equal(t, "The platform could not deliver it: 131026 Message undeliverable.", card.SendReason)
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Resend})
	require.Equal(t, bot.Applied, res.Outcome)
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent && c.SendReason == "" }, "resent")
	require.NoError(t, h.stop())
	assert.Equal(t, 1, h.wa.Repeats(), "the resend carries the same key")
}

// TestStaleCardActsOnNothing is the scenario: erase the customer
// whose draft is newest; the next draft gets a new id, and the erased
// customer's old card approves nothing.
func TestStaleCardActsOnNothing(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	a, b, c := newCustomer(106), newCustomer(107), newCustomer(108)
	h.send(a, "from A")
	h.cardFor("from A")
	h.send(b, "from B")
	old := h.cardFor("from B")
	_, err := h.db.DeleteSubject(context.Background(), old.Subject)
	require.NoError(t, err)
	h.send(c, "from C")
	fresh := h.cardFor("from C")
	assert.Greater(t, fresh.DraftID, old.DraftID, "the erased draft's id is not reused")

	res := h.decide(bot.Decision{DraftID: old.DraftID, Token: old.Token, Kind: bot.Approve})
	assert.Equal(t, bot.Refused, res.Outcome, "the old card's draft is gone")
	res = h.decide(bot.Decision{DraftID: fresh.DraftID, Token: old.Token, Kind: bot.Approve})
	assert.Equal(t, bot.Refused, res.Outcome, "another draft's token acts on nothing")
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.SendsTo(c.chat), "nothing was sent to C")
}

// TestHungDrafterDelaysNoCard: every message has its card ("drafting…") at
// once, while the only drafting worker is stuck on the first message.
func TestHungDrafterDelaysNoCard(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Workers = 1; o.DraftDeadline = time.Minute })
	h.drafter.Fn = func(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return bot.DraftResult{}, ctx.Err()
		}
		return bot.DraftResult{Text: "Re: " + req.Message.Text}, nil
	}
	customers := []*customer{newCustomer(110), newCustomer(111), newCustomer(112), newCustomer(113)}
	for _, c := range customers {
		h.send(c, "hello from "+c.name)
	}
	require.Eventually(t, func() bool {
		n := 0
		for _, card := range h.notifier.Cards() {
			if card.Status == bot.DraftDrafting && card.Customer != "" {
				n++
			}
		}
		return n == len(customers)
	}, wait, tick, "a drafting card for everyone while the drafter hangs")
	assert.Len(t, h.drafter.Requests(), 1, "the drafter is still on the first message")
	close(release)
	for _, c := range customers {
		card := h.cardFor("hello from " + c.name)
		assert.Equal(t, "Re: hello from "+c.name, card.Draft)
	}
	require.NoError(t, h.stop())
}

// TestDraftDeadline: a drafter that never answers is cut off by the one
// draft deadline, and the card says the model did not answer in time.
func TestDraftDeadline(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.DraftDeadline = 100 * time.Millisecond })
	h.drafter.Fn = func(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
		<-ctx.Done()
		return bot.DraftResult{}, ctx.Err()
	}
	c := newCustomer(114)
	h.send(c, "anyone?")
	card := h.cardFor("anyone?")
	assert.Equal(t, bot.DraftFailed, card.Status)
	assert.Equal(t, bot.FailTimeout.Note(), card.Note)
	require.NoError(t, h.stop())
}

// hookNotifier runs a hook inside PostCard after the post.
type hookNotifier struct {
	*channeltest.Notifier
	mu       sync.Mutex
	afterPut func(bot.CardRef) error
}

func (n *hookNotifier) PostCard(ctx context.Context, c bot.Card) (bot.CardRef, error) {
	ref, err := n.Notifier.PostCard(ctx, c)
	n.mu.Lock()
	hook := n.afterPut
	n.mu.Unlock()
	if err == nil && hook != nil {
		err = hook(ref)
	}
	return ref, err
}

func (n *hookNotifier) setHook(f func(bot.CardRef) error) {
	n.mu.Lock()
	n.afterPut = f
	n.mu.Unlock()
}

// TestErasureDuringCardPost: the subject is erased while its card is being
// posted; the card, posted second, sees the erasure and is removed at once.
// A card posted first is removed by the erasure's queue.
func TestErasureDuringCardPost(t *testing.T) {
	var hook *hookNotifier
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		if hook != nil {
			o.Notifier = hook
		}
	})
	hook = &hookNotifier{Notifier: h.notifier}
	h.restart()
	a := newCustomer(120)
	var erased bot.CardRef
	hook.setHook(func(ref bot.CardRef) error {
		hook.setHook(nil)
		erased = ref
		subs, err := h.db.FindSubjects(context.Background(), bot.Identity{Kind: bot.IDPhone, Value: a.phone})
		if err != nil || len(subs) != 1 {
			return errors.New("subject not found")
		}
		_, err = h.db.DeleteSubject(context.Background(), subs[0])
		return err
	})
	h.send(a, "erase me while carding")
	require.Eventually(t, func() bool { return len(h.notifier.Removed()) == 1 }, wait, tick, "the placeholder is removed")
	assert.Equal(t, erased, h.notifier.Removed()[0])
	assert.Empty(t, h.notifier.Cards())

	b := newCustomer(121)
	h.send(b, "erase me after carding")
	card := h.cardFor("erase me after carding")
	ref, ok := h.notifier.Ref(card.DraftID)
	require.True(t, ok)
	_, err := h.db.DeleteSubject(context.Background(), card.Subject)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(h.notifier.Removed()) == 2 }, wait, tick, "the erasure's queue removes the card")
	assert.Equal(t, ref, h.notifier.Removed()[1])
	require.Eventually(t, func() bool {
		rs, err := h.db.PendingCardRemovals(context.Background(), 10)
		return err == nil && len(rs) == 0
	}, wait, tick, "the removal queue empties")
	require.NoError(t, h.stop())
}

// TestCardPostInDoubt: a post whose answer was lost (as in a crash between
// post and record) is posted again as a placeholder; the content goes to
// one card only, and the lost one names nobody.
func TestCardPostInDoubt(t *testing.T) {
	var hook *hookNotifier
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		if hook != nil {
			o.Notifier = hook
		}
	})
	hook = &hookNotifier{Notifier: h.notifier}
	h.restart()
	hook.setHook(func(bot.CardRef) error {
		hook.setHook(nil)
		return errors.New("answer lost")
	})
	c := newCustomer(122)
	h.send(c, "posted twice?")
	card := h.cardFor("posted twice?")
	require.NoError(t, h.stop())
	posts := h.notifier.Posts()
	require.Len(t, posts, 2, "the lost post and its replacement")
	for _, p := range posts {
		assert.True(t, p.Preparing, "posts are placeholders")
		assert.Empty(t, p.Customer)
		assert.Empty(t, p.Message)
	}
	n := 0
	for _, cd := range h.notifier.Cards() {
		if cd.Message == "posted twice?" {
			n++
		}
	}
	assert.Equal(t, 1, n, "one card shows the message")
	assert.Equal(t, card.DraftID, posts[1].DraftID)
}
