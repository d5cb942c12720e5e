package bot

import (
	"errors"
	"fmt"
	"strings"
)

// IdentityKind says which namespace an identity's value lives in.
type IdentityKind string

// Identity kinds.
const (
	IDPhone  IdentityKind = "whatsapp"     // a phone number in E.164, "+447700900123"
	IDLID    IdentityKind = "whatsapp-lid" // a WhatsApp LID user, "123456789@lid"
	IDTeams  IdentityKind = "teams"        // an Entra (AAD) object id
	IDTenant IdentityKind = "tenant"       // an Entra tenant id (not a person; an admin target)
)

// IDBSUID is a WhatsApp Business Platform business-scoped user id (the
// user_id Meta sends beside wa_id since 2026), "US.13491208655302741918":
// the only id of a person who hides their number behind a username.
const IDBSUID IdentityKind = "whatsapp-bsuid"

// Identity is one way a person is known on a platform. Values are personal
// data: never log them; the store keeps only a keyed blind index.
type Identity struct {
	Kind  IdentityKind
	Value string
}

// String renders "kind:value". It holds personal data: never log it.
func (i Identity) String() string { return string(i.Kind) + ":" + i.Value }

// IsZero reports whether the identity is empty.
func (i Identity) IsZero() bool { return i.Kind == "" && i.Value == "" }

// ErrBadIdentity is returned for identifiers that cannot be parsed.
var ErrBadIdentity = errors.New("bad identifier")

// ParseIdentity parses what an admin types after /forget or /export: a phone
// number in any common format ("+44 7700 900123", "07700 900123",
// "0044…"), "teams:<aadObjectId>", "whatsapp-lid:<n>@lid",
// "whatsapp-bsuid:<CC>.<id>" or "tenant:<tenantId>". Phone numbers without a country code take
// defaultCC (digits, e.g. "44"). The result is normalised, so equal people
// give equal identities.
func ParseIdentity(s, defaultCC string) (Identity, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Identity{}, fmt.Errorf("%w: empty", ErrBadIdentity)
	}
	if kind, val, ok := strings.Cut(s, ":"); ok {
		val = strings.TrimSpace(val)
		switch IdentityKind(strings.ToLower(strings.TrimSpace(kind))) {
		case IDTeams:
			return normID(IDTeams, val)
		case IDTenant:
			return normID(IDTenant, val)
		case IDLID:
			return NormalizeLID(val)
		case IDBSUID:
			return NormalizeBSUID(val)
		case IDPhone, "tel", "phone":
			p, err := NormalizePhone(val, defaultCC)
			return Identity{Kind: IDPhone, Value: p}, err
		default:
			return Identity{}, fmt.Errorf("%w: unknown kind (want a phone number, teams:, tenant:, whatsapp-lid: or whatsapp-bsuid:)", ErrBadIdentity)
		}
	}
	p, err := NormalizePhone(s, defaultCC)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Kind: IDPhone, Value: p}, nil
}

// normID validates a GUID-like or opaque id: printable, no spaces, bounded.
func normID(kind IdentityKind, v string) (Identity, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" || len(v) > 128 {
		return Identity{}, fmt.Errorf("%w: %s id must be 1 to 128 characters", ErrBadIdentity, kind)
	}
	for _, r := range v {
		if r <= ' ' || r > '~' {
			return Identity{}, fmt.Errorf("%w: %s id has a character that is not allowed", ErrBadIdentity, kind)
		}
	}
	return Identity{Kind: kind, Value: v}, nil
}

// NormalizeLID accepts "123456789@lid" or "123456789" (optionally with a
// ":device" suffix, which is dropped) and returns the canonical LID identity.
func NormalizeLID(v string) (Identity, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	v = strings.TrimSuffix(v, "@lid")
	if i := strings.IndexAny(v, ":."); i >= 0 {
		v = v[:i]
	}
	if v == "" || len(v) > 32 || strings.Trim(v, "0123456789") != "" {
		return Identity{}, fmt.Errorf("%w: a LID is digits followed by @lid", ErrBadIdentity)
	}
	return Identity{Kind: IDLID, Value: v + "@lid"}, nil
}

// maxBSUID bounds a business-scoped user id: two letters, a dot, an
// optional "ENT." (a parent id) and up to 128 letters and digits.
const maxBSUID = 2 + 1 + 4 + 128

