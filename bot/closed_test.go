package bot_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// fakeHours is a business whose opening hours the test sets: closed from
// closedFrom until opens (zero closedFrom: closed at any time before
// opens), open from opens.
type fakeHours struct {
	mu         sync.Mutex
	closedFrom time.Time
	opens      time.Time
	calls      int
}

func (h *fakeHours) set(closedFrom, opens time.Time) {
	h.mu.Lock()
	h.closedFrom, h.opens = closedFrom, opens
	h.mu.Unlock()
}

func (h *fakeHours) Closed(t time.Time) (bot.ClosedPeriod, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if !t.Before(h.opens) || (!h.closedFrom.IsZero() && t.Before(h.closedFrom)) {
		return bot.ClosedPeriod{}, false
	}
	return bot.ClosedPeriod{Until: h.opens, Reply: "Thanks for your message. We're closed now; we'll answer from " + h.opens.UTC().Format("15:04") + "."}, true
}

// closedHarness is a process whose business is closed for the next ten
// hours.
func closedHarness(t *testing.T) (*harness, *fakeHours) {
	hours := &fakeHours{opens: time.Now().Add(10 * time.Hour).Truncate(time.Minute)}
	return newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Hours = hours }), hours
}

func TestClosedHoursReplyOncePerPeriod(t *testing.T) {
	h, hours := closedHarness(t)
	c := newCustomer(501)
	h.send(c, "Is anyone there?")
	sends := h.waitSends(c.chat, 1)
	assert.Equal(t, "Thanks for your message. We're closed now; we'll answer from "+hours.opens.UTC().Format("15:04")+".", sends[0])
	assert.NotEmpty(t, h.wa.Sends()[0].Key, "sent through the outbox with a key of its own")

	card := h.cardFor("Is anyone there?")
	card = h.waitCard(card.DraftID, func(c bot.Card) bool { return c.ClosedReply != nil && c.ClosedReply.Status == bot.StatusSent },
		"staff see that the closed-hours reply went")
	assert.WithinDuration(t, time.Now(), card.ClosedReply.SentAt, time.Minute)
	assert.Equal(t, "Thanks for your message. We open at 9.", card.Draft, "the message is drafted as usual")

	h.send(c, "Hello??")
	second := h.cardFor("Hello??")
	require.NotNil(t, second.ClosedReply, "the later card of the same period shows it too")
	assert.Equal(t, card.ClosedReply.SentAt, second.ClosedReply.SentAt)

	// Another customer in the same period gets their own.
	d := newCustomer(502)
	h.send(d, "Hi")
	assert.Len(t, h.waitSends(d.chat, 1), 1)

	require.NoError(t, h.stop()) // the last outbox pass has run
	assert.Len(t, h.wa.SendsTo(c.chat), 1, "one reply per chat and closed period")
	assert.Len(t, h.wa.SendsTo(d.chat), 1)
}

func TestClosedHoursReplyNotTwiceAfterRestart(t *testing.T) {
	h, _ := closedHarness(t)
	c := newCustomer(503)
	h.send(c, "First")
	h.waitSends(c.chat, 1)
	h.restart()
	h.send(c, "Second")
	h.cardFor("Second")
	require.NoError(t, h.stop())
	assert.Len(t, h.wa.SendsTo(c.chat), 1)
}

func TestClosedHoursReplyEachPeriod(t *testing.T) {
	h, hours := closedHarness(t)
	c := newCustomer(504)
	h.send(c, "Tonight")
	h.waitSends(c.chat, 1)
	// The next night: a new period (the clock is the test's; only Until
	// tells the periods apart).
	hours.set(time.Time{}, hours.opens.Add(24*time.Hour))
	h.send(c, "Tomorrow night")
	sends := h.waitSends(c.chat, 2)
	assert.Contains(t, sends[1], "We're closed now")
}

