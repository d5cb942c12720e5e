package waid

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestParseChat(t *testing.T) {
	tests := []struct {
		id   bot.ChatID
		want Chat
		who  bot.Identity
		ok   bool
	}{
		{"447700900123@s.whatsapp.net", Chat{Phone, "447700900123"}, bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}, true},
		{"123456789012345@lid", Chat{LID, "123456789012345"}, bot.Identity{Kind: bot.IDLID, Value: "123456789012345@lid"}, true},
		{"US.13491208655302741918@bsuid", Chat{BSUID, "US.13491208655302741918"}, bot.Identity{Kind: bot.IDBSUID, Value: "US.13491208655302741918"}, true},
		{"US.ENT.11815799212886844830@bsuid", Chat{BSUID, "US.ENT.11815799212886844830"}, bot.Identity{Kind: bot.IDBSUID, Value: "US.ENT.11815799212886844830"}, true},
		{"us.13491208655302741918@bsuid", Chat{}, bot.Identity{}, false}, // not as Meta sends it
		{"447700900123:3@s.whatsapp.net", Chat{}, bot.Identity{}, false},
		{"07700900123@s.whatsapp.net", Chat{}, bot.Identity{}, false},
		{"1234567@s.whatsapp.net", Chat{}, bot.Identity{}, false},
		{"1234567890123456@s.whatsapp.net", Chat{}, bot.Identity{}, false},
		{"+447700900123@s.whatsapp.net", Chat{}, bot.Identity{}, false},
		{"120363000000000000@g.us", Chat{}, bot.Identity{}, false},
		{"status@broadcast", Chat{}, bot.Identity{}, false},
		{"447700900123", Chat{}, bot.Identity{}, false},
		{"@lid", Chat{}, bot.Identity{}, false},
		{"19:abc@thread.tacv2", Chat{}, bot.Identity{}, false},
		{"", Chat{}, bot.Identity{}, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.id), func(t *testing.T) {
			got, err := ParseChat(tc.id)
			if !tc.ok {
				assert.ErrorIs(t, err, ErrBadChat)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.id, got.ID())
			assert.Equal(t, tc.who, got.Identity())
			back, err := IdentityChat(tc.who)
			require.NoError(t, err)
			assert.Equal(t, got, back)
		})
	}
}

func TestPhoneIdentity(t *testing.T) {
	id, err := PhoneIdentity("447700900123")
	require.NoError(t, err)
	assert.Equal(t, bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}, id)
	for _, bad := range []string{"", "+447700900123", "0447700900123", "4477009001234567", "44 7700 900123"} {
		_, err := PhoneIdentity(bad)
		assert.ErrorIs(t, err, bot.ErrBadIdentity, bad)
	}
}

func TestIdentityChatRefusesOthers(t *testing.T) {
	for _, id := range []bot.Identity{
		{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-000000000000"},
		{Kind: bot.IDPhone, Value: "447700900123"},
		{Kind: bot.IDPhone, Value: "+44 7700 900123"},
		{Kind: bot.IDLID, Value: "123"},
		{Kind: bot.IDLID, Value: "abc@lid"},
		{Kind: bot.IDBSUID, Value: "13491208655302741918"},
	} {
		_, err := IdentityChat(id)
		assert.ErrorIs(t, err, bot.ErrBadIdentity, id.Kind)
	}
}

// FuzzChatRoundTrip checks that what ParseChat accepts round-trips through
// Chat.ID, and through the identity it names, from both sides: a chat and an
// identity an admin typed (bot.ParseIdentity).
func FuzzChatRoundTrip(f *testing.F) {
	for _, s := range []string{"447700900123@s.whatsapp.net", "123456789012345@lid", "US.13491208655302741918@bsuid",
		"US.ENT.1@bsuid", "1@g.us", "@", "a@lid", "12:1@lid", "", "+44 7700 900123", "whatsapp-bsuid:BR.15", "whatsapp-lid:1@lid"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseChat(bot.ChatID(s)); err == nil {
			if got := c.ID(); string(got) != s {
				t.Fatalf("chat round trip %q -> %q", s, got)
			}
			back, err := IdentityChat(c.Identity())
			if err != nil || back != c {
				t.Fatalf("chat %q -> identity %v -> %v, %v", s, c.Identity(), back, err)
			}
		}
		id, err := bot.ParseIdentity(s, "44")
		if err != nil {
			return
		}
		c, err := IdentityChat(id)
		if err != nil {
			if id.Kind == bot.IDPhone || id.Kind == bot.IDLID || id.Kind == bot.IDBSUID {
				t.Fatalf("parsed identity %v has no chat: %v", id, err)
			}
			return
		}
		if c.Identity() != id {
			t.Fatalf("identity %v -> chat %v -> %v", id, c, c.Identity())
		}
		again, err := ParseChat(c.ID())
		if err != nil || again != c {
			t.Fatalf("identity %v -> %q does not parse back: %v", id, c.ID(), err)
		}
	})
}
