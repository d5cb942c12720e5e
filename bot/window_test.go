package bot_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
)

// cloudCaps are the WhatsApp Business Platform's capabilities.
var cloudCaps = bot.Capabilities{Files: true, MaxText: 4096, Window: 24 * time.Hour,
	Template: bot.Template{Name: "reopen_conversation", Language: "en_GB"}}

// newWindowHarness runs a process whose WhatsApp channel has a 24-hour
// reply window, on a test clock.
func newWindowHarness(t *testing.T, caps bot.Capabilities) (*harness, *bottest.Clock) {
	t.Helper()
	// The store stamps outbox rows with the real time: start the clock there.
	clock := bottest.NewClock(time.Now().UTC().Add(2 * time.Minute).Truncate(time.Minute))
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Now = clock.Now })
	h.wa.SetCapabilities(caps)
	return h, clock
}

// write sends a customer message stamped with the clock's time.
func (h *harness) write(c *customer, text string, at time.Time) {
	h.t.Helper()
	in := c.inbound(text)
	in.SentAt = at
	require.NoError(h.t, h.wa.Inject(context.Background(), in))
}

func TestWindowApproveInsideSends(t *testing.T) {
	h, clock := newWindowHarness(t, cloudCaps)
	c := newCustomer(1)
	t0 := clock.Now()
	h.write(c, "Is the shop open on Sunday?", t0)
	card := h.cardFor("Is the shop open on Sunday?")
	assert.True(t, card.WindowEnds.Equal(t0.Add(24*time.Hour)), "the card shows when the window closes: %v", card.WindowEnds)
	assert.Equal(t, 24*time.Hour, card.WindowLeft, "and how long is left")
	assert.True(t, card.Template)

	clock.Add(23*time.Hour + 59*time.Minute)
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	assert.Equal(t, []string{h.drafter.Text}, h.waitSends(c.chat, 1))
}

func TestWindowApproveOutsideRefuses(t *testing.T) {
	h, clock := newWindowHarness(t, cloudCaps)
	c := newCustomer(2)
	t0 := clock.Now()
	h.write(c, "Do you fix boilers?", t0)
	card := h.cardFor("Do you fix boilers?")

	clock.Add(24*time.Hour + time.Minute)
	for _, d := range []bot.Decision{
		{DraftID: card.DraftID, Kind: bot.Approve, ActionID: "a1"},
		{DraftID: card.DraftID, Kind: bot.Edit, Text: "Yes, we do.", ActionID: "a2"},
	} {
		res := h.decide(d)
		require.Equal(t, bot.Refused, res.Outcome, d.Kind)
		assert.Equal(t, "The customer last wrote more than 24 hours ago, so this chat takes no reply until they write again: send the template to ask them to.", res.Message)
		assert.Equal(t, time.Duration(0), res.Card.WindowLeft)
		assert.Equal(t, bot.DraftPending, res.Card.Status)
	}
	// No outbox row: nothing is due now or later.
	items, err := h.db.DueOutbox(context.Background(), clock.Now().Add(365*24*time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, items)
	assert.Empty(t, h.wa.SendsTo(c.chat))
	// The posted card was updated to say the window closed.
	updated := h.waitCard(card.DraftID, func(c bot.Card) bool { return c.WindowLeft == 0 && !c.WindowEnds.IsZero() }, "the card says the window closed")
	assert.True(t, updated.WindowEnds.Equal(t0.Add(24*time.Hour)))

	// The customer writes again: the window reopens for the old draft too.
	h.write(c, "Hello?", clock.Now())
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ActionID: "a3"})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	h.waitSends(c.chat, 1)
}

func TestWindowRefusalWithoutTemplate(t *testing.T) {
	caps := cloudCaps
	caps.Template = bot.Template{}
	h, clock := newWindowHarness(t, caps)
	c := newCustomer(3)
	h.write(c, "Any news?", clock.Now())
	card := h.cardFor("Any news?")
	assert.False(t, card.Template)
	clock.Add(30 * time.Hour)
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	require.Equal(t, bot.Refused, res.Outcome)
	assert.Equal(t, "The customer last wrote more than 24 hours ago, so this chat takes no reply until they write again.", res.Message)
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.SendTemplate})
	require.Equal(t, bot.Refused, res.Outcome)
	assert.Equal(t, "No message template is set up for this chat, so nothing was sent.", res.Message)
	assert.Empty(t, h.wa.Sends())
}

