package privacy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoticeNamesAIOnlyWhenConfigured(t *testing.T) {
	withAI := Policy{LLMProvider: "OpenAI (USA)"}.withDefaults()
	assert.Contains(t, withAI.Notice(), "OpenAI (USA) (AI drafts)")
	assert.Contains(t, withAI.Notice(), "An AI model drafts replies")

	noAI := Policy{NoAI: true}.withDefaults()
	n := noAI.Notice()
	assert.NotContains(t, n, "AI drafts")
	assert.NotContains(t, n, "AI model drafts")
	assert.Contains(t, n, "no AI model sees your messages")

	sup, err := json.Marshal(noAI.Supplementary())
	require.NoError(t, err)
	assert.NotContains(t, string(sup), "AI provider")
	assert.NotContains(t, string(sup), "AI-drafted")
	assert.NotContains(t, string(sup), noAI.LLMProvider, "no AI recipient is listed")
	full, err := json.Marshal(withAI.Supplementary())
	require.NoError(t, err)
	assert.Contains(t, string(full), "OpenAI (USA)")
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:                "24 hours",
		10 * time.Minute:              "10 minutes",
		time.Minute:                   "1 minute",
		90 * time.Minute:              "1 hour 30 minutes",
		time.Hour:                     "1 hour",
		20 * time.Second:              "less than a minute",
		24*time.Hour + 29*time.Second: "24 hours",
	} {
		assert.Equal(t, want, duration(d), d.String())
	}
}
