package privacy

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

var parseCases = []struct {
	name string
	text string
	want Op
	err  error
}{
	{"Help", "/help", Op{Verb: VerbHelp}, nil},
	{"PrivacyUpper", "/PRIVACY", Op{Verb: VerbPrivacy}, nil},
	{"ExportSelf", "/export", Op{Verb: VerbExport, Target: Target{Scope: ScopeSelf}}, nil},
	{"ExportMe", "/Export ME", Op{Verb: VerbExport, Target: Target{Scope: ScopeSelf}}, nil},
	{"ForgetMe", "/forget me", Op{Verb: VerbForget, Target: Target{Scope: ScopeSelf}}, nil},
	{"ForgetMeShouted", "  /FORGET   Me  ", Op{Verb: VerbForget, Target: Target{Scope: ScopeSelf}}, nil},
	{"ForgetBare", "/forget", Op{}, ErrUsage},
	{"ForgetPhoneSpaced", "/forget +44 7700 900123", Op{Verb: VerbForget, Target: Target{Scope: ScopePhone, ID: bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}}}, nil},
	{"ForgetPhoneNational", "/forget 07700 900123", Op{Verb: VerbForget, Target: Target{Scope: ScopePhone, ID: bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}}}, nil},
	{"ForgetPhone00", "/forget 0044 (0)7700-900-123", Op{Verb: VerbForget, Target: Target{Scope: ScopePhone, ID: bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}}}, nil},
	{"ExportTeams", "/export teams:AB12-cd34", Op{Verb: VerbExport, Target: Target{Scope: ScopeTeams, ID: bot.Identity{Kind: bot.IDTeams, Value: "ab12-cd34"}}}, nil},
	{"ExportTenant", "/export tenant: T-1", Op{Verb: VerbExport, Target: Target{Scope: ScopeTenant, ID: bot.Identity{Kind: bot.IDTenant, Value: "t-1"}}}, nil},
	{"ForgetLID", "/forget whatsapp-lid:123456789@lid", Op{Verb: VerbForget, Target: Target{Scope: ScopeLID, ID: bot.Identity{Kind: bot.IDLID, Value: "123456789@lid"}}}, nil},
	{"ForgetBSUID", "/forget whatsapp-bsuid:US.13491208655302741918aB", Op{Verb: VerbForget, Target: Target{Scope: ScopeBSUID, ID: bot.Identity{Kind: bot.IDBSUID, Value: "US.13491208655302741918aB"}}}, nil},
	{"ForgetCompany", "/forget Company", Op{Verb: VerbForget, Target: Target{Scope: ScopeCompany}}, nil},
	{"ForgetGarbage", "/forget everyone please", Op{}, bot.ErrBadIdentity},
	{"ForgetUnknownKind", "/forget mail:x@y", Op{}, bot.ErrBadIdentity},
	{"StopWithWords", "/stop please", Op{Verb: VerbStop}, nil},
	{"Start", "/start", Op{Verb: VerbStart}, nil},
	{"Name", "/name  Ada   Lovelace ", Op{Verb: VerbName, Name: "Ada Lovelace"}, nil},
	{"NameEmoji", "/name Zoë 👩‍💻", Op{Verb: VerbName, Name: "Zoë 👩‍💻"}, nil},
	{"NameEmpty", "/name", Op{}, ErrUsage},
	{"NameTooLong", "/name " + strings.Repeat("a", MaxNameLen+1), Op{}, ErrUsage},
	{"NameBidi", "/name Ada\u202eecalevoL", Op{}, ErrUsage},
	{"Requests", "/requests", Op{Verb: VerbRequests}, nil},
	{"Retention", "/retention", Op{Verb: VerbRetention}, nil},
	{"Unknown", "/weather", Op{}, bot.ErrUnknownCommand},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			cmd, ok := bot.ParseCommand(tc.text)
			require.True(t, ok)
			got, err := Parse(cmd, "44")
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseErrorsNeverRepeatInput(t *testing.T) {
	for _, text := range []string{"/forget +44 7700 90012x", "/forget 07700900123", "/export secret:value", "/name \x01Bob"} {
		cmd, ok := bot.ParseCommand(text)
		require.True(t, ok)
		_, err := Parse(cmd, "") // no default country code: national numbers fail
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "7700")
		assert.NotContains(t, err.Error(), "secret")
		assert.NotContains(t, err.Error(), "Bob")
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.text)
	}
	f.Add("/forget tel:+1 (555) 010-9999")
	f.Add("/export whatsapp:+44")
	f.Fuzz(func(t *testing.T, text string) {
		cmd, ok := bot.ParseCommand(text)
		if !ok {
			return
		}
		op, err := Parse(cmd, "44")
		if err != nil {
			if !errors.Is(err, bot.ErrUnknownCommand) && !errors.Is(err, ErrUsage) && !errors.Is(err, bot.ErrBadIdentity) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		switch op.Verb {
		case VerbForget, VerbExport:
			checkTarget(t, op.Target)
		case VerbName:
			if op.Name == "" || len(op.Name) > MaxNameLen || !utf8.ValidString(op.Name) || strings.TrimSpace(op.Name) != op.Name {
				t.Fatalf("bad name accepted: %q", op.Name)
			}
		}
	})
}

// checkTarget asserts a parsed target is normalised: parsing its canonical
// form again gives the same target.
func checkTarget(t *testing.T, tg Target) {
	t.Helper()
	switch tg.Scope {
	case ScopeSelf, ScopeCompany:
		if !tg.ID.IsZero() {
			t.Fatalf("%s target with an identity", tg.Scope)
		}
		return
	case ScopePhone:
		v := tg.ID.Value
		if len(v) < 9 || len(v) > 16 || v[0] != '+' || v[1] == '0' || strings.Trim(v[1:], "0123456789") != "" {
			t.Fatalf("phone not E.164: %q", v)
		}
	}
	again, err := ParseTarget(tg.ID.String(), "44")
	if err != nil {
		t.Fatalf("canonical form does not parse: %v", err)
	}
	if again != tg {
		t.Fatalf("not idempotent: %+v then %+v", tg, again)
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"me", "company", "+44 7700 900123", "07700900123", "0044 7700 900123", "+44 (0)7700 900123", "teams:abc", "tenant:T", "whatsapp-lid:12@lid", "whatsapp-lid:12:3@lid", "tel:+15550109999", "phone:0"} {
		f.Add(s, "44")
	}
	f.Fuzz(func(t *testing.T, s, cc string) {
		tg, err := ParseTarget(s, cc)
		if err != nil {
			if !errors.Is(err, bot.ErrBadIdentity) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		checkTarget(t, tg)
	})
}
