package whatsapp

import (
	"fmt"

	"go.mau.fi/whatsmeow/types"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/internal/waid"
)

// errBadChat is returned for a ChatID this channel did not make.
var errBadChat = waid.ErrBadChat

// makeChatID returns the opaque ChatID of the 1:1 chat with jid: the JID
// without its device, "447700900123@s.whatsapp.net" or "123456789@lid" (the
// format internal/waid shares with the Cloud API channel). jid must be a
// phone-number or LID user JID, as jidIdentity checks.
func makeChatID(jid types.JID) bot.ChatID {
	return bot.ChatID(jid.User + "@" + jid.Server)
}

// parseChatID is the inverse of makeChatID. It accepts only user JIDs on the
// phone-number or LID server, without a device, so a ChatID of another
// platform, a group or a business-scoped user id never reaches whatsmeow.
func parseChatID(id bot.ChatID) (types.JID, error) {
	c, err := waid.ParseChat(id)
	if err != nil {
		return types.JID{}, errBadChat
	}
	switch c.Kind {
	case waid.Phone:
		return types.JID{User: c.User, Server: types.DefaultUserServer}, nil
	case waid.LID:
		return types.JID{User: c.User, Server: types.HiddenUserServer}, nil
	}
	return types.JID{}, errBadChat
}

// isDigits reports whether s can be the user of a phone-number or LID JID.
func isDigits(s string) bool { return waid.IsLIDDigits(s) }

// jidIdentity names the person behind a user JID: whatsapp:+E164 for a
// phone-number JID, whatsapp-lid:<n>@lid for a LID. The device is dropped.
// ok is false for any other JID (groups, broadcasts, bots, newsletters).
func jidIdentity(jid types.JID) (bot.Identity, bool) {
	var c waid.Chat
	var err error
	switch jid.Server {
	case types.DefaultUserServer:
		c, err = waid.PhoneChat(jid.User)
	case types.HiddenUserServer:
		c, err = waid.LIDChat(jid.User)
	default:
		return bot.Identity{}, false
	}
	if err != nil {
		return bot.Identity{}, false
	}
	return c.Identity(), true
}

// identityJID is the inverse of jidIdentity: the user JID (no device) of a
// phone or LID identity. Other kinds and malformed values give an error.
func identityJID(id bot.Identity) (types.JID, error) {
	switch id.Kind {
	case bot.IDPhone, bot.IDLID:
		c, err := waid.IdentityChat(id)
		if err != nil {
			return types.JID{}, fmt.Errorf("identity jid: %w", err)
		}
		return parseChatID(c.ID())
	}
	return types.JID{}, fmt.Errorf("identity kind %q: %w", id.Kind, bot.ErrUnsupported)
}
