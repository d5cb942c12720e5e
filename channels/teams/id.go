package teams

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// Conversation is where the bot can post: a Teams conversation and the
// regional Bot Connector service that serves it. It is the channel's
// conversation reference, stored for the staff conversation.
type Conversation struct {
	ServiceURL string `json:"serviceUrl"`
	ID         string `json:"id"`
	TenantID   string `json:"tenantId,omitempty"`
	Type       string `json:"type,omitempty"` // personal, groupChat, channel
	BotID      string `json:"botId,omitempty"`
}

// maxConvID bounds a conversation id.
const maxConvID = 1024

// chatID renders the conversation as an opaque bot.ChatID:
// "<serviceUrl>#<conversationId>". A service URL never holds '#'.
func (c Conversation) chatID() bot.ChatID {
	return bot.ChatID(c.ServiceURL + "#" + c.ID)
}

// parseChatID is the inverse of Conversation.chatID. It checks that the
// service URL is an absolute http(s) URL and the conversation id is bounded.
func parseChatID(id string) (Conversation, error) {
	su, conv, ok := strings.Cut(id, "#")
	if !ok || conv == "" || len(conv) > maxConvID || strings.ContainsAny(conv, "\r\n") {
		return Conversation{}, fmt.Errorf("parse chat id: %w", errBadActivity)
	}
	if err := checkServiceURL(su); err != nil {
		return Conversation{}, fmt.Errorf("parse chat id: %w", err)
	}
	return Conversation{ServiceURL: su, ID: conv}, nil
}

// checkServiceURL accepts an absolute http or https URL with a host and no
// fragment, query or user info.
func checkServiceURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "#?") || len(s) > 512 {
		return fmt.Errorf("%w: bad service URL", errBadActivity)
	}
	return nil
}

// conversationOf returns the activity's conversation reference.
func conversationOf(a *activity) Conversation {
	t, _ := a.tenant()
	return Conversation{
		ServiceURL: a.ServiceURL,
		ID:         a.Conversation.ID,
		TenantID:   t,
		Type:       a.Conversation.ConversationType,
		BotID:      a.Recipient.ID,
	}
}

// threadRoot drops a ";messageid=…" suffix, so a channel post starts a new
// thread instead of replying in the one where /here was said.
func threadRoot(convID string) string {
	if i := strings.Index(convID, ";messageid="); i >= 0 {
		return convID[:i]
	}
	return convID
}

// normEntraID validates and lower-cases an Entra object id: a GUID, hex
// digits in dash-separated groups ("6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c").
// It is lenient on group lengths, as cmd/switchboard's SWITCHBOARD_ADMINS
// check is, because the Agents Playground uses ids such as
// 00000000-0000-0000-0000-0000000000020.
func normEntraID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	ok := len(s) >= 32 && len(s) <= 40 && s[0] != '-' && s[len(s)-1] != '-' && !strings.Contains(s, "--") &&
		strings.Count(s, "-") == 4
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			ok = false
		}
	}
	if !ok {
		return "", fmt.Errorf("%w: not an Entra object id", bot.ErrBadIdentity)
	}
	return s, nil
}

// activityKey names an activity for ClaimActivity: a digest of its
// conversation and activity ids.
func activityKey(a *activity) string {
	sum := sha256.Sum256([]byte(a.Conversation.ID + "\x00" + a.ID))
	return hex.EncodeToString(sum[:12])
}
