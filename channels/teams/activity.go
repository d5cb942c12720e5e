package teams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// Invoke names and content types the channel handles; activity types are
// msbotbuilder-go's (schema.Message, schema.Invoke, schema.ConversationUpdate).
const (
	invokeCardAction   = "adaptiveCard/action"
	contentTypeCard    = "application/vnd.microsoft.card.adaptive"
	contentTypeMessage = "application/vnd.microsoft.activity.message"
	contentTypeError   = "application/vnd.microsoft.error"
)

// maxBody bounds an inbound activity.
const maxBody = 256 << 10

// activity is an inbound Bot Framework activity: msbotbuilder-go's
// schema.Activity, plus a few fields decoded alongside it because the SDK's
// types lose or reject them. The side fields shadow the SDK fields of the
// same JSON name, so those SDK fields stay empty; read these instead:
//
//   - Entities: schema.Entity keeps only "type", so a mention loses
//     "mentioned" and "text", which are needed to strip the bot's @mention.
//     schema.Mention keeps them.
//   - Value: schema.Activity.Value is a map, so a non-object value (an
//     Action.Submit with string data) would fail the whole decode.
//   - Timestamp, LocalTimestamp, Expiration: time.Time in the SDK, so one
//     malformed date would fail the whole decode; Timestamp falls back to the
//     arrival time, the other two are not read.
//
// No SDK type leaves the package: the handler maps activities to bot types.
type activity struct {
	schema.Activity
	Entities       []schema.Mention `json:"entities"`
	Value          json.RawMessage  `json:"value"`
	Timestamp      string           `json:"timestamp"`
	LocalTimestamp json.RawMessage  `json:"localTimestamp"`
	Expiration     json.RawMessage  `json:"expiration"`
}

// errBadActivity is returned for an activity that cannot be used.
var errBadActivity = errors.New("bad activity")

// decodeActivity parses one inbound activity. It rejects bodies over maxBody,
// malformed JSON, a missing type, and JSON with trailing data.
func decodeActivity(body []byte) (activity, error) {
	var a activity
	if len(body) > maxBody {
		return a, fmt.Errorf("%w: body over %d bytes", errBadActivity, maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&a); err != nil {
		return activity{}, fmt.Errorf("%w: malformed JSON", errBadActivity)
	}
	if dec.More() {
		return activity{}, fmt.Errorf("%w: trailing data", errBadActivity)
	}
	if a.Type == "" {
		return activity{}, fmt.Errorf("%w: no type", errBadActivity)
	}
	return a, nil
}

// channelDataString reads a string at path in Teams channelData (for example
// "tenant", "id"); "" when absent or not a string.
func channelDataString(data map[string]any, path ...string) string {
	var v any = data
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// tenant returns the activity's tenant: conversation.tenantId, else
// channelData.tenant.id. ok is false when both are set and disagree.
func (a *activity) tenant() (string, bool) {
	t1 := strings.ToLower(strings.TrimSpace(a.Conversation.TenantID))
	t2 := strings.ToLower(strings.TrimSpace(channelDataString(a.ChannelData, "tenant", "id")))
	switch {
	case t1 == "":
		return t2, true
	case t2 == "" || t1 == t2:
		return t1, true
	default:
		return "", false
	}
}

// group reports whether the conversation has more than two people.
func (a *activity) group() bool {
	return a.Conversation.IsGroup || a.Conversation.ConversationType == "channel" ||
		a.Conversation.ConversationType == "groupChat"
}

// sentAt is the activity's timestamp, or fallback when absent or malformed.
func (a *activity) sentAt(fallback time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, a.Timestamp); err == nil {
		return t.UTC()
	}
	return fallback
}

// cleanText returns the message text with the bot's @mentions removed and
// surrounding space trimmed. Teams puts "<at>Name</at>" in text for each
// mention entity; only those naming the recipient (the bot) are removed.
func (a *activity) cleanText() string {
	text := a.Text
	for _, e := range a.Entities {
		if !strings.EqualFold(e.Type, "mention") || e.Mentioned == (schema.ChannelAccount{}) || e.Text == "" {
			continue
		}
		if a.Recipient.ID != "" && e.Mentioned.ID != a.Recipient.ID {
			continue
		}
		text = strings.ReplaceAll(text, e.Text, " ")
	}
	return strings.TrimSpace(strings.NewReplacer("\u00a0", " ", "&nbsp;", " ").Replace(text))
}

// botAdded reports whether a conversationUpdate says the bot joined.
func (a *activity) botAdded() bool {
	for _, m := range a.MembersAdded {
		if m.ID != "" && m.ID == a.Recipient.ID {
			return true
		}
	}
	return false
}