func TestWindowMaxText(t *testing.T) {
	caps := cloudCaps
	caps.MaxText = 20
	h, clock := newWindowHarness(t, caps)
	c := newCustomer(4)
	h.write(c, "Price for a new tap?", clock.Now())
	card := h.cardFor("Price for a new tap?")
	require.Greater(t, len(card.Draft), 20)

	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	require.Equal(t, bot.Refused, res.Outcome)
	assert.Equal(t, fmt.Sprintf("The reply is too long for this chat (%d bytes; at most 20): shorten it with Edit.", len(card.Draft)), res.Message)
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: strings.Repeat("x", 21), ActionID: "e1"})
	require.Equal(t, bot.Refused, res.Outcome)
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: "£80 fitted.", ActionID: "e2"})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	assert.Equal(t, []string{"£80 fitted."}, h.waitSends(c.chat, 1))
}

func TestWindowSendTemplate(t *testing.T) {
	h, clock := newWindowHarness(t, cloudCaps)
	c := newCustomer(5)
	h.write(c, "Can you quote for a bathroom?", clock.Now())
	card := h.cardFor("Can you quote for a bathroom?")

	// Inside the window the reply itself can go.
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.SendTemplate})
	require.Equal(t, bot.Refused, res.Outcome)
	assert.Equal(t, "The customer wrote recently, so the reply can go as it is: approve or edit it instead.", res.Message)
	assert.Empty(t, h.wa.Sends())

	clock.Add(25 * time.Hour)
	askedAt := clock.Now().UTC().Format("15:04") + " UTC"
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.SendTemplate, ActionID: "t1"})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	assert.Equal(t, "Sending the template: the reply can go once the customer writes again.", res.Message)
	assert.False(t, res.Card.Template, "not offered again while it is on its way")
	sent := h.waitCard(card.DraftID, func(c bot.Card) bool { return strings.Contains(c.Note, "Template sent at") }, "the card says the template went")
	assert.Contains(t, sent.Note, "Template sent at "+askedAt+": the reply can go once the customer writes again.")
	assert.Equal(t, bot.DraftPending, sent.Status, "the draft waits for the customer")
	assert.Empty(t, sent.SendStatus, "the reply itself is not queued")
	sends := h.wa.Sends()
	require.Len(t, sends, 1)
	require.NotNil(t, sends[0].Template)
	assert.Equal(t, cloudCaps.Template, *sends[0].Template)
	assert.Empty(t, sends[0].TemplateParams, "this template takes none")
	assert.Equal(t, c.chat, sends[0].Chat)
	assert.Empty(t, sends[0].Text)
	assert.Regexp(t, `^ob_[0-9a-f]{32}$`, sends[0].Key, "its own outbox key")

	// A second click sends nothing.
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.SendTemplate, ActionID: "t2"})
	require.Equal(t, bot.AlreadyDecided, res.Outcome)
	assert.Equal(t, "The template was already sent at "+askedAt+"; wait for the customer to answer.", res.Message)

	// Its statuses reach the card.
	require.NoError(t, h.wa.InjectReceipt(context.Background(), bot.Receipt{Chat: c.chat, IDs: []bot.MessageID{sends[0].ID}, Status: bot.StatusRead}))
	h.waitCard(card.DraftID, func(c bot.Card) bool { return strings.Contains(c.Note, "Template sent at "+askedAt+" and read") }, "read")

	// The customer answers: the reply goes, as a reply of its own.
	h.write(c, "Yes please", clock.Now())
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve, ActionID: "a1"})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	assert.Equal(t, []string{"", h.drafter.Text}, h.waitSends(c.chat, 2))
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "the reply is sent")
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, h.wa.Sends(), 2, "the template went once")
}

