package drafts

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// piiKind is a kind of personal detail replaced before a request leaves.
type piiKind int

// Kinds in the order they claim text: a card number is not also a phone.
const (
	piiCard piiKind = iota
	piiEmail
	piiPhone
	piiPostcode
	numPIIKinds
)

func (k piiKind) label() string {
	switch k {
	case piiCard:
		return "CARD"
	case piiEmail:
		return "EMAIL"
	case piiPhone:
		return "PHONE"
	default:
		return "POSTCODE"
	}
}

// cardRemoved replaces a card placeholder in a draft: card numbers are never
// restored (PCI scope).
const cardRemoved = "[card number removed]"

// redactor finds personal details. It is immutable and safe for concurrent
// use; each request gets its own redaction.
type redactor struct {
	re          [numPIIKinds]*regexp.Regexp
	placeholder *regexp.Regexp
}

func newRedactor() *redactor {
	r := &redactor{}
	// Card: 13 to 19 digits, single spaces or dashes between; Luhn decides.
	r.re[piiCard] = regexp.MustCompile(`\d(?:[ -]?\d){12,18}`)
	r.re[piiEmail] = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// Phone: starts with + or 0 (international or UK national) and has 9 to
	// 15 digits, or is any other run of 10 to 15 digits ("44 7700 900123");
	// digit counts are checked after matching. Over-redaction is harmless:
	// placeholders are restored.
	r.re[piiPhone] = regexp.MustCompile(`(?:\+|\b0)[0-9][0-9 ().\-]{6,22}[0-9]|\b[1-9][0-9 ().\-]{8,22}[0-9]`)
	r.re[piiPostcode] = regexp.MustCompile(`(?i)\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b`)
	r.placeholder = regexp.MustCompile(`\[(CARD|EMAIL|PHONE|POSTCODE)_([0-9]{1,6})\]`)
	return r
}

// redaction remembers, for one request only and in memory only, which
// placeholder stands for which original.
type redaction struct {
	originals map[string]string // "[PHONE_1]" → "07700 900123"
	byValue   map[string]string // kind label + "\x00" + original → placeholder
	counts    [numPIIKinds]int
}

func newRedaction() *redaction {
	return &redaction{}
}

type span struct {
	start, end int
	kind       piiKind
}

// redact replaces personal details in s with placeholders recorded in rd.
// Text that already looks like a placeholder is neutralised first
// ("[PHONE_1]" → "(PHONE_1)") so a customer cannot forge one.
func (r *redactor) redact(s string, rd *redaction) string {
	if strings.IndexByte(s, '[') >= 0 {
		s = r.placeholder.ReplaceAllString(s, "(${1}_${2})")
	}
	if !strings.ContainsAny(s, "0123456789@") {
		return s
	}
	var spans []span
	claim := func(start, end int, k piiKind) {
		for _, sp := range spans {
			if start < sp.end && sp.start < end {
				return
			}
		}
		spans = append(spans, span{start, end, k})
	}
	digits := countDigits(s)
	for k := piiKind(0); k < numPIIKinds; k++ {
		switch {
		case k == piiEmail && strings.IndexByte(s, '@') < 0,
			k == piiCard && digits < 13,
			k == piiPhone && digits < 9,
			k == piiPostcode && digits < 2:
			continue
		}
		for _, m := range r.re[k].FindAllStringIndex(s, -1) {
			start, end := m[0], m[1]
			match := s[start:end]
			switch k {
			case piiCard:
				if (start > 0 && isDigit(s[start-1])) || (end < len(s) && isDigit(s[end])) || !luhn(match) {
					continue
				}
			case piiPhone:
				minDigits := 9
				if match[0] != '+' && match[0] != '0' {
					minDigits = 10
				}
				if n := countDigits(match); n < minDigits || n > 15 {
					continue
				}
				if end < len(s) && isDigit(s[end]) {
					continue
				}
			}
			claim(start, end, k)
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	b.Grow(len(s) + 8*len(spans))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(rd.placeholderFor(sp.kind, s[sp.start:sp.end]))
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// placeholderFor returns the placeholder for an original, the same one each
// time the same original appears.
func (rd *redaction) placeholderFor(k piiKind, original string) string {
	key := k.label() + "\x00" + original
	if p, ok := rd.byValue[key]; ok {
		return p
	}
	if rd.byValue == nil {
		rd.byValue = make(map[string]string)
		rd.originals = make(map[string]string)
	}
	rd.counts[k]++
	p := "[" + k.label() + "_" + strconv.Itoa(rd.counts[k]) + "]"
	rd.byValue[key] = p
	rd.originals[p] = original
	return p
}

// restore puts the originals back into model output. Card placeholders
// become cardRemoved; placeholders the redaction never issued are left as
// they are and counted in invented.
func (r *redactor) restore(s string, rd *redaction) (out string, invented int) {
	if strings.IndexByte(s, '[') < 0 {
		return s, 0
	}
	out = r.placeholder.ReplaceAllStringFunc(s, func(p string) string {
		orig, ok := rd.originals[p]
		switch {
		case !ok:
			invented++
			return p
		case strings.HasPrefix(p, "[CARD_"):
			return cardRemoved
		}
		return orig
	})
	return out, invented
}

// dropCards replaces card numbers (Luhn-valid digit runs) with cardRemoved:
// a draft never carries one, whatever the model wrote.
func (r *redactor) dropCards(s string) string {
	if countDigits(s) < 13 {
		return s
	}
	return r.re[piiCard].ReplaceAllStringFunc(s, func(m string) string {
		if luhn(m) {
			return cardRemoved
		}
		return m
	})
}

// restoreAll is restore including card numbers; tests use it to check the
// round trip.
func (r *redactor) restoreAll(s string, rd *redaction) string {
	return r.placeholder.ReplaceAllStringFunc(s, func(p string) string {
		if orig, ok := rd.originals[p]; ok {
			return orig
		}
		return p
	})
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// luhn reports whether the digits of s (other characters ignored) pass the
// Luhn check.
func luhn(s string) bool {
	sum, n := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return n >= 13 && sum%10 == 0
}