// NormalizeBSUID checks a WhatsApp business-scoped user id
// ("US.13491208655302741918", or a parent id "US.ENT.1181…") and returns
// its identity. Meta says to keep the id exactly as received, so only the
// country code is upper-cased.
func NormalizeBSUID(v string) (Identity, error) {
	v = strings.TrimSpace(v)
	bad := fmt.Errorf("%w: a business-scoped user id is a two-letter country code, a dot and letters or digits", ErrBadIdentity)
	if len(v) < 4 || len(v) > maxBSUID || v[2] != '.' {
		return Identity{}, bad
	}
	cc := strings.ToUpper(v[:2])
	rest := v[3:]
	if p, ok := strings.CutPrefix(rest, "ENT."); ok {
		rest = p
	}
	if !isASCIILetters(cc) || rest == "" || len(rest) > 128 {
		return Identity{}, bad
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return Identity{}, bad
		}
	}
	return Identity{Kind: IDBSUID, Value: cc + v[2:]}, nil
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

// nationalLengths are the lengths of national significant numbers (the
// number without country code and trunk "0") of countries whose numbers an
// admin may type as bare digits. NormalizePhone reads bare digits only
// with the default country's entry: a country not listed must be typed
// with "+" or with its trunk "0".
var nationalLengths = map[string]struct{ min, max int }{
	"1":   {10, 10}, // North America (NANP)
	"31":  {9, 9},   // Netherlands
	"33":  {9, 9},   // France
	"34":  {9, 9},   // Spain
	"44":  {9, 10},  // United Kingdom
	"61":  {9, 9},   // Australia
	"91":  {10, 10}, // India
	"353": {7, 9},   // Ireland
}

// NormalizePhone turns a phone number in a common human format into E.164
// ("+447700900123"). It accepts spaces, dots, dashes, parentheses, a leading
// "+" or "00", and a national number with a trunk "0" (which takes defaultCC).
//
// Bare digits (no "+", "00" or trunk "0") are read against defaultCC's
// numbering plan (nationalLengths): "7700 900123" is a national number
// without its trunk 0 and "44 7700 900123" one written with its country
// code but no "+", both +447700900123 for defaultCC "44". Digits that fit
// both readings or neither, or a default country whose plan is not known,
// are refused: a guess could name another person. With an empty defaultCC
// bare digits are taken as international (a channel's own E.164 digits).
// It does not check numbering plans beyond that and length (8 to 15 digits).
func NormalizePhone(s, defaultCC string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", fmt.Errorf("%w: a phone number holds only digits, spaces, + - . ( )", ErrBadIdentity)
		}
	}
	d := b.String()
	intl := plus || strings.HasPrefix(d, "00")
	// "+44 (0)7700 900123": drop the trunk zero written in brackets.
	if i := strings.Index(s, "(0)"); i >= 0 && intl {
		at := 0 // index in d of the bracketed zero
		for _, r := range s[:i] {
			if r >= '0' && r <= '9' {
				at++
			}
		}
		if at > 0 && at < len(d) && d[at] == '0' {
			d = d[:at] + d[at+1:]
		}
	}
	switch {
	case plus:
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		if defaultCC == "" || strings.Trim(defaultCC, "0123456789") != "" {
			return "", fmt.Errorf("%w: national number without a default country code", ErrBadIdentity)
		}
		d = defaultCC + d[1:]
	case defaultCC != "":
		var err error
		if d, err = bareDigits(d, defaultCC); err != nil {
			return "", err
		}
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("%w: a phone number has 8 to 15 digits with its country code", ErrBadIdentity)
	}
	return "+" + d, nil
}

// bareDigits reads digits typed without "+", "00" or a trunk "0" against
// cc's numbering plan and returns them with their country code.
func bareDigits(d, cc string) (string, error) {
	plan, ok := nationalLengths[cc]
	if !ok {
		return "", fmt.Errorf("%w: write the number with + and its country code, or with its leading 0", ErrBadIdentity)
	}
	fits := func(n int) bool { return n >= plan.min && n <= plan.max }
	national := fits(len(d))
	withCC := strings.HasPrefix(d, cc) && fits(len(d)-len(cc))
	switch {
	case national && withCC:
		return "", fmt.Errorf("%w: the number could be read two ways; write it with + and its country code, or with its leading 0", ErrBadIdentity)
	case national:
		return cc + d, nil
	case withCC:
		return d, nil
	}
	return "", fmt.Errorf("%w: not a number of the default country; write it with + and its country code, or with its leading 0", ErrBadIdentity)
}

// MaskPhone shows a phone number the way staff cards do: country code and
// last four digits, "+44 7••• ••0123". Other strings come back as "•••".
func MaskPhone(e164 string) string {
	if len(e164) < 9 || e164[0] != '+' {
		return "•••"
	}
	d := e164[1:]
	cc := 2
	if d[0] == '1' || d[0] == '7' {
		cc = 1
	}
	rest := d[cc:]
	return "+" + d[:cc] + " " + rest[:1] + "••• ••" + rest[len(rest)-4:]
}
