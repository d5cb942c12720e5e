package teams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Activity types and invoke names the channel handles.
const (
	typeMessage            = "message"
	typeInvoke             = "invoke"
	typeConversationUpdate = "conversationUpdate"
	invokeCardAction       = "adaptiveCard/action"
	contentTypeCard        = "application/vnd.microsoft.card.adaptive"
	contentTypeMessage     = "application/vnd.microsoft.activity.message"
	contentTypeError       = "application/vnd.microsoft.error"
)

// maxBody bounds an inbound activity.
const maxBody = 256 << 10

// account is a Bot Framework ChannelAccount.
type account struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
	Role        string `json:"role,omitempty"`
}

// conversation is a Bot Framework ConversationAccount.
type conversation struct {
	ID               string `json:"id,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
	ConversationType string `json:"conversationType,omitempty"` // personal, groupChat, channel
	TenantID         string `json:"tenantId,omitempty"`
	Name             string `json:"name,omitempty"`
}

// entity is an activity entity; only mentions are read.
type entity struct {
	Type      string   `json:"type,omitempty"`
	Mentioned *account `json:"mentioned,omitempty"`
	Text      string   `json:"text,omitempty"`
}

// attachment is an activity attachment (an Adaptive Card going out).
type attachment struct {
	ContentType string `json:"contentType,omitempty"`
	ContentURL  string `json:"contentUrl,omitempty"`
	Content     any    `json:"content,omitempty"`
	Name        string `json:"name,omitempty"`
}

// idRef is an {"id": …} object of Teams channelData.
type idRef struct {
	ID string `json:"id,omitempty"`
}

// channelData is the part of Teams channelData the channel reads.
type channelData struct {
	Tenant  idRef `json:"tenant"`
	Team    idRef `json:"team"`
	Channel idRef `json:"channel"`
}

// activity is an inbound Bot Framework activity, as much of it as the
// channel reads. Unknown fields are ignored.
type activity struct {
	Type         string          `json:"type"`
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Timestamp    string          `json:"timestamp"`
	ServiceURL   string          `json:"serviceUrl"`
	ChannelID    string          `json:"channelId"`
	From         account         `json:"from"`
	Conversation conversation    `json:"conversation"`
	Recipient    account         `json:"recipient"`
	Text         string          `json:"text"`
	ReplyToID    string          `json:"replyToId"`
	Entities     []entity        `json:"entities"`
	Attachments  []attachment    `json:"attachments"`
	MembersAdded []account       `json:"membersAdded"`
	ChannelData  channelData     `json:"channelData"`
	Value        json.RawMessage `json:"value"`
}

// outActivity is an activity the bot sends.
type outActivity struct {
	Type         string        `json:"type"`
	ID           string        `json:"id,omitempty"`
	From         *account      `json:"from,omitempty"`
	Conversation *conversation `json:"conversation,omitempty"`
	Text         string        `json:"text,omitempty"`
	TextFormat   string        `json:"textFormat,omitempty"`
	ReplyToID    string        `json:"replyToId,omitempty"`
	Attachments  []attachment  `json:"attachments,omitempty"`
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

// tenant returns the activity's tenant: conversation.tenantId, else
// channelData.tenant.id. ok is false when both are set and disagree.
func (a *activity) tenant() (string, bool) {
	t1 := strings.ToLower(strings.TrimSpace(a.Conversation.TenantID))
	t2 := strings.ToLower(strings.TrimSpace(a.ChannelData.Tenant.ID))
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
		if !strings.EqualFold(e.Type, "mention") || e.Mentioned == nil || e.Text == "" {
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
