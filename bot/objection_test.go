package bot_test

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// requestTexts lists every text the drafter was given: messages, history,
// previous drafts.
func requestTexts(reqs []bot.DraftRequest) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Message.Text, r.Previous)
		for _, m := range r.History {
			out = append(out, m.Text)
		}
	}
	return out
}

// A message stored while the customer objected (/stop) never reaches the
// model: not as history once they said /start, not when staff regenerate
// its draft afterwards, not after a restart.
func TestObjectedMessageNeverReachesDrafterAfterStart(t *testing.T) {
	h := newHarness(t, zerolog.Nop(), nil)
	c := newCustomer(31)
	ctx := context.Background()

	h.send(c, "Before the objection")
	first := h.cardFor("Before the objection")
	require.Equal(t, bot.Applied, h.decide(bot.Decision{DraftID: first.DraftID, Kind: bot.Reject}).Outcome)

	subj, err := h.db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: c.phone}}, Role: bot.RoleCustomer})
	require.NoError(t, err)
	require.NoError(t, h.db.SetAIRestricted(ctx, subj.ID, true))
	h.send(c, "My diagnosis is private")
	stopped := h.cardFor("My diagnosis is private")
	assert.Equal(t, bot.NoteAIOff, stopped.Note)

	require.NoError(t, h.db.SetAIRestricted(ctx, subj.ID, false))
	h.send(c, "After the objection")
	h.cardFor("After the objection")

	// Staff regenerate the draft of the message written during /stop.
	require.Equal(t, bot.Applied, h.decide(bot.Decision{DraftID: stopped.DraftID, Kind: bot.Regenerate, Instruction: "shorter"}).Outcome)
	h.waitCard(stopped.DraftID, func(c bot.Card) bool { return c.Note == bot.NoteAIOff }, "the regenerated draft stays manual")

	// After a restart, a later message's history still leaves it out.
	h.restart()
	h.send(c, "One more question")
	h.cardFor("One more question")
	require.NoError(t, h.stop())

	texts := requestTexts(h.drafter.Requests())
	assert.NotContains(t, texts, "My diagnosis is private", "a message stored during /stop reached the drafter")
	assert.Contains(t, texts, "Before the objection", "history from before the objection is still used")
	assert.Contains(t, texts, "After the objection")
}
