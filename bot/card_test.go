package bot_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestEditedCardShowsWhatWasSent: after Edit, the card shows the text the
// customer got, who wrote it, and no longer the flags of the AI's text.
func TestEditedCardShowsWhatWasSent(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	h.drafter.Fn = func(context.Context, bot.DraftRequest) (bot.DraftResult, error) {
		return bot.DraftResult{Text: "Yes, from £3,000.", Intent: "question", HumanReason: "price not on the list",
			Flags: []string{"The draft names a price that is not on the price list."}}, nil
	}
	c := newCustomer(20)
	h.send(c, "Do you fit heat pumps?")
	card := h.cardFor("Do you fit heat pumps?")
	assert.Equal(t, "AI draft", card.Author)
	require.True(t, card.Result.Blocked())

	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: "Yes: we will send you a quote after a visit.", ByName: "Alex Staff"})
	require.Equal(t, bot.Applied, res.Outcome)
	for _, got := range []bot.Card{res.Card, h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent")} {
		assert.Equal(t, "Yes: we will send you a quote after a visit.", got.Draft, "the card shows what was sent")
		assert.Equal(t, "AI draft, edited by Alex Staff", got.Author)
		assert.False(t, got.Result.Blocked(), "the AI text's flags no longer apply")
		assert.Empty(t, got.Result.HumanReason)
		assert.Equal(t, "question", got.Result.Intent)
	}
	assert.Equal(t, []string{"Yes: we will send you a quote after a visit."}, h.waitSends(c.chat, 1))
}

// TestCardNamesADrafterThatIsNotAI: a drafter that names itself (the
// demo's canned one) is named on the card, before and after an edit, and
// never called an AI draft.
func TestCardNamesADrafterThatIsNotAI(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	h.drafter.Fn = func(context.Context, bot.DraftRequest) (bot.DraftResult, error) {
		return bot.DraftResult{Text: "Thanks: we will call you back today.", Author: "Demo drafter — not AI"}, nil
	}
	c := newCustomer(22)
	h.send(c, "Can someone call me?")
	card := h.cardFor("Can someone call me?")
	assert.Equal(t, "Demo drafter — not AI", card.Author)
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: "We will call you at 4pm.", ByName: "Alex Staff"})
	require.Equal(t, bot.Applied, res.Outcome)
	assert.Equal(t, "Demo drafter — not AI, edited by Alex Staff", res.Card.Author)
	assert.NotContains(t, res.Card.Author, "AI draft")
}

// TestWrittenByHand: a reply staff wrote with no AI draft says so.
func TestWrittenByHand(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) { o.Drafter = bot.ManualDrafter{} })
	c := newCustomer(21)
	h.send(c, "Call me back please")
	card := h.cardFor("Call me back please")
	assert.Empty(t, card.Author, "no reply yet")
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Edit, Text: "We will call you at 3pm.", ByName: "Alex Staff"})
	require.Equal(t, bot.Applied, res.Outcome)
	assert.Equal(t, "Written by Alex Staff", res.Card.Author)
	assert.Equal(t, "We will call you at 3pm.", res.Card.Draft)
}

// TestCardRecentAndWroteAt: a card carries the time the customer wrote and
// the conversation before the message (both directions, commands left out,
// long lines clipped).
func TestCardRecentAndWroteAt(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(22)
	in := h.send(c, "Hello, is anyone there?")
	first := h.cardFor("Hello, is anyone there?")
	assert.Empty(t, first.Recent)
	assert.True(t, first.WroteAt.Equal(in.SentAt.UTC()) || first.WroteAt.Equal(in.SentAt), "wrote at %v, sent %v", first.WroteAt, in.SentAt)
	require.Equal(t, bot.Applied, h.decide(bot.Decision{DraftID: first.DraftID, Kind: bot.Approve}).Outcome)
	h.waitCard(first.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusSent }, "sent")

	h.send(c, "/help")
	long := strings.Repeat("pipes ", 100)
	h.send(c, long)
	h.cardFor(long)
	h.send(c, "And the price?")
	card := h.cardFor("And the price?")
	require.Len(t, card.Recent, 3, "%+v", card.Recent)
	assert.Equal(t, bot.In, card.Recent[0].Dir)
	assert.Equal(t, "Hello, is anyone there?", card.Recent[0].Text)
	assert.Equal(t, bot.Out, card.Recent[1].Dir, "our reply")
	assert.Equal(t, bot.In, card.Recent[2].Dir)
	assert.LessOrEqual(t, len(card.Recent[2].Text), bot.MaxCardLine)
	assert.True(t, strings.HasSuffix(card.Recent[2].Text, "…"))
	for _, l := range card.Recent {
		assert.NotContains(t, l.Text, "/help", "commands are not conversation")
	}
}

// TestDraftFailureReason: a failed draft's card says why, in a category
// staff can act on, and never the model's error text.
func TestDraftFailureReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bot.DraftFailure
	}{
		{"Timeout", fmt.Errorf("draft: %w", context.DeadlineExceeded), bot.FailTimeout},
		{"Refused", &bot.DraftError{Failure: bot.FailRefused, Err: fmt.Errorf("SECRET model says no")}, bot.FailRefused},
		{"Unreachable", fmt.Errorf("draft: %w", &bot.DraftError{Failure: bot.FailUnreachable, Err: &net.OpError{Op: "dial"}}), bot.FailUnreachable},
		{"NotConfigured", &bot.DraftError{Failure: bot.FailNotConfigured}, bot.FailNotConfigured},
		{"Other", fmt.Errorf("SECRET something"), bot.FailOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, zerolog.Nop(), nil)
			h.drafter.Fn = func(context.Context, bot.DraftRequest) (bot.DraftResult, error) { return bot.DraftResult{}, tc.err }
			c := newCustomer(23)
			h.send(c, "Are you open?")
			card := h.cardFor("Are you open?")
			assert.Equal(t, bot.DraftFailed, card.Status)
			assert.Equal(t, tc.want, card.Result.Failure)
			assert.Equal(t, tc.want.Note(), card.Note)
			assert.NotContains(t, card.Note, "SECRET")
			assert.NotContains(t, strings.ToLower(card.Note), "drafting failed", "the card's status says that once")
		})
	}
}
