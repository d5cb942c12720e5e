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

func TestNoticeNamesMetaAsProcessorOnTheCloudAPI(t *testing.T) {
	linked := Policy{LLMProvider: "OpenAI (USA)"}.withDefaults()
	assert.NotContains(t, linked.Notice(), "Business Platform")

	for _, p := range []Policy{
		{LLMProvider: "OpenAI (USA)", WhatsAppProcessor: "Meta Platforms (WhatsApp Business Platform)"},
		{NoAI: true, WhatsAppProcessor: "Meta Platforms (WhatsApp Business Platform)"},
	} {
		p = p.withDefaults()
		assert.Contains(t, p.Notice(), "Meta Platforms (WhatsApp Business Platform), which runs our WhatsApp account for us")
		sup := p.Supplementary()
		var meta *Recipient
		for i := range sup.Recipients {
			if sup.Recipients[i].Name == p.WhatsAppProcessor {
				meta = &sup.Recipients[i]
			}
		}
		require.NotNil(t, meta, "the export lists Meta")
		assert.Contains(t, meta.Role, "processor")
		assert.Contains(t, sup.InternationalTransfers, "Meta may")
		if p.NoAI {
			assert.Equal(t, "Microsoft and Meta may process data outside the UK under UK adequacy regulations or the International Data Transfer Addendum", sup.InternationalTransfers)
		} else {
			assert.Contains(t, sup.InternationalTransfers, "the AI provider, Microsoft and Meta may")
		}
	}
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
