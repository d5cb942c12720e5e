package drafts

import (
	"strings"
	"testing"
)

func TestNormaliseAmounts(t *testing.T) {
	for in, want := range map[string]string{
		"&pound;20":     "£20",
		"&amp;pound;20": "£20",
		"&#xA3;20":      "£20",
		`\u00a320`:      "£20",
		"￡２０":           "£20",
		"£٢٠":           "£20",
		"२०.५० pounds":  "20.50 pounds",
		"20·50":         "20.50",
		"Twenty Pounds": "twenty pounds",
		"12\u00a0000":   "12 000",
		"²⁰ GBP":        "20 gbp",
		"𝟐𝟎 quid":       "20 quid",
	} {
		if got := normaliseAmounts(in); got != want {
			t.Errorf("normaliseAmounts(%q) = %q, want %q", in, got, want)
		}
	}
}

// otherDigits writes ASCII digits in another script.
func otherDigits(s string, zero rune) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return zero + (r - '0')
		}
		return r
	}, s)
}

func FuzzCheckAmounts(f *testing.F) {
	for _, l := range []string{"It costs 20.", "See you at 10:30 on 28/11.", "£20", "twenty pounds", "2 valves",
		"Total: 1,200.00", "We don't offer discounts", "[QUOTE] [TOTAL] [PRICE:callout]", "&pound;", "\\u00a3",
		"10% off", "between 8 and 10am", "E133", "1. Turn it off"} {
		f.Add(l)
	}
	p := &Profile{BusinessName: "B", Currency: "GBP", VATRate: 2000, PriceList: PriceList{Version: "1"}}
	c := newChecks()
	f.Fuzz(func(t *testing.T, s string) {
		s = sanitize(s)
		got := len(c.checkAmounts(s, p)) > 0
		// The verdict does not depend on the script the digits are in
		// (outside \u and &# escapes, whose digits are not numbers).
		for _, zero := range []rune{'٠', '०', '０'} {
			if strings.Contains(s, `\u`) || strings.Contains(s, "&#") {
				break
			}
			if other := len(c.checkAmounts(otherDigits(s, zero), p)) > 0; other != got {
				t.Fatalf("%q flagged %v, in other digits %v", s, got, other)
			}
		}
		// A currency sign before a digit always flags.
		if strings.Contains(s, "£1") && !got {
			t.Fatalf("%q not flagged", s)
		}
	})
}
