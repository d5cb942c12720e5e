package teams

import (
	"testing"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SDK's schema.Activity loses or rejects these; the side fields keep them.
func TestDecodeActivitySideFields(t *testing.T) {
	fallback := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, a activity)
	}{
		{name: "MentionKept", body: `{"type":"message","text":"<at>Bot</at> hi","recipient":{"id":"28:b"},
			"entities":[{"type":"mention","mentioned":{"id":"28:b","name":"Bot"},"text":"<at>Bot</at>"},{"type":"clientInfo","locale":"en-GB"}]}`,
			check: func(t *testing.T, a activity) {
				require.Len(t, a.Entities, 2)
				assert.Equal(t, "28:b", a.Entities[0].Mentioned.ID)
				assert.Equal(t, "hi", a.cleanText())
			}},
		{name: "StringValue", body: `{"type":"message","value":"approve"}`,
			check: func(t *testing.T, a activity) { assert.JSONEq(t, `"approve"`, string(a.Value)) }},
		{name: "MalformedTimestamps", body: `{"type":"message","timestamp":"yesterday","localTimestamp":"","expiration":42}`,
			check: func(t *testing.T, a activity) { assert.Equal(t, fallback, a.sentAt(fallback)) }},
		{name: "Timestamp", body: `{"type":"message","timestamp":"2026-11-28T10:15:02.123+01:00"}`,
			check: func(t *testing.T, a activity) {
				assert.Equal(t, time.Date(2026, 11, 28, 9, 15, 2, 123e6, time.UTC), a.sentAt(fallback))
			}},
		{name: "SDKFieldsDecoded", body: `{"type":"conversationUpdate","from":{"id":"29:x","aadObjectId":"A"},
			"conversation":{"id":"19:c","tenantId":"T","conversationType":"channel"},"membersAdded":[{"id":"28:b"}],"recipient":{"id":"28:b"}}`,
			check: func(t *testing.T, a activity) {
				assert.Equal(t, schema.ConversationUpdate, a.Type)
				assert.Equal(t, "A", a.From.AadObjectID)
				assert.True(t, a.botAdded())
				assert.True(t, a.group())
				tenant, ok := a.tenant()
				assert.True(t, ok)
				assert.Equal(t, "t", tenant)
			}},
		{name: "ChannelDataTenant", body: `{"type":"message","channelData":{"tenant":{"id":"T2"}}}`,
			check: func(t *testing.T, a activity) {
				tenant, ok := a.tenant()
				assert.True(t, ok)
				assert.Equal(t, "t2", tenant)
			}},
		{name: "ChannelDataTenantNotString", body: `{"type":"message","channelData":{"tenant":{"id":7}}}`,
			check: func(t *testing.T, a activity) {
				tenant, ok := a.tenant()
				assert.True(t, ok)
				assert.Empty(t, tenant)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := decodeActivity([]byte(tc.body))
			require.NoError(t, err)
			tc.check(t, a)
		})
	}
}