func TestClosedHoursReplyNeverForCommandsOrStaff(t *testing.T) {
	h, _ := closedHarness(t)
	c := newCustomer(505)
	h.send(c, "/help")
	assert.Equal(t, []string{bot.BuiltinHelp}, h.waitSends(c.chat, 1))

	staffChat := bot.ChatID("19:staff")
	require.NoError(t, h.teams.Inject(context.Background(), bot.Inbound{Platform: bot.Teams, Chat: staffChat, ID: "act-1",
		Sender: bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000b2"}, Role: bot.RoleStaff, Text: "hello bot"}))
	require.Eventually(t, func() bool { return len(h.teams.SendsTo(staffChat)) == 1 }, wait, tick)
	require.NoError(t, h.stop())
	assert.Equal(t, []string{bot.BuiltinHelp}, h.wa.SendsTo(c.chat), "no closed-hours reply to a command")
	assert.Equal(t, []string{bot.StaffHelp}, h.teams.SendsTo(staffChat))
}

// A customer who objected to AI still gets the fixed reply: it is not AI.
func TestClosedHoursReplyAfterStop(t *testing.T) {
	h, _ := closedHarness(t)
	c := newCustomer(506)
	ctx := context.Background()
	subj, err := h.db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: c.phone}}, Role: bot.RoleCustomer})
	require.NoError(t, err)
	require.NoError(t, h.db.SetAIRestricted(ctx, subj.ID, true))
	h.send(c, "Private question")
	assert.Contains(t, h.waitSends(c.chat, 1)[0], "We're closed now")
	card := h.cardFor("Private question")
	assert.Equal(t, bot.NoteAIOff, card.Note)
	require.NoError(t, h.stop())
	assert.Empty(t, h.drafter.Requests())
}

func TestClosedHoursReplyNotForMessagesWrittenWhileOpen(t *testing.T) {
	hours := &fakeHours{closedFrom: time.Now().Add(-time.Minute), opens: time.Now().Add(10 * time.Hour)}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Hours = hours })
	c := newCustomer(507)
	in := c.inbound("Written at 17:29, delivered at 17:31")
	in.SentAt = time.Now().Add(-2 * time.Minute) // before closing
	require.NoError(t, h.wa.Inject(context.Background(), in))
	h.cardFor(in.Text)
	// And one written in an earlier closed period, delivered only now.
	old := c.inbound("Written last night")
	old.SentAt = time.Now().Add(-20 * time.Hour)
	hours.set(time.Now().Add(-time.Minute), hours.opens)
	require.NoError(t, h.wa.Inject(context.Background(), old))
	h.cardFor(old.Text)
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.SendsTo(c.chat))
}

func TestClosedHoursReplyNotWhileOpen(t *testing.T) {
	hours := &fakeHours{closedFrom: time.Now().Add(time.Hour), opens: time.Now().Add(10 * time.Hour)}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Hours = hours })
	c := newCustomer(508)
	h.send(c, "Open?")
	card := h.cardFor("Open?")
	assert.Nil(t, card.ClosedReply)
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.SendsTo(c.chat))
	hours.mu.Lock()
	defer hours.mu.Unlock()
	assert.NotZero(t, hours.calls, "the router asked")
}

func TestClosedHoursReplyRefusedShowsOnCard(t *testing.T) {
	h, _ := closedHarness(t)
	h.wa.FailNext(1, bot.ErrUnsupported)
	c := newCustomer(509)
	h.send(c, "Anyone?")
	card := h.cardFor("Anyone?")
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.ClosedReply != nil && c.ClosedReply.Status == bot.StatusFailed },
		"staff see the reply did not go")
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.SendsTo(c.chat))
}

func TestClosedHoursNeedAStoreThatRecords(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	_, err := bot.NewRouter(bot.Options{Store: plainStore{h.db}, Hours: &fakeHours{}, Channels: []bot.Channel{channeltest.NewFake(bot.WhatsApp)}})
	assert.ErrorContains(t, err, "opening hours need a store that records closed-hours acknowledgements")
}

// A reply that could not go before the business opened (the channel was
// down all night) is not sent at all: "we're closed now" is no longer
// true. The card says why; admins get no alert for it.
func TestClosedHoursReplyTooLateIsNotSent(t *testing.T) {
	hours := &fakeHours{opens: time.Now().Add(700 * time.Millisecond)}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Hours, o.UnavailableWait = hours, 50*time.Millisecond })
	h.wa.FailNext(1<<30, bot.ErrUnavailable)
	c := newCustomer(510)
	h.send(c, "Late at night")
	card := h.cardFor("Late at night")
	card = h.waitCard(card.DraftID, func(c bot.Card) bool { return c.ClosedReply != nil && c.ClosedReply.Status == bot.StatusFailed },
		"given up once the business opened")
	assert.Equal(t, bot.ReasonClosedAckLate, card.ClosedReply.Reason)
	h.wa.FailNext(0, nil)
	require.NoError(t, h.stop())
	assert.Empty(t, h.wa.SendsTo(c.chat))
	assert.Empty(t, h.notifier.Alerts())
}
