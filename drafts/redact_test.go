package drafts

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"Nothing", "Is the boiler service £85?", "Is the boiler service £85?"},
		{"UKMobile", "call 07700 900123 today", "call [PHONE_1] today"},
		{"International", "or +44 7700 900123.", "or [PHONE_1]."},
		{"TrunkInBrackets", "ring +44 (0)20 7946 0958", "ring [PHONE_1]"},
		{"Dashes", "0161-496-0000 please", "[PHONE_1] please"},
		{"Landline", "020 7946 0958", "[PHONE_1]"},
		{"Email", "mail Jane.Doe+x@example.co.uk now", "mail [EMAIL_1] now"},
		{"Card", "card 4111 1111 1111 1111 exp 12/28", "card [CARD_1] exp 12/28"},
		{"CardDashes", "4111-1111-1111-1111", "[CARD_1]"},
		{"CardNoLuhn", "order 4111 1111 1111 1112", "order 4111 1111 1111 1112"},
		{"Amex", "3782 822463 10005", "[CARD_1]"},
		{"Postcode", "I'm at SW1A 1AA, near M1 1AE", "I'm at [POSTCODE_1], near [POSTCODE_2]"},
		{"PostcodeLower", "postcode b33 8th", "postcode [POSTCODE_1]"},
		{"Repeated", "07700 900123 or 07700 900123", "[PHONE_1] or [PHONE_1]"},
		{"Two", "07700 900123 or 07700 900456", "[PHONE_1] or [PHONE_2]"},
		{"NotPhoneDate", "on 2026-11-28 at 10:30", "on 2026-11-28 at 10:30"},
		{"NoPlusOrTrunk", "whatsapp me at 44 7700 900123", "whatsapp me at [PHONE_1]"},
		{"NationalNoZero", "7700 900123", "[PHONE_1]"},
		{"NotPhoneNineDigits", "ref 123 456 789", "ref 123 456 789"},
		{"NotPhoneTimes", "between 10 and 12, or 14 to 16", "between 10 and 12, or 14 to 16"},
		{"NotPhonePrice", "£1,200.50 or 12.50", "£1,200.50 or 12.50"},
		{"NotPhoneShort", "flat 0123", "flat 0123"},
		{"ForgedPlaceholder", "my number is [PHONE_1]", "my number is (PHONE_1)"},
		{"Mixed", "Jane, 07700 900123, jane@example.com, SW1A 1AA, 4111111111111111", "Jane, [PHONE_1], [EMAIL_1], [POSTCODE_1], [CARD_1]"},
	}
	r := newRedactor()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rd := newRedaction()
			got := r.redact(tc.in, rd)
			assert.Equal(t, tc.want, got)
			if !strings.Contains(tc.in, "[") {
				assert.Equal(t, tc.in, r.restoreAll(got, rd))
			}
		})
	}
}

func TestRestore(t *testing.T) {
	r := newRedactor()
	rd := newRedaction()
	red := r.redact("07700 900123, jane@example.com, 4111 1111 1111 1111", rd)
	require.Equal(t, "[PHONE_1], [EMAIL_1], [CARD_1]", red)
	out, invented := r.restore("Call [PHONE_1] or write to [EMAIL_1]. Card [CARD_1]. Also [PHONE_2] and [POSTCODE_1].", rd)
	assert.Equal(t, "Call 07700 900123 or write to jane@example.com. Card "+cardRemoved+". Also [PHONE_2] and [POSTCODE_1].", out)
	assert.Equal(t, 2, invented)
}

func TestLuhn(t *testing.T) {
	assert.True(t, luhn("4111111111111111"))
	assert.True(t, luhn("5500 0000 0000 0004"))
	assert.False(t, luhn("4111111111111112"))
	assert.False(t, luhn("0000"), "too short")
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"call 07700 900123 or +44 7700 900123", "jane@example.com", "4111 1111 1111 1111", "SW1A 1AA",
		"[PHONE_1] [CARD_2]", "0000000000000000000000", "+++000---", "a@b.cc@d.ee", "\xff\xfe07700900123",
		"4111111111111111@example.com", "07700 900123 4111 1111 1111 1111 SW1A1AA",
	} {
		f.Add(s)
	}
	r := newRedactor()
	f.Fuzz(func(t *testing.T, s string) {
		rd := newRedaction()
		red := r.redact(s, rd)
		if utf8.ValidString(s) && !utf8.ValidString(red) {
			t.Fatalf("redaction broke UTF-8")
		}
		if !strings.Contains(s, "[") && r.restoreAll(red, rd) != s {
			t.Fatalf("round trip: %q → %q → %q", s, red, r.restoreAll(red, rd))
		}
		// Every card the redactor recognised is gone from the text sent,
		// and restore never brings it back.
		out, _ := r.restore(red, rd)
		for p, orig := range rd.originals {
			if strings.HasPrefix(p, "[CARD_") {
				if containsRun(red, orig) {
					t.Fatalf("card left in redacted text")
				}
				if strings.Contains(out, p) {
					t.Fatalf("card placeholder left in restored text")
				}
			}
		}
		// Redacting again finds nothing new of what it replaced.
		rd2 := newRedaction()
		again := r.redact(red, rd2)
		for p := range rd2.originals {
			if strings.HasPrefix(p, "[EMAIL_") || strings.HasPrefix(p, "[CARD_") {
				t.Fatalf("second pass found %s in %q", p, again)
			}
		}
	})
}

// containsRun reports whether sub stands in s as a digit run of its own,
// not inside a longer one ("0000000000000" inside twenty zeros is not the
// card the redactor replaced).
func containsRun(s, sub string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], sub)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(sub)
		if (start == 0 || !isDigit(s[start-1])) && (end == len(s) || !isDigit(s[end])) {
			return true
		}
		i = start + 1
	}
}