func TestWindowTemplateFailedThenAgain(t *testing.T) {
	h, clock := newWindowHarness(t, cloudCaps)
	c := newCustomer(6)
	h.write(c, "Hello", clock.Now())
	card := h.cardFor("Hello")
	clock.Add(25 * time.Hour)
	h.wa.FailNext(1, fmt.Errorf("graph 400/132001: %w", bot.ErrUnsupported))
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.SendTemplate, ActionID: "t3"})
	require.Equal(t, bot.Applied, res.Outcome)
	failed := h.waitCard(card.DraftID, func(c bot.Card) bool { return strings.Contains(c.Note, "was not sent") }, "the card says it failed")
	assert.Contains(t, failed.Note, "was not sent: WhatsApp refused the template.")
	assert.True(t, failed.Template, "and offers it again")
	require.Eventually(t, func() bool { return len(h.notifier.Alerts()) == 1 }, wait, tick, "admins are told")
	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.SendTemplate, ActionID: "t4"})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	h.waitCard(card.DraftID, func(c bot.Card) bool { return strings.Contains(c.Note, "Template sent at") }, "sent the second time")
	assert.Len(t, h.wa.Sends(), 1)
}

// TestWindowTemplateFirstName: a template that greets by first name gets
// the customer's first name as its parameter; without a known name it is
// not queued.
func TestWindowTemplateFirstName(t *testing.T) {
	caps := cloudCaps
	caps.Template.FirstName = true
	h, clock := newWindowHarness(t, caps)
	c := newCustomer(7)
	h.write(c, "Any slots next week?", clock.Now())
	card := h.cardFor("Any slots next week?")
	anon := newCustomer(8)
	anon.name = ""
	h.write(anon, "Price of a boiler service?", clock.Now())
	anonCard := h.cardFor("Price of a boiler service?")
	clock.Add(25 * time.Hour)

	res := h.decide(bot.Decision{DraftID: anonCard.DraftID, Kind: bot.SendTemplate, ActionID: "t5"})
	require.Equal(t, bot.Refused, res.Outcome)
	assert.Equal(t, "This template greets the customer by first name, and their name is not known, so it was not sent.", res.Message)

	res = h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.SendTemplate, ActionID: "t6"})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	require.Eventually(t, func() bool { return len(h.wa.Sends()) == 1 }, wait, tick)
	assert.Equal(t, []string{"Customer"}, h.wa.Sends()[0].TemplateParams, "the first word of the name")
}

// TestTemplateAcrossRestarts: a queued template is sent once by the next
// process; one whose send is in doubt at a crash is never sent again on a
// channel that is not idempotent, and its keyed receipt settles it.
func TestTemplateAcrossRestarts(t *testing.T) {
	caps := cloudCaps
	h, clock := newWindowHarness(t, caps)
	c1, c2 := newCustomer(9), newCustomer(10)
	h.write(c1, "Queued before the stop?", clock.Now())
	h.write(c2, "In doubt at the crash?", clock.Now())
	card1, card2 := h.cardFor("Queued before the stop?"), h.cardFor("In doubt at the crash?")
	clock.Add(25 * time.Hour)
	require.NoError(t, h.stop())

	ctx := context.Background()
	db := h.openStore()
	staff := bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000a1"}
	require.NoError(t, db.QueueTemplate(ctx, bot.Decision{DraftID: card1.DraftID, Kind: bot.SendTemplate, By: staff}, caps.Template))
	require.NoError(t, db.QueueTemplate(ctx, bot.Decision{DraftID: card2.DraftID, Kind: bot.SendTemplate, By: staff}, caps.Template))
	assert.ErrorIs(t, db.QueueTemplate(ctx, bot.Decision{DraftID: card2.DraftID, Kind: bot.SendTemplate, By: staff}, caps.Template), bot.ErrDecided)
	items, err := db.DueOutbox(ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, items, 2)
	var doubt bot.OutboxItem
	for _, it := range items {
		assert.Equal(t, bot.OutboxTemplate, it.Kind)
		assert.Equal(t, caps.Template, it.Template)
		assert.Empty(t, it.Text)
		if it.DraftID == card2.DraftID {
			doubt = it
		}
	}
	// The crash: the second one's send began, its answer never recorded.
	require.NoError(t, db.BeginSend(ctx, doubt.ID, time.Now()))
	require.NoError(t, db.Close())

	h.wa.SetCapabilities(caps) // not idempotent
	h.start()
	require.Eventually(t, func() bool { return len(h.wa.SendsTo(c1.chat)) == 1 }, wait, tick, "the queued template goes")
	h.waitCard(card1.DraftID, func(c bot.Card) bool { return strings.Contains(c.Note, "Template sent at") }, "sent")
	time.Sleep(1500 * time.Millisecond) // past a poll: the in-doubt one is not sent again
	assert.Empty(t, h.wa.SendsTo(c2.chat))
	require.NoError(t, h.wa.InjectReceipt(ctx, bot.Receipt{Chat: c2.chat, IDs: []bot.MessageID{"wamid.t"}, Status: bot.StatusDelivered, Key: doubt.Key}))
	h.waitCard(card2.DraftID, func(c bot.Card) bool { return strings.Contains(c.Note, "and delivered") }, "its keyed receipt settles it")
	assert.Len(t, h.wa.Sends(), 1)
}

