// Package waid holds the WhatsApp ids both WhatsApp transports share: the
// linked device (channels/whatsapp, whatsmeow) and the WhatsApp Business
// Platform (channels/whatsappcloud). They make the same ChatID for the same
// chat ("447700900123@s.whatsapp.net") and the same identity for the same
// person (whatsapp:+447700900123), so a business that switches transport
// keeps its people, their history and their open drafts. Only those two
// channels import it.
package waid

import (
	"errors"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// Servers: the part of a ChatID after the "@".
const (
	PhoneServer = "s.whatsapp.net" // the user is the E.164 digits (whatsmeow's DefaultUserServer)
	LIDServer   = "lid"            // the user is a WhatsApp LID (whatsmeow's HiddenUserServer)
	BSUIDServer = "bsuid"          // the user is a business-scoped user id (Cloud API only)
)

// ErrBadChat is returned for a ChatID that is not a WhatsApp 1:1 chat.
var ErrBadChat = errors.New("not a whatsapp 1:1 chat id")

// maxUserDigits bounds the user part of a LID.
const maxUserDigits = 32

// Kind says what names the person in a chat.
type Kind int

// Kinds of chat.
const (
	Phone Kind = iota + 1 // User is E.164 digits without "+"
	LID                   // User is LID digits
	BSUID                 // User is a business-scoped user id, "US.1349…"
)

// Chat is a parsed WhatsApp 1:1 chat.
type Chat struct {
	Kind Kind
	User string
}

// PhoneChat is the chat with the WhatsApp account of a phone number, given
// as its E.164 digits without "+" (a Cloud API wa_id, a whatsmeow JID user).
func PhoneChat(digits string) (Chat, error) {
	if !IsE164Digits(digits) {
		return Chat{}, ErrBadChat
	}
	return Chat{Kind: Phone, User: digits}, nil
}

// LIDChat is the chat with a LID user (digits, no device).
func LIDChat(digits string) (Chat, error) {
	if !isDigits(digits, maxUserDigits) {
		return Chat{}, ErrBadChat
	}
	return Chat{Kind: LID, User: digits}, nil
}

// BSUIDChat is the chat with a person known only by a business-scoped user
// id (they hide their number behind a username).
func BSUIDChat(bsuid string) (Chat, error) {
	id, err := bot.NormalizeBSUID(bsuid)
	if err != nil || id.Value != bsuid {
		return Chat{}, ErrBadChat
	}
	return Chat{Kind: BSUID, User: bsuid}, nil
}

// ID renders the chat as the bot's ChatID, "<user>@<server>".
func (c Chat) ID() bot.ChatID {
	switch c.Kind {
	case Phone:
		return bot.ChatID(c.User + "@" + PhoneServer)
	case LID:
		return bot.ChatID(c.User + "@" + LIDServer)
	case BSUID:
		return bot.ChatID(c.User + "@" + BSUIDServer)
	}
	return ""
}

// Identity names the person in the chat: whatsapp:+E164,
// whatsapp-lid:<n>@lid or whatsapp-bsuid:<id>.
func (c Chat) Identity() bot.Identity {
	switch c.Kind {
	case Phone:
		return bot.Identity{Kind: bot.IDPhone, Value: "+" + c.User}
	case LID:
		return bot.Identity{Kind: bot.IDLID, Value: c.User + "@lid"}
	case BSUID:
		return bot.Identity{Kind: bot.IDBSUID, Value: c.User}
	}
	return bot.Identity{}
}

// ParseChat is the inverse of Chat.ID. It accepts only what PhoneChat,
// LIDChat and BSUIDChat make: no device suffix, no group, broadcast or
// other platform's chat.
func ParseChat(id bot.ChatID) (Chat, error) {
	user, server, ok := strings.Cut(string(id), "@")
	if !ok {
		return Chat{}, ErrBadChat
	}
	switch server {
	case PhoneServer:
		return PhoneChat(user)
	case LIDServer:
		return LIDChat(user)
	case BSUIDServer:
		return BSUIDChat(user)
	}
	return Chat{}, ErrBadChat
}

// IdentityChat is the inverse of Chat.Identity: the chat with the person an
// identity names. Other kinds and malformed values give an error wrapping
// bot.ErrBadIdentity.
func IdentityChat(id bot.Identity) (Chat, error) {
	switch id.Kind {
	case bot.IDPhone:
		d, ok := strings.CutPrefix(id.Value, "+")
		if c, err := PhoneChat(d); ok && err == nil {
			return c, nil
		}
		return Chat{}, errors.Join(errors.New("phone identity not in E.164"), bot.ErrBadIdentity)
	case bot.IDLID:
		d, ok := strings.CutSuffix(id.Value, "@lid")
		if c, err := LIDChat(d); ok && err == nil {
			return c, nil
		}
		return Chat{}, errors.Join(errors.New("lid identity not <digits>@lid"), bot.ErrBadIdentity)
	case bot.IDBSUID:
		if c, err := BSUIDChat(id.Value); err == nil {
			return c, nil
		}
		return Chat{}, errors.Join(errors.New("malformed business-scoped user id"), bot.ErrBadIdentity)
	}
	return Chat{}, errors.Join(errors.New("not a whatsapp identity"), bot.ErrBadIdentity)
}

// PhoneIdentity returns the identity of a phone number given as E.164 digits
// (a wa_id): whatsapp:+<digits>.
func PhoneIdentity(digits string) (bot.Identity, error) {
	c, err := PhoneChat(digits)
	if err != nil {
		return bot.Identity{}, errors.Join(errors.New("not e.164 digits"), bot.ErrBadIdentity)
	}
	return c.Identity(), nil
}

// IsE164Digits reports whether s is the digits of an E.164 number as
// bot.NormalizePhone makes them: 8 to 15 digits, not starting with 0.
func IsE164Digits(s string) bool {
	return len(s) >= 8 && len(s) <= 15 && s[0] != '0' && isDigits(s, 15)
}

// IsLIDDigits reports whether s can be the user part of a LID.
func IsLIDDigits(s string) bool { return isDigits(s, maxUserDigits) }

// isDigits reports whether s is 1 to max ASCII digits.
func isDigits(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
