package whatsappcloud

import (
	"fmt"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/internal/waid"
)

// errBadChat is returned for a ChatID this channel cannot send to.
var errBadChat = waid.ErrBadChat

// makeChatID returns the ChatID of the chat with a sender: by phone number
// (wa_id, the same id the linked-device channel makes) when Meta shares it,
// else by business-scoped user id. ok is false when neither is valid.
func makeChatID(waID, userID string) (bot.ChatID, bool) {
	if c, err := waid.PhoneChat(waID); err == nil {
		return c.ID(), true
	}
	if c, err := waid.BSUIDChat(userID); err == nil {
		return c.ID(), true
	}
	return "", false
}

// senderIdentities names the sender: whatsapp:+E164 from wa_id first, and
// the business-scoped user id as a second identity of the same person (or
// the only one, for a person who hides their number).
func senderIdentities(waID, userID string) (sender bot.Identity, alt []bot.Identity, ok bool) {
	phone, perr := waid.PhoneChat(waID)
	bsuid, berr := waid.BSUIDChat(userID)
	switch {
	case perr == nil && berr == nil:
		return phone.Identity(), []bot.Identity{bsuid.Identity()}, true
	case perr == nil:
		return phone.Identity(), nil, true
	case berr == nil:
		return bsuid.Identity(), nil, true
	}
	return bot.Identity{}, nil, false
}

// recipient is where the Graph API sends: "to" (a wa_id) or "recipient"
// (a business-scoped user id).
type recipient struct {
	to, bsuid string
}

// parseChatID is the inverse of makeChatID. A LID chat (made by the
// linked-device channel) cannot be reached through the Cloud API.
func parseChatID(id bot.ChatID) (recipient, error) {
	c, err := waid.ParseChat(id)
	if err != nil {
		return recipient{}, errBadChat
	}
	switch c.Kind {
	case waid.Phone:
		return recipient{to: c.User}, nil
	case waid.BSUID:
		return recipient{bsuid: c.User}, nil
	}
	return recipient{}, fmt.Errorf("%w: the Cloud API reaches people by phone number or business-scoped user id, not by LID", errBadChat)
}

// chatsOf returns the chats of the people ids name (their phone numbers and
// business-scoped user ids); other kinds are skipped.
func chatsOf(ids []bot.Identity) []bot.ChatID {
	var out []bot.ChatID
	for _, id := range ids {
		if id.Kind != bot.IDPhone && id.Kind != bot.IDBSUID {
			continue
		}
		if c, err := waid.IdentityChat(id); err == nil {
			out = append(out, c.ID())
		}
	}
	return out
}
