package demo

import (
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
)

// TestDrafterPicksByKeyword: the canned reply fits the message's kind, and
// every draft names the drafter as not AI, on the card and in the log.
func TestDrafterPicksByKeyword(t *testing.T) {
	logs := &bottest.LogBuffer{}
	d := Drafter{Log: zerolog.New(logs)}
	cases := []struct{ text, intent, says string }{
		{"Hi there", "question", "How can we help?"},
		{"My kitchen tap is DRIPPING, help!", "question", "stopcock"},
		{"How much for a new radiator?", "question", "stopcock"}, // the job wins over the price
		{"What would a bathroom refit cost?", "quote", "quote"},
		{"Can I book a visit next week?", "booking", "Which day"},
		{"Are you open on Saturday?", "question", "Saturday 9:00"},
		{"I want to complain about the work", "complaint", "manager"},
		{"thanks!", "question", "You're welcome"},
		{"asdf qwer", "question", "get back to you shortly"},
		{"", "question", "get back to you shortly"},
		{"hippopotamus", "question", "get back to you shortly"}, // "hi" only as a word
	}
	for _, tc := range cases {
		res, err := d.Draft(t.Context(), bot.DraftRequest{Subject: "s_demo", Message: bot.Message{Text: tc.text}})
		require.NoError(t, err)
		assert.Equal(t, tc.intent, res.Intent, tc.text)
		assert.Contains(t, res.Text, tc.says, tc.text)
		assert.Equal(t, "Demo drafter — not AI", res.Author)
		assert.Contains(t, res.Note, "no AI model is configured")
		assert.False(t, res.Manual)
		assert.False(t, res.Blocked())
		assert.Nil(t, res.Quote, "no prices invented")
	}
	assert.Contains(t, logs.String(), `"drafter":"Demo drafter — not AI"`)
	assert.NotContains(t, logs.String(), "DRIPPING", "no message text in the log")
}

// TestDrafterRegenerates: Regenerate gives the next reply of the kind, and
// comes round again.
func TestDrafterRegenerates(t *testing.T) {
	d := Drafter{}
	msg := bot.Message{Text: "Can I book a visit?"}
	first, err := d.Draft(t.Context(), bot.DraftRequest{Message: msg})
	require.NoError(t, err)
	second, err := d.Draft(t.Context(), bot.DraftRequest{Message: msg, Previous: first.Text, Instruction: "shorter"})
	require.NoError(t, err)
	assert.NotEqual(t, first.Text, second.Text)
	third, err := d.Draft(t.Context(), bot.DraftRequest{Message: msg, Previous: second.Text})
	require.NoError(t, err)
	assert.Equal(t, first.Text, third.Text)
	for _, c := range replies {
		for _, s := range c.says {
			assert.NotContains(t, s, "£", "canned replies name no price")
			assert.LessOrEqual(t, len(s), 4096)
		}
	}
}
