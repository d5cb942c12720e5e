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

func TestRedactKinds(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"IBANSpaced", "IBAN GB29 NWBK 6016 1331 9268 19 please", "IBAN [IBAN_1] please"},
		{"IBANCompact", "to DE89370400440532013000.", "to [IBAN_1]."},
		{"IBANLower", "gb29 nwbk 6016 1331 9268 19", "[IBAN_1]"},
		{"IBANThenWords", "es ES91 2100 0418 4502 0005 1332 y vivo en Madrid", "es [IBAN_1] y vivo en Madrid"},
		{"IBANBadCheckIsNoIBAN", "GB28 NWBK 6016 1331 9268 19", "GB28 NWBK [PHONE_1]"},
		{"IBANBadCheckAfterWord", "IBAN: GB28 NWBK 6016 1331 9268 19", "IBAN: [IBAN_1]"},
		{"SortCodeAccount", "sort code 20-00-00, account 55779911", "sort code [ACCOUNT_1], account [ACCOUNT_2]"},
		{"SortCodeAndAccountSideBySide", "refund to 309634 12345678", "refund to [ACCOUNT_1] [ACCOUNT_2]"},
		{"NINO", "NI NE 12 34 56 B", "NI [NI_NUMBER_1]"},
		{"NINOLowerNeedsWord", "ni: jz 98 76 54 d", "ni: [NI_NUMBER_1]"},
		{"NINOLowerAlone", "at 12 34 56 and", "at 12 34 56 and"},
		{"Passport", "passport number 123456789, expires 2031", "passport number [PASSPORT_1], expires 2031"},
		{"PassportAlnum", "Reisepassnummer C4J6R1TX5", "Reisepassnummer [PASSPORT_1]"},
		{"DOB", "DOB 14/02/1987", "DOB [DOB_1]"},
		{"DOBText", "born on 12 May 1990", "born on [DOB_1]"},
		{"DOBYear", "I was born in 1947 so", "I was born in [DOB_1] so"},
		{"OldDateReadsAsDOB", "Jane Doe, 14/02/1987", "Jane Doe, [DOB_1]"},
		{"RecentDateIsNot", "see you 28/11/2026", "see you 28/11/2026"},
		{"IPv4", "my IP is 81.2.69.142.", "my IP is [IP_1]."},
		{"IPv6", "it shows 2001:db8:85a3::8a2e:370:7334 in the app", "it shows [IP_1] in the app"},
		{"TimeIsNotIPv6", "at 10:30:00 sharp", "at 10:30:00 sharp"},
		{"VersionIsNotIPv4", "app 2.4.1 here", "app 2.4.1 here"},
		{"Address", "I'm at Flat 3, 27 Church Road now", "I'm at [ADDRESS_1] now"},
		{"AddressLower", "12 high street", "[ADDRESS_1]"},
		{"AddressFrench", "au 10 rue de la Paix, Paris", "au [ADDRESS_1], Paris"},
		{"AddressStreetFirst", "vivo en Calle Mayor 5, Madrid", "vivo en [ADDRESS_1], Madrid"},
		{"AddressGerman", "in der Hauptstraße 12", "in der [ADDRESS_1]"},
		{"NotAddress", "2 cars on the road and 3 green valves", "2 cars on the road and 3 green valves"},
		{"NameIntro", "Hi, my name is Claire Bennett, the boiler", "Hi, my name is [NAME_1], the boiler"},
		{"NameTitle", "Mrs Thompson next door", "[NAME_1] next door"},
		{"NameSignOff", "Kind regards,\nMargaret Hill", "Kind regards,\n[NAME_1]"},
		{"NameRelation", "my wife Ngozi will be in", "my wife [NAME_1] will be in"},
		{"NotName", "Hi there, thanks again. Cheers!", "Hi there, thanks again. Cheers!"},
	}
	r := newRedactor()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rd := newRedaction()
			rd.yearMax = testNow.Year() - 16
			got := r.redact(tc.in, rd)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, r.restoreAll(got, rd))
		})
	}
}

func TestRedactKnownNames(t *testing.T) {
	r := newRedactor()
	rd := newRedaction()
	rd.excludeName("Brightwater Plumbing")
	rd.addName("José García")
	rd.addName("Will Bishop")
	rd.addName("~Grace 🌸")
	rd.addName("Brightwater Office") // a staff account named after the business
	cases := []struct{ in, want string }{
		{"Hola, soy José García.", "Hola, soy [NAME_1]."},
		{"Hi JOSE, see you", "Hi [NAME_1], see you"},
		{"Thanks josé!", "Thanks [NAME_1]!"},
		{"Will you come? Thanks, Will", "Will you come? Thanks, [NAME_1]"},
		{"Will Bishop here. Will you come?", "[NAME_1] here. Will you come?"},
		{"we will mark the price", "we will mark the price"},
		{"Grace said the grace period is over", "[NAME_1] said the grace period is over"},
		{"Mr Bishop's van", "[NAME_1]'s van"},
		{"Bishop Street is closed", "Bishop Street is closed"},
		{"Hello Brightwater team, the Office is shut", "Hello Brightwater team, the [NAME_1] is shut"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			rd2 := *rd
			rd2.byValue, rd2.originals, rd2.kinds, rd2.counts = nil, nil, nil, [numPIIKinds]int{}
			got := r.redact(tc.in, &rd2)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, r.restoreAll(got, &rd2))
		})
	}
}

