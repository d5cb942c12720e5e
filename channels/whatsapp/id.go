package whatsapp

import (
	"errors"
	"fmt"
	"strings"

	"go.mau.fi/whatsmeow/types"

	"github.com/switchboard/switchboard/bot"
)

// errBadChat is returned for a ChatID this channel did not make.
var errBadChat = errors.New("not a whatsapp 1:1 chat id")

// maxUserDigits bounds the user part of a phone-number or LID JID.
const maxUserDigits = 32

// makeChatID returns the opaque ChatID of the 1:1 chat with jid: the JID
// without its device, "447700900123@s.whatsapp.net" or "123456789@lid".
func makeChatID(jid types.JID) bot.ChatID {
	return bot.ChatID(jid.User + "@" + jid.Server)
}

// parseChatID is the inverse of makeChatID. It accepts only user JIDs on the
// phone-number or LID server, without a device, so a ChatID of another
// platform or a group never reaches whatsmeow.
func parseChatID(id bot.ChatID) (types.JID, error) {
	user, server, ok := strings.Cut(string(id), "@")
	if !ok || !isDigits(user) || (server != types.DefaultUserServer && server != types.HiddenUserServer) {
		return types.JID{}, errBadChat
	}
	return types.JID{User: user, Server: server}, nil
}

// isDigits reports whether s is 1 to maxUserDigits ASCII digits.
func isDigits(s string) bool {
	if s == "" || len(s) > maxUserDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isE164Digits reports whether s is the digits of an E.164 number as
// bot.NormalizePhone makes them: 8 to 15 digits, not starting with 0.
func isE164Digits(s string) bool {
	return len(s) >= 8 && len(s) <= 15 && s[0] != '0' && isDigits(s)
}

// jidIdentity names the person behind a user JID: whatsapp:+E164 for a
// phone-number JID, whatsapp-lid:<n>@lid for a LID. The device is dropped.
// ok is false for any other JID (groups, broadcasts, bots, newsletters).
func jidIdentity(jid types.JID) (bot.Identity, bool) {
	if !isDigits(jid.User) {
		return bot.Identity{}, false
	}
	switch jid.Server {
	case types.DefaultUserServer:
		if !isE164Digits(jid.User) {
			return bot.Identity{}, false
		}
		return bot.Identity{Kind: bot.IDPhone, Value: "+" + jid.User}, true
	case types.HiddenUserServer:
		return bot.Identity{Kind: bot.IDLID, Value: jid.User + "@lid"}, true
	}
	return bot.Identity{}, false
}

// identityJID is the inverse of jidIdentity: the user JID (no device) of a
// phone or LID identity. Other kinds and malformed values give an error.
func identityJID(id bot.Identity) (types.JID, error) {
	switch id.Kind {
	case bot.IDPhone:
		d, ok := strings.CutPrefix(id.Value, "+")
		if !ok || !isE164Digits(d) {
			return types.JID{}, fmt.Errorf("phone identity not in E.164: %w", bot.ErrBadIdentity)
		}
		return types.JID{User: d, Server: types.DefaultUserServer}, nil
	case bot.IDLID:
		d, ok := strings.CutSuffix(id.Value, "@lid")
		if !ok || !isDigits(d) {
			return types.JID{}, fmt.Errorf("lid identity not <digits>@lid: %w", bot.ErrBadIdentity)
		}
		return types.JID{User: d, Server: types.HiddenUserServer}, nil
	}
	return types.JID{}, fmt.Errorf("identity kind %q: %w", id.Kind, bot.ErrUnsupported)
}