// settleCard waits until a draft's card has had no update for longer than
// a poll, so a later count compares like with like on a loaded machine.
func (h *harness) settleCard(draftID int64) {
	h.t.Helper()
	deadline := time.Now().Add(wait)
	for n := h.updatesOf(draftID); time.Now().Before(deadline); {
		time.Sleep(1200 * time.Millisecond)
		m := h.updatesOf(draftID)
		if m == n {
			return
		}
		n = m
	}
	h.t.Fatalf("card of draft %d kept changing", draftID)
}

// updatesOf counts the updates of a draft's card.
func (h *harness) updatesOf(draftID int64) int {
	n := 0
	for _, c := range h.notifier.Updates() {
		if c.DraftID == draftID {
			n++
		}
	}
	return n
}

// TestWindowCardRefreshedWhenItCloses: a pending draft's card is refreshed
// when its chat's window closes, with no click, so it stops offering
// Approve; after a restart too; and when the customer writes again it
// shows the window open until the new time.
func TestWindowCardRefreshedWhenItCloses(t *testing.T) {
	h, clock := newWindowHarness(t, cloudCaps)
	c, later := newCustomer(11), newCustomer(12)
	t0 := clock.Now()
	h.write(c, "Still open?", t0)
	h.write(later, "Open after the restart?", t0.Add(time.Hour))
	card, card2 := h.cardFor("Still open?"), h.cardFor("Open after the restart?")
	require.Equal(t, 24*time.Hour, card.WindowLeft)
	h.settleCard(card.DraftID) // the drafted card's own updates are done

	clock.Add(23*time.Hour + 59*time.Minute)
	before := h.updatesOf(card.DraftID)
	time.Sleep(1500 * time.Millisecond) // past a poll
	assert.Equal(t, before, h.updatesOf(card.DraftID), "nothing to refresh while it is open")

	clock.Add(2 * time.Minute)
	closed := h.waitCard(card.DraftID, func(c bot.Card) bool { return c.WindowLeft == 0 }, "the card is refreshed as the window closes")
	assert.True(t, closed.WindowEnds.Equal(t0.Add(24*time.Hour)))
	assert.True(t, closed.Template, "and offers the template")
	assert.Equal(t, bot.DraftPending, closed.Status)
	n := h.updatesOf(card.DraftID)
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, n, h.updatesOf(card.DraftID), "refreshed once, not on every poll")
	c2, _ := h.notifier.Card(card2.DraftID)
	assert.Positive(t, c2.WindowLeft, "the other chat's window is still open")

	// The other chat's window closes while no process runs.
	require.NoError(t, h.stop())
	clock.Add(2 * time.Hour)
	h.start()
	h.waitCard(card2.DraftID, func(c bot.Card) bool { return c.WindowLeft == 0 }, "refreshed after the restart")

	// The first customer writes again: the old card shows the window open.
	h.write(c, "Hello again", clock.Now())
	h.cardFor("Hello again")
	reopened := h.waitCard(card.DraftID, func(c bot.Card) bool { return c.WindowLeft > 0 }, "the old card shows the window open again")
	assert.True(t, reopened.WindowEnds.Equal(clock.Now().Add(24*time.Hour)))
}

func TestDurationWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:                "24 hours",
		time.Hour:                     "1 hour",
		90 * time.Minute:              "1 hour 30 minutes",
		23*time.Hour + 59*time.Minute: "23 hours",
		2*time.Hour + time.Minute:     "2 hours 1 minute",
		45 * time.Minute:              "45 minutes",
		time.Minute + 30*time.Second:  "1 minute",
		30 * time.Second:              "less than a minute",
		-time.Hour:                    "less than a minute",
		9*time.Hour + 59*time.Minute:  "9 hours 59 minutes",
		10*time.Hour + 59*time.Minute: "10 hours",
	} {
		assert.Equal(t, want, bot.DurationWords(d), d.String())
	}
}
