package bot_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "E164", in: "+447700900123", want: "+447700900123"},
		{name: "Spaces", in: "+44 7700 900123", want: "+447700900123"},
		{name: "National", in: "07700 900123", want: "+447700900123"},
		{name: "DoubleZero", in: "0044 7700 900123", want: "+447700900123"},
		{name: "TrunkZeroInBrackets", in: "+44 (0)7700-900.123", want: "+447700900123"},
		{name: "TrunkZeroEgypt", in: "+20 (0)10 1234 5678", want: "+201012345678"},
		{name: "TrunkZeroDoubleZero", in: "0044 (0)7700 900123", want: "+447700900123"},
		{name: "US", in: "+1 (202) 555-0143", want: "+12025550143"},
		{name: "NBSP", in: "+44\u00a07700\u00a0900123", want: "+447700900123"},
		{name: "NationalWithoutTrunkZero", in: "7700 900987", want: "+447700900987"},
		{name: "CountryCodeWithoutPlus", in: "44 7700 900987", want: "+447700900987"},
		{name: "UKLandlineWithoutTrunkZero", in: "20 7946 0018", want: "+442079460018"},
		{name: "ErrBareTooShort", in: "7700 9009", wantErr: true},
		{name: "ErrBareForeignWithoutPlus", in: "1 202 555 0143", wantErr: true},
		{name: "ErrLetters", in: "+44 7700 ABC", wantErr: true},
		{name: "ErrShort", in: "+44 77", wantErr: true},
		{name: "ErrLong", in: "+4477009001234567", wantErr: true},
		{name: "ErrEmpty", in: "", wantErr: true},
		{name: "ErrPlusInside", in: "44+7700900123", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bot.NormalizePhone(tc.in, "44")
			if tc.wantErr {
				require.ErrorIs(t, err, bot.ErrBadIdentity)
				assert.NotContains(t, err.Error(), "7700", "errors must not echo the number")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNormalizePhoneNeedsCountryCode(t *testing.T) {
	_, err := bot.NormalizePhone("07700 900123", "")
	require.ErrorIs(t, err, bot.ErrBadIdentity)
}

// TestNormalizePhoneBareDigits: digits without "+", "00" or a trunk "0" are
// read with the default country's numbering plan, as a national number or
// as one written with its country code but no "+"; a number that fits both
// or neither, or a country whose plan is not known, is refused rather than
// guessed (a wrong guess names another person).
func TestNormalizePhoneBareDigits(t *testing.T) {
	tests := []struct {
		name, cc, in, want string
	}{
		{"UKMobile", "44", "7700 900987", "+447700900987"},
		{"UKWithCountryCode", "44", "447700900987", "+447700900987"},
		{"US", "1", "202 555 0143", "+12025550143"},
		{"USWithCountryCode", "1", "1 202 555 0143", "+12025550143"},
		{"Ireland", "353", "87 123 4567", "+353871234567"},
		{"France", "33", "6 12 34 56 78", "+33612345678"},
		{"NoDefaultCountryIsInternational", "", "447700900987", "+447700900987"},
		{"ErrUnknownPlan", "49", "151 1234 5678", ""},
		{"ErrUKTooLong", "44", "77009009871", ""},
		{"ErrUSWrongLength", "1", "202 555 01", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bot.NormalizePhone(tc.in, tc.cc)
			if tc.want == "" {
				require.ErrorIs(t, err, bot.ErrBadIdentity)
				assert.NotContains(t, err.Error(), "1234", "errors must not echo the number")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    bot.Identity
		wantErr bool
	}{
		{name: "Phone", in: "07700 900123", want: bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}},
		{name: "PhoneKind", in: "whatsapp:+44 7700 900123", want: bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}},
		{name: "Teams", in: "teams:6F1B0C2E-0000-4000-8000-00000000ABCD", want: bot.Identity{Kind: bot.IDTeams, Value: "6f1b0c2e-0000-4000-8000-00000000abcd"}},
		{name: "TeamsCaseKind", in: "Teams: 6f1b", want: bot.Identity{Kind: bot.IDTeams, Value: "6f1b"}},
		{name: "Tenant", in: "tenant:contoso-tenant", want: bot.Identity{Kind: bot.IDTenant, Value: "contoso-tenant"}},
		{name: "LID", in: "whatsapp-lid:123456789@lid", want: bot.Identity{Kind: bot.IDLID, Value: "123456789@lid"}},
		{name: "LIDDevice", in: "whatsapp-lid:123456789:12@lid", want: bot.Identity{Kind: bot.IDLID, Value: "123456789@lid"}},
		{name: "BSUID", in: "whatsapp-bsuid:US.13491208655302741918", want: bot.Identity{Kind: bot.IDBSUID, Value: "US.13491208655302741918"}},
		{name: "BSUIDKeepsCase", in: "whatsapp-bsuid: br.15025aBc76", want: bot.Identity{Kind: bot.IDBSUID, Value: "BR.15025aBc76"}},
		{name: "BSUIDParent", in: "whatsapp-bsuid:US.ENT.11815799212886844830", want: bot.Identity{Kind: bot.IDBSUID, Value: "US.ENT.11815799212886844830"}},
		{name: "ErrBSUIDNoCountry", in: "whatsapp-bsuid:13491208655302741918", wantErr: true},
		{name: "ErrBSUIDDash", in: "whatsapp-bsuid:US.1349-1208", wantErr: true},
		{name: "ErrBSUIDEmpty", in: "whatsapp-bsuid:US.", wantErr: true},
		{name: "ErrBSUIDLong", in: "whatsapp-bsuid:US." + strings.Repeat("1", 129), wantErr: true},
		{name: "ErrKind", in: "email:someone@example.com", wantErr: true},
		{name: "ErrTeamsSpace", in: "teams:a b", wantErr: true},
		{name: "ErrTeamsEmpty", in: "teams:", wantErr: true},
		{name: "ErrLIDLetters", in: "whatsapp-lid:abc@lid", wantErr: true},
		{name: "ErrEmpty", in: "  ", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bot.ParseIdentity(tc.in, "44")
			if tc.wantErr {
				require.ErrorIs(t, err, bot.ErrBadIdentity)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMaskPhone(t *testing.T) {
	assert.Equal(t, "+44 7••• ••0123", bot.MaskPhone("+447700900123"))
	assert.Equal(t, "+1 2••• ••0143", bot.MaskPhone("+12025550143"))
	assert.Equal(t, "•••", bot.MaskPhone("123"))
	assert.NotContains(t, bot.MaskPhone("+447700900123"), "7700900")
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{"07700 900123", "+44 (0)7700-900.123", "teams:abc", "tenant:x", "whatsapp-lid:1@lid", "whatsapp-bsuid:US.ENT.1a", "0044", ":", "tel:+1 202 555 0143",
		"7700 900987", "447700900987", "1 202 555 0143"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := bot.ParseIdentity(s, "44")
		if err != nil {
			require.ErrorIs(t, err, bot.ErrBadIdentity)
			return
		}
		// A parsed identity is canonical: parsing its rendering gives it back.
		again, err := bot.ParseIdentity(id.String(), "44")
		require.NoError(t, err)
		assert.Equal(t, id, again)
		if id.Kind == bot.IDPhone {
			assert.True(t, strings.HasPrefix(id.Value, "+"))
			assert.NotEqual(t, "•••", bot.MaskPhone(id.Value))
			// Digits typed without "+", "00" or a trunk "0" are a UK
			// number: the default country is never dropped.
			if in := strings.TrimSpace(s); in != "" && in[0] >= '1' && in[0] <= '9' {
				assert.True(t, strings.HasPrefix(id.Value, "+44"), "bare digits must take the default country code 44")
			}
		}
	})
}
