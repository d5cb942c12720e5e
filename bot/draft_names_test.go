package bot_test

import (
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// The drafter is told the customer's name, on the first draft and on a
// regenerate, so it can redact it wherever it appears.
func TestDraftRequestCarriesNames(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(41)
	c.name = "Zebedee Quux"
	h.send(c, "hello, it's Zebedee")
	card := h.cardFor("hello, it's Zebedee")
	reqs := h.drafter.Requests()
	require.Len(t, reqs, 1)
	assert.Contains(t, reqs[0].Names, "Zebedee Quux")

	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Regenerate, Instruction: "thank Zebedee"})
	require.Equal(t, bot.Applied, res.Outcome)
	require.Eventually(t, func() bool { return len(h.drafter.Requests()) == 2 }, wait, tick)
	assert.Contains(t, h.drafter.Requests()[1].Names, "Zebedee Quux")
}
