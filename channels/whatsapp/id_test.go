package whatsapp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"

	"github.com/switchboard/switchboard/bot"
)

func TestParseChatID(t *testing.T) {
	tests := []struct {
		id   bot.ChatID
		want types.JID
		ok   bool
	}{
		{"447700900123@s.whatsapp.net", pnJID, true},
		{"123456789012345@lid", lidJID, true},
		{"447700900123:3@s.whatsapp.net", types.JID{}, false},
		{"120363000000000000@g.us", types.JID{}, false},
		{"status@broadcast", types.JID{}, false},
		{"+447700900123@s.whatsapp.net", types.JID{}, false},
		{"447700900123", types.JID{}, false},
		{"@lid", types.JID{}, false},
		{"19:abc@thread.tacv2", types.JID{}, false},
		{"", types.JID{}, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.id), func(t *testing.T) {
			got, err := parseChatID(tc.id)
			if !tc.ok {
				assert.ErrorIs(t, err, errBadChat)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.id, makeChatID(got))
		})
	}
}

func TestJIDIdentity(t *testing.T) {
	tests := []struct {
		name string
		jid  types.JID
		want bot.Identity
		ok   bool
	}{
		{"Phone", pnJID, pnID, true},
		{"PhoneDevice", types.JID{User: "447700900123", Device: 12, Server: types.DefaultUserServer}, pnID, true},
		{"LID", lidJID, lidID, true},
		{"LIDDevice", types.JID{User: "123456789012345", Device: 1, Server: types.HiddenUserServer}, lidID, true},
		{"PhoneTooShort", types.JID{User: "1234567", Server: types.DefaultUserServer}, bot.Identity{}, false},
		{"PhoneLeadingZero", types.JID{User: "07700900123", Server: types.DefaultUserServer}, bot.Identity{}, false},
		{"Group", types.JID{User: "120363000000000000", Server: types.GroupServer}, bot.Identity{}, false},
		{"Empty", types.EmptyJID, bot.Identity{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := jidIdentity(tc.jid)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
			if ok {
				back, err := identityJID(got)
				require.NoError(t, err)
				assert.Equal(t, tc.jid.ToNonAD(), back)
			}
		})
	}
}

func TestIdentityJIDRefusesOthers(t *testing.T) {
	for _, id := range []bot.Identity{
		{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-000000000000"},
		{Kind: bot.IDPhone, Value: "447700900123"},
		{Kind: bot.IDPhone, Value: "+44 7700 900123"},
		{Kind: bot.IDLID, Value: "123"},
		{Kind: bot.IDLID, Value: "abc@lid"},
	} {
		_, err := identityJID(id)
		assert.Error(t, err, id.Kind)
	}
}

// FuzzParseChatID checks that parseChatID never panics and that what it
// accepts round-trips through makeChatID and names a person.
func FuzzParseChatID(f *testing.F) {
	for _, s := range []string{"447700900123@s.whatsapp.net", "123456789012345@lid", "1@g.us", "@", "a@lid", "12:1@lid", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		jid, err := parseChatID(bot.ChatID(s))
		if err != nil {
			return
		}
		if got := makeChatID(jid); string(got) != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
		if jid.Device != 0 || (jid.Server != types.DefaultUserServer && jid.Server != types.HiddenUserServer) {
			t.Fatalf("accepted %q as %#v", s, jid)
		}
	})
}

// FuzzIdentityJID checks the identity <-> JID mapping from both sides: an
// identity typed by an admin (through bot.ParseIdentity, with spaces, a
// leading 0 and a default country code, JID suffixes) either fails cleanly or
// maps to a JID that maps back to the same identity.
func FuzzIdentityJID(f *testing.F) {
	for _, s := range []string{"+44 7700 900123", "07700 900123", "0044 7700 900123", "whatsapp-lid:123456789012345@lid",
		"whatsapp:+447700900123", "447700900123@s.whatsapp.net", "123@lid", "teams:abc", "+1 (555) 010-9999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, raw := range []types.JID{
			{User: s, Server: types.DefaultUserServer},
			{User: s, Server: types.HiddenUserServer},
		} {
			if id, ok := jidIdentity(raw); ok {
				back, err := identityJID(id)
				if err != nil || back != raw {
					t.Fatalf("jid %#v -> %v -> %#v, %v", raw, id, back, err)
				}
			}
		}
		id, err := bot.ParseIdentity(s, "44")
		if err != nil {
			return
		}
		jid, err := identityJID(id)
		if err != nil {
			if id.Kind == bot.IDPhone || id.Kind == bot.IDLID {
				t.Fatalf("parsed identity %v has no JID: %v", id, err)
			}
			return
		}
		again, ok := jidIdentity(jid)
		if !ok || again != id {
			t.Fatalf("identity %v -> %#v -> %v", id, jid, again)
		}
	})
}