func TestRestore(t *testing.T) {
	r := newRedactor()
	rd := newRedaction()
	rd.addName("Jane Doe")
	red := r.redact("Jane Doe, 07700 900123, jane@example.com, 4111 1111 1111 1111, IBAN GB29 NWBK 6016 1331 9268 19, "+
		"NI NE 12 34 56 B, passport 123456789, DOB 14/02/1987, 12 High Street, 81.2.69.142", rd)
	require.Equal(t, "[NAME_1], [PHONE_1], [EMAIL_1], [CARD_1], IBAN [IBAN_1], NI [NI_NUMBER_1], passport [PASSPORT_1], DOB [DOB_1], [ADDRESS_1], [IP_1]", red)
	out, invented := r.restore("Hi [NAME_1]. Call [PHONE_1] or write to [EMAIL_1]. Card [CARD_1], bank [IBAN_1], NI [NI_NUMBER_1], "+
		"passport [PASSPORT_1], born [DOB_1], at [ADDRESS_1] from [IP_1]. Also [PHONE_2] and [NAME_7].", rd)
	assert.Equal(t, "Hi Jane Doe. Call 07700 900123 or write to jane@example.com. Card "+cardRemoved+", bank [bank details removed], "+
		"NI [National Insurance number removed], passport [passport number removed], born [date of birth removed], at 12 High Street "+
		"from 81.2.69.142. Also [PHONE_2] and [NAME_7].", out)
	assert.Equal(t, 2, invented)
}

func TestDropPayment(t *testing.T) {
	r := newRedactor()
	assert.Equal(t, "pay "+cardRemoved+" or [bank details removed] now",
		r.dropPayment("pay 4111 1111 1111 1111 or GB29 NWBK 6016 1331 9268 19 now"))
	assert.Equal(t, "ring 07700 900123", r.dropPayment("ring 07700 900123"))
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
		"IBAN GB29 NWBK 6016 1331 9268 19", "sort code 20-00-00 account 55779911", "NI NE 12 34 56 B",
		"passport 123456789", "DOB 14/02/1987", "born in 1947", "81.2.69.142 2001:db8::1", "Flat 3, 27 Church Road",
		"10 rue de la Paix", "Hauptstraße 12", "Hi Zebedee, my name is Claire Bennett. Kind regards,\nZebedee Quux",
		"Mr Quux's wife Ngozi", "[NAME_1] [IBAN_2] [DOB_3]", "Zebedee-Quux Zebedee's", "ZEBEDEE zébédée",
	} {
		f.Add(s)
	}
	r := newRedactor()
	f.Fuzz(func(t *testing.T, s string) {
		rd := newRedaction()
		rd.yearMax = 2010
		rd.excludeName("Brightwater Plumbing")
		rd.addName("Zebedee Quux")
		r.learn(s, rd)
		red := r.redact(s, rd)
		if utf8.ValidString(s) && !utf8.ValidString(red) {
			t.Fatalf("redaction broke UTF-8")
		}
		if !strings.Contains(s, "[") && r.restoreAll(red, rd) != s {
			t.Fatalf("round trip: %q → %q → %q", s, red, r.restoreAll(red, rd))
		}
		// Details never restored are gone from the text sent, and restore
		// never brings them back.
		out, _ := r.restore(red, rd)
		for p, orig := range rd.originals {
			if removedText[rd.kinds[p]] == "" {
				continue
			}
			if rd.kinds[p] == piiCard && containsRun(red, orig) {
				t.Fatalf("card left in redacted text")
			}
			if strings.Contains(out, p) {
				t.Fatalf("%s left in restored text", p)
			}
		}
		// A known name that is not an everyday word is gone wherever it
		// stands as a word of its own.
		if utf8.ValidString(red) {
			for _, w := range strings.FieldsFunc(red, func(r rune) bool { return !wordChar(r) }) {
				if strings.EqualFold(w, "zebedee") || strings.EqualFold(w, "quux") {
					t.Fatalf("known name left in %q", red)
				}
			}
		}
		// Redacting again finds nothing new of what it replaced.
		rd2 := newRedaction()
		again := r.redact(red, rd2)
		for p := range rd2.originals {
			switch rd2.kinds[p] {
			case piiEmail, piiCard, piiIBAN:
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

// BenchmarkRedactAdversarial redacts inputs at the message size cap built
// to make a scanner rescan: each must stay linear (compare the ns/op with
// the ordinary message of the same size).
func BenchmarkRedactAdversarial(b *testing.B) {
	r := newRedactor()
	for _, bc := range []struct{ name, unit string }{
		{"ordinary", "Hi, the boiler at 12 High Street is leaking again, call 07700 900123. "},
		{"colons", "::"},
		{"iban-starts", "GB29 "},
		{"greetings", "Hi Jane "},
		{"numbers", "12 "},
		{"ni-words", "ni ab "},
	} {
		s := truncate(strings.Repeat(bc.unit, maxMessageRunes/len(bc.unit)+1), maxMessageRunes)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				rd := newRedaction()
				rd.addName("Jane Doe")
				rd.yearMax = 2010
				r.learn(s, rd)
				_ = r.redact(s, rd)
			}
		})
	}
}
