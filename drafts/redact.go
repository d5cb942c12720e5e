package drafts

import (
	"math/big"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piiKind is a kind of personal detail replaced before a request leaves.
type piiKind int

// Kinds in the order they claim text: an IBAN's digits are not also a card,
// a card is not also a phone, a street address is not also a name.
const (
	piiIBAN piiKind = iota
	piiCard
	piiEmail
	piiIP
	piiAccount
	piiNI
	piiPassport
	piiDOB
	piiPhone
	piiPostcode
	piiAddress
	piiName
	numPIIKinds
)

var piiLabels = [numPIIKinds]string{
	piiIBAN: "IBAN", piiCard: "CARD", piiEmail: "EMAIL", piiIP: "IP", piiAccount: "ACCOUNT", piiNI: "NI_NUMBER",
	piiPassport: "PASSPORT", piiDOB: "DOB", piiPhone: "PHONE", piiPostcode: "POSTCODE", piiAddress: "ADDRESS", piiName: "NAME",
}

func (k piiKind) label() string { return piiLabels[k] }

// cardRemoved replaces a card placeholder in a draft: card numbers are never
// restored (PCI scope).
const cardRemoved = "[card number removed]"

// removedText is what a placeholder becomes in a draft when its kind is
// never restored: payment and identity numbers and dates of birth have no
// place in a chat reply, and a reply that echoes them would spread them.
// Names, contact details, addresses and IP addresses are the customer's own
// and are put back.
var removedText = [numPIIKinds]string{
	piiIBAN:     "[bank details removed]",
	piiCard:     cardRemoved,
	piiAccount:  "[bank details removed]",
	piiNI:       "[National Insurance number removed]",
	piiPassport: "[passport number removed]",
	piiDOB:      "[date of birth removed]",
}

// redactor finds personal details. It is immutable and safe for concurrent
// use; each request gets its own redaction.
type redactor struct {
	card, email, phone, postcode *regexp.Regexp
	iban, ibanKW                 *regexp.Regexp
	ipv4                         *regexp.Regexp
	sortCode, sortKW, acctKW     *regexp.Regexp
	acctNum, acct8               *regexp.Regexp
	nino, ninoLoose, niKW        *regexp.Regexp
	passportKW, passportTok      *regexp.Regexp
	dobKW, dateAt, year          *regexp.Regexp
	addrNum, addrUnit, addrAfter *regexp.Regexp
	houseNum                     *regexp.Regexp
	placeholder                  *regexp.Regexp
}

func newRedactor() *redactor {
	r := &redactor{}
	// Card: 13 to 19 digits, single spaces or dashes between; Luhn decides.
	r.card = regexp.MustCompile(`\d(?:[ -]?\d){12,18}`)
	r.email = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// Phone: starts with + or 0 (international or UK national) and has 9 to
	// 15 digits, or is any other run of 10 to 15 digits ("44 7700 900123");
	// digit counts are checked after matching. Over-redaction is harmless:
	// placeholders are restored.
	r.phone = regexp.MustCompile(`(?:\+|\b0)[0-9][0-9 ().\-]{6,22}[0-9]|\b[1-9][0-9 ().\-]{8,22}[0-9]`)
	r.postcode = regexp.MustCompile(`(?i)\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b`)

	// IBAN: country, check digits, 11 to 30 letters and digits, spaces or
	// dashes between groups; the mod-97 check and the country's length pick
	// the real one out of what follows ("…1332 y vivo").
	r.iban = regexp.MustCompile(`(?i)\b[A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]){11,32}`)
	r.ibanKW = regexp.MustCompile(`(?i)\biban\b[ \t]*(?:no\.?|number|:|#|is|es|est|ist|è)?[ \t:]*$`)
	r.ipv4 = regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b`)
	// Sort code and account number: a sort code after its word or before an
	// account number, an account number after its word or a sort code.
	r.sortCode = regexp.MustCompile(`\b[0-9]{2}[- ]?[0-9]{2}[- ]?[0-9]{2}\b`)
	r.sortKW = regexp.MustCompile(`(?i)(?:^|[^\p{L}])(?:sort[ \t]?code|sort|s/c|sc)(?:[ \t]*(?:is|:|-|no\.?|number))*[ \t:]*$`)
	r.acctKW = regexp.MustCompile(`(?i)(?:^|[^\p{L}])(?:account|acc|acct|a/c|konto|compte|cuenta|conto|rekening|routing|aba)(?:[ \t]*(?:number|num|no\.?|nr\.?|#|is|:|-))*[ \t:]*$`)
	r.acctNum = regexp.MustCompile(`^[0-9](?:[ -]?[0-9]){5,16}\b`)
	r.acct8 = regexp.MustCompile(`^(?:[ \t,/]|and|account|acc|acct|a/c|no\.?|number|:)*[ \t]*([0-9]{8})\b`)
	// National Insurance number: two letters (some never issued), six
	// digits, an optional A-D; in lower case only after its name.
	r.nino = regexp.MustCompile(`\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ \t]?[0-9]{2}[ \t]?[0-9]{2}[ \t]?[0-9]{2}(?:[ \t]?[A-D])?\b`)
	r.ninoLoose = regexp.MustCompile(`(?i)^[ \t:]*(?:is[ \t]+)?([a-z]{2}[ \t]?[0-9]{2}[ \t]?[0-9]{2}[ \t]?[0-9]{2}(?:[ \t]?[a-d])?)\b`)
	r.niKW = regexp.MustCompile(`(?i)(?:^|[^\p{L}])(?:ni|n\.i\.|nino|nin|national insurance)(?:[ \t]*(?:number|no\.?|num|#|is|:))*[ \t:]*$`)
	r.passportKW = regexp.MustCompile(`(?i)(?:passport|pasaporte|passeport|reisepass|passaporto|paspoort|paszport|passaporte|passnummer)`)
	r.passportTok = regexp.MustCompile(`\b[A-Za-z0-9]{6,10}\b`)
	r.dobKW = regexp.MustCompile(`(?i)(?:^|[^\p{L}])(d\.?[ \t]?o\.?[ \t]?b\.?|date of birth|birth[ \t]?date|birthday|born(?:[ \t]+on|[ \t]+in)?|geburtsdatum|geboren(?:[ \t]+am|[ \t]+op)?|date de naissance|n[ée]e?[ \t]+le|fecha de nacimiento|nacid[oa][ \t]+el|data di nascita|nat[oa][ \t]+il|data de nascimento|nascid[oa][ \t]+em|data urodzenia|urodzon[ya]|geboortedatum|födelsedatum|född)(?:$|[^\p{L}])`)
	r.dateAt = regexp.MustCompile(`(?i)^(?:[0-9]{1,2}[./-][0-9]{1,2}[./-](?:[0-9]{4}|[0-9]{2})|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|` +
		`[0-9]{1,2}(?:st|nd|rd|th|er|º)?\.?(?:[ \t]+(?:of|de))?[ \t]+(?:` + monthNames + `)\.?,?(?:[ \t]+de)?[ \t]+[0-9]{4}|` +
		`(?:` + monthNames + `)\.?[ \t]+[0-9]{1,2}(?:st|nd|rd|th)?,?[ \t]+[0-9]{4})`)
	r.year = regexp.MustCompile(`\b(?:19|20)[0-9]{2}\b`)

	// Street addresses: "12 High Street", "Flat 3, 27 Church Road",
	// "10 rue de la Paix", "Calle Mayor 5", "Hauptstraße 12".
	r.addrNum = regexp.MustCompile(`[0-9]{1,5}[A-Za-z]?(?:[ \t]?[-–/][ \t]?[0-9]{1,5}[A-Za-z]?)?`)
	r.addrUnit = regexp.MustCompile(`(?i)(?:^|[^\p{L}])((?:flat|apartment|apt|unit|suite|ste|room)\.?[ \t]*[0-9]{1,4}[A-Za-z]?[ \t]*,?[ \t]*)$`)
	r.addrAfter = regexp.MustCompile(`^(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b)?(?:,?[ \t]*(?i:apt|apartment|flat|unit|suite|ste)\.?[ \t]*[0-9]{1,4}[A-Za-z]?\b)?`)
	r.houseNum = regexp.MustCompile(`^[0-9]{1,4}[A-Za-z]?(?:/[0-9]{1,4}[A-Za-z]?)?`)
	r.placeholder = regexp.MustCompile(`\[(` + strings.Join(piiLabels[:], "|") + `)_([0-9]{1,6})\]`)
	return r
}

// redaction remembers, for one request only and in memory only, which
// placeholder stands for which original, and which names the request's
// people go by.
type redaction struct {
	originals map[string]string // "[PHONE_1]" → "07700 900123"
	byValue   map[string]string // kind label + "\x00" + original → placeholder
	kinds     map[string]piiKind
	counts    [numPIIKinds]int
	names     []nameEntry
	nameSeen  map[string]bool
	// exclude holds the folded words of the business's own name: a staff
	// reply signed "Brightwater" names no person.
	exclude map[string]bool
	// heuristic caches the names the heuristics found per text: learn and
	// redact see the same texts.
	heuristic map[string][][2]int
	// yearMax: a full date with a year from 1900 to yearMax reads as a date
	// of birth even without "born" before it. Zero: only after such a word.
	yearMax int
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
	spans := r.find(s, rd)
	if len(spans) == 0 {
		return s
	}
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

// find returns the personal details in s, sorted and not overlapping.
func (r *redactor) find(s string, rd *redaction) []span {
	var spans []span
	claim := func(start, end int, k piiKind) {
		if start >= end {
			return
		}
		for _, sp := range spans {
			if start < sp.end && sp.start < end {
				return
			}
		}
		spans = append(spans, span{start, end, k})
	}
	digits := countDigits(s)
	ws := tokenize(s)
	lower := strings.ToLower(s)
	if digits > 0 || strings.IndexByte(s, '@') >= 0 || strings.IndexByte(s, ':') >= 0 {
		if digits >= 10 {
			for _, m := range r.ibans(s) {
				claim(m[0], m[1], piiIBAN)
			}
		}
		if digits >= 13 {
			for _, m := range r.cards(s) {
				claim(m[0], m[1], piiCard)
			}
		}
		if strings.IndexByte(s, '@') >= 0 {
			for _, m := range r.email.FindAllStringIndex(s, -1) {
				claim(m[0], m[1], piiEmail)
			}
		}
		for _, m := range r.ips(s) {
			claim(m[0], m[1], piiIP)
		}
	}
	if digits >= 6 {
		for _, m := range r.accounts(s) {
			claim(m[0], m[1], piiAccount)
		}
		for _, m := range r.ninos(s) {
			claim(m[0], m[1], piiNI)
		}
	}
	if digits >= 2 && containsAny(lower, "pass", "pasz", "pasap", "paspo") {
		for _, m := range r.passports(s) {
			claim(m[0], m[1], piiPassport)
		}
	}
	if digits >= 4 {
		for _, m := range r.dobs(s, lower, ws, rd.yearMax) {
			claim(m[0], m[1], piiDOB)
		}
	}
	if digits >= 9 {
		for _, m := range r.phone.FindAllStringIndex(s, -1) {
			start, end := m[0], m[1]
			match := s[start:end]
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
			claim(start, end, piiPhone)
		}
	}
	if digits >= 2 {
		for _, m := range r.postcode.FindAllStringIndex(s, -1) {
			claim(m[0], m[1], piiPostcode)
		}
	}
	if digits >= 1 {
		for _, m := range r.addresses(s, ws) {
			claim(m[0], m[1], piiAddress)
		}
	}
	for _, m := range r.nameSpans(s, rd) {
		claim(m[0], m[1], piiName)
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	return spans
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
		rd.kinds = make(map[string]piiKind)
	}
	rd.counts[k]++
	p := "[" + k.label() + "_" + strconv.Itoa(rd.counts[k]) + "]"
	rd.byValue[key] = p
	rd.originals[p] = original
	rd.kinds[p] = k
	return p
}

// restore puts the originals back into model output. Placeholders of kinds
// never restored become their removedText; placeholders the redaction never
// issued are left as they are and counted in invented.
func (r *redactor) restore(s string, rd *redaction) (out string, invented int) {
	if strings.IndexByte(s, '[') < 0 {
		return s, 0
	}
	out = r.placeholder.ReplaceAllStringFunc(s, func(p string) string {
		orig, ok := rd.originals[p]
		if !ok {
			invented++
			return p
		}
		if t := removedText[rd.kinds[p]]; t != "" {
			return t
		}
		return orig
	})
	return out, invented
}

// dropPayment replaces card numbers (Luhn-valid digit runs) and IBANs in
// the model's own text: a draft never carries one, whatever the model wrote.
func (r *redactor) dropPayment(s string) string {
	if countDigits(s) < 10 {
		return s
	}
	if ms := r.ibans(s); len(ms) > 0 {
		var b strings.Builder
		last := 0
		for _, m := range ms {
			b.WriteString(s[last:m[0]] + removedText[piiIBAN])
			last = m[1]
		}
		s = b.String() + s[last:]
	}
	ms := r.cards(s)
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m[0]] + cardRemoved)
		last = m[1]
	}
	return b.String() + s[last:]
}

// cards finds card numbers: digit runs of 13 to 19 digits, with single
// spaces or dashes between, not inside a longer run, that pass the Luhn
// check. A candidate followed by more digits ("4111 1111 1111 1111 2222")
// is tried shorter, at its separators.
func (r *redactor) cards(s string) [][2]int {
	var out [][2]int
	for _, m := range r.card.FindAllStringIndex(s, -1) {
		start, end := m[0], m[1]
		if start > 0 && isDigit(s[start-1]) {
			continue
		}
		for e := end; e > start; e-- {
			if e < end && s[e] != ' ' && s[e] != '-' {
				continue
			}
			cand := s[start:e]
			if countDigits(cand) < 13 {
				break
			}
			if (e == len(s) || !isDigit(s[e])) && luhn(cand) {
				out = append(out, [2]int{start, e})
				break
			}
		}
	}
	return out
}

// restoreAll is restore including the kinds never restored; tests use it to
// check the round trip.
func (r *redactor) restoreAll(s string, rd *redaction) string {
	return r.placeholder.ReplaceAllStringFunc(s, func(p string) string {
		if orig, ok := rd.originals[p]; ok {
			return orig
		}
		return p
	})
}

// ibanLength is the length of IBANs by country, for the countries
// customers here most often bank in; others need 15 to 34 characters.
var ibanLength = map[string]int{
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24,
	"FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21,
	"LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24,
	"SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}

// ibans finds IBANs: the longest prefix of each candidate that has the
// country's length and passes the mod-97 check, or, right after the word
// IBAN, the candidate as written.
func (r *redactor) ibans(s string) [][2]int {
	var out [][2]int
	for _, m := range r.iban.FindAllStringIndex(s, -1) {
		// chars and their end offsets, separators skipped.
		var chars []byte
		var ends []int
		for i := m[0]; i < m[1]; i++ {
			if c := s[i]; c != ' ' && c != '-' {
				chars = append(chars, upperASCII(c))
				ends = append(ends, i+1)
			}
		}
		found := -1
		want, known := ibanLength[string(chars[:2])]
		for n := min(len(chars), 34); n >= 15; n-- {
			if known && n != want {
				continue
			}
			end := ends[n-1]
			if end < len(s) && isAlnum(s[end]) {
				continue // cut inside a word
			}
			if ibanValid(chars[:n]) {
				found = end
				break
			}
		}
		if found < 0 && r.ibanKW.MatchString(s[max(0, m[0]-30):m[0]]) {
			end := m[1]
			for end > m[0] && !isAlnum(s[end-1]) {
				end--
			}
			found = end
		}
		if found > 0 {
			out = append(out, [2]int{m[0], found})
		}
	}
	return out
}

// ibanValid runs the ISO 13616 mod-97 check on upper-case letters and digits.
func ibanValid(c []byte) bool {
	if len(c) < 15 || !isUpper(c[0]) || !isUpper(c[1]) || !isDigit(c[2]) || !isDigit(c[3]) {
		return false
	}
	var b strings.Builder
	for _, ch := range append(append([]byte{}, c[4:]...), c[:4]...) {
		switch {
		case isDigit(ch):
			b.WriteByte(ch)
		case isUpper(ch):
			b.WriteString(strconv.Itoa(int(ch-'A') + 10))
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// ips finds IPv4 and IPv6 addresses (net.ParseIP decides for IPv6; a time
// such as 10:30:00 is not one).
func (r *redactor) ips(s string) [][2]int {
	var out [][2]int
	if strings.Count(s, ":") >= 2 {
		// Runs of hex digits, colons and dots, each read once (a regexp
		// here rescans long runs of colons from every start).
		for i := 0; i < len(s); {
			if !isIPv6Char(s[i]) {
				i++
				continue
			}
			start := i
			for i < len(s) && isIPv6Char(s[i]) {
				i++
			}
			if start > 0 && (isAlnum(s[start-1]) || s[start-1] == '.') {
				continue
			}
			end := i
			for end > start && (s[end-1] == '.' || s[end-1] == ':') && !strings.HasSuffix(s[start:end], "::") {
				end--
			}
			addr := s[start:end]
			if len(addr) > 64 || strings.Count(addr, ":") < 2 || strings.Trim(addr, ":.") == "" || net.ParseIP(addr) == nil {
				continue
			}
			if !strings.Contains(addr, "::") && strings.Count(addr, ":") < 7 {
				continue
			}
			out = append(out, [2]int{start, end})
		}
	}
	if strings.Count(s, ".") >= 3 {
		for _, m := range r.ipv4.FindAllStringIndex(s, -1) {
			start, end := m[0], m[1]
			if (start > 0 && s[start-1] == '.') || (end+1 < len(s) && s[end] == '.' && isDigit(s[end+1])) {
				continue
			}
			out = append(out, [2]int{start, end})
		}
	}
	return out
}

// accounts finds sort codes and bank account numbers by their words or
// side by side ("20-00-00 55779911").
func (r *redactor) accounts(s string) [][2]int {
	var out [][2]int
	lower := strings.ToLower(s)
	hasWord := strings.Contains(lower, "sort") || strings.Contains(lower, "s/c") || strings.Contains(lower, "sc") ||
		strings.Contains(lower, "acc") || strings.Contains(lower, "a/c") || strings.Contains(lower, "konto") ||
		strings.Contains(lower, "compte") || strings.Contains(lower, "cuenta") || strings.Contains(lower, "conto") ||
		strings.Contains(lower, "rekening") || strings.Contains(lower, "routing") || strings.Contains(lower, "aba")
	for _, m := range r.sortCode.FindAllStringIndex(s, -1) {
		start, end := m[0], m[1]
		if countDigits(s[start:end]) != 6 {
			continue
		}
		before := s[max(0, start-30):start]
		if hasWord && r.sortKW.MatchString(before) {
			out = append(out, [2]int{start, end})
			if a := r.acct8.FindStringSubmatchIndex(s[end:min(len(s), end+30)]); a != nil {
				out = append(out, [2]int{end + a[2], end + a[3]})
			}
			continue
		}
		if a := r.acct8.FindStringSubmatchIndex(s[end:min(len(s), end+30)]); a != nil {
			out = append(out, [2]int{start, end}, [2]int{end + a[2], end + a[3]})
		}
	}
	if hasWord {
		for i := 0; i < len(s); i++ {
			if !isDigit(s[i]) || (i > 0 && isAlnum(s[i-1])) {
				continue
			}
			if !r.acctKW.MatchString(s[max(0, i-40):i]) {
				continue
			}
			if m := r.acctNum.FindStringIndex(s[i:]); m != nil {
				out = append(out, [2]int{i, i + m[1]})
				i += m[1]
			}
		}
	}
	return out
}

// ninos finds National Insurance numbers.
func (r *redactor) ninos(s string) [][2]int {
	var out [][2]int
	for _, m := range r.nino.FindAllStringIndex(s, -1) {
		if badNINOPrefix(s[m[0] : m[0]+2]) {
			continue
		}
		out = append(out, [2]int{m[0], m[1]})
	}
	lower := strings.ToLower(s)
	if !strings.Contains(lower, "ni") && !strings.Contains(lower, "n.i.") && !strings.Contains(lower, "insurance") {
		return out
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) || (i > 0 && isAlnum(s[i-1])) {
			continue
		}
		if !r.niKW.MatchString(s[max(0, i-40):i]) {
			continue
		}
		if m := r.ninoLoose.FindStringSubmatchIndex(s[i:]); m != nil && m[2] == 0 && !badNINOPrefix(strings.ToUpper(s[i:i+2])) {
			out = append(out, [2]int{i, i + m[3]})
		}
	}
	return out
}

func badNINOPrefix(p string) bool {
	switch p {
	case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
		return true
	}
	return false
}

// passports finds the first number-like token within 30 bytes after a word
// for passport.
func (r *redactor) passports(s string) [][2]int {
	var out [][2]int
	for _, m := range r.passportKW.FindAllStringIndex(s, -1) {
		// Skip the rest of the word ("Reisepassnummer").
		from := m[1]
		for from < len(s) && isLetter(s[from]) {
			from++
		}
		win := s[from:min(len(s), from+30)]
		for _, t := range r.passportTok.FindAllStringIndex(win, -1) {
			if countDigits(win[t[0]:t[1]]) >= 2 {
				out = append(out, [2]int{from + t[0], from + t[1]})
				break
			}
		}
	}
	return out
}

// dobs finds dates of birth: a date after a word for birth (or a year after
// "born in"), and any full date with a year from 1900 to yearMax.
func (r *redactor) dobs(s, lower string, ws []tword, yearMax int) [][2]int {
	var out [][2]int
	if containsAny(lower, "dob", "d.o.b", "d o b", "birth", "born", "geb", "naiss", "née", "nee le", "nacim", "nacid", "nasc", "nato il", "nata il", "urodz", "födel", "född") {
		for _, m := range r.dobKW.FindAllStringSubmatchIndex(s, -1) {
			kw := strings.ToLower(s[m[2]:m[3]])
			from := m[3]
			win := s[from:min(len(s), from+40)]
			if d := r.firstDate(win, 16); d != nil {
				out = append(out, [2]int{from + d[0], from + d[1]})
				continue
			}
			if strings.HasPrefix(kw, "born") || strings.HasPrefix(kw, "geboren") || strings.HasPrefix(kw, "urodzon") {
				if y := r.year.FindStringIndex(win); y != nil && y[0] <= 8 {
					out = append(out, [2]int{from + y[0], from + y[1]})
				}
			}
		}
	}
	if yearMax >= 1900 {
		for _, d := range r.dates(s, ws) {
			y := r.year.FindAllString(s[d[0]:d[1]], -1)
			if len(y) == 0 {
				continue
			}
			if n, _ := strconv.Atoi(y[len(y)-1]); n >= 1900 && n <= yearMax {
				out = append(out, d)
			}
		}
	}
	return out
}

// dates finds dates ("14/02/1987", "1992-07-23", "3 March 1979", "July 4,
// 1976"), trying the date pattern only where a date can start: a digit
// after a non-digit, or a month's name.
func (r *redactor) dates(s string, ws []tword) [][2]int {
	var out [][2]int
	next := 0
	try := func(i int) {
		if i < next {
			return
		}
		if m := r.dateAt.FindStringIndex(s[i:min(len(s), i+48)]); m != nil {
			if end := i + m[1]; end == len(s) || !isAlnum(s[end]) {
				out = append(out, [2]int{i, end})
				next = end
			}
		}
	}
	wi := 0
	for i := 0; i < len(s); i++ {
		for wi < len(ws) && ws[wi].start < i {
			wi++
		}
		if wi < len(ws) && ws[wi].start == i && monthSet[ws[wi].lower] {
			try(i)
		} else if isDigit(s[i]) && (i == 0 || !isAlnum(s[i-1])) {
			// Only where a date's shape starts: 1-2 digits then a separator,
			// a space or an ordinal; 4 digits then a dash.
			n := i
			for n < len(s) && isDigit(s[n]) {
				n++
			}
			spaceThenWord := n+1 < len(s) && s[n] == ' ' && !isDigit(s[n+1]) && s[n+1] != ' '
			if n < len(s) && ((n-i <= 2 && (strings.IndexByte("./-", s[n]) >= 0 || spaceThenWord || isLetter(s[n]))) || (n-i == 4 && s[n] == '-')) {
				try(i)
			}
		}
	}
	return out
}

// firstDate returns the first date in win that starts within the first
// within bytes.
func (r *redactor) firstDate(win string, within int) []int {
	for _, d := range r.dates(win, tokenize(win)) {
		if d[0] <= within {
			return d[:]
		}
		break
	}
	return nil
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// streetSuffix says how a word ends a street name: strong suffixes
// ("Road") may follow words in lower case, weak ones ("Grove", "Close") only
// capitalised words.
func streetSuffix(w string) (strong, weak bool) {
	switch strings.ToLower(strings.TrimSuffix(w, ".")) {
	case "street", "st", "road", "rd", "avenue", "ave", "av", "lane", "ln", "boulevard", "blvd":
		return true, false
	case "drive", "dr", "court", "ct", "close", "cl", "crescent", "cres", "place", "pl", "gardens", "gdns", "square", "sq",
		"terrace", "terr", "tce", "way", "view", "green", "park", "hill", "row", "walk", "rise", "gate", "grove", "mount",
		"parade", "yard", "wharf", "circus", "vale", "meadow", "meadows", "field", "fields", "heights", "estate", "quay",
		"causeway", "chase", "croft", "end", "side", "mews", "embankment", "broadway", "parkway", "pkwy", "highway", "hwy":
		return false, true
	}
	return false, false
}

// Street words of other countries: French after the number ("10 rue de la
// Paix"), others before the name ("Calle Mayor 5"), Germanic and Nordic at
// the end of one word ("Hauptstraße 12"). Prefixes written with a dot
// ("ul.") need it.
var (
	frenchStreetWords = wordSet(`rue avenue av boulevard bd chemin allée allee impasse place quai route cours`)
	streetPrefixWords = wordSet(`rue avenue boulevard chemin allée impasse quai calle avenida paseo plaza carrer passeig viale
piazza corso vicolo rua travessa praça praca ulica aleja plac strada calea`)
	streetPrefixDotted  = wordSet(`ul al os avda av`)
	streetPrefixCapital = wordSet(`via place largo`) // English words too: only capitalised
	streetArticles      = wordSet(`de du des la le les del della di da do dos das`)
	streetWordSuffixes  = []string{"straße", "strasse", "weg", "gasse", "platz", "allee", "damm", "ufer", "markt", "chaussee",
		"straat", "laan", "gracht", "plein", "kade", "dijk", "steeg", "singel", "gatan", "gata", "vägen", "väg", "gade",
		"vej", "veien", "vegen", "katu", "utca", "ulice", "caddesi", "sokak", "sokağı", "bulvarı"}
	monthSet = wordSet(strings.ReplaceAll(monthNames, "|", " "))
)

// streetAbbrev are the street words written short, perhaps with a dot.
var streetAbbrev = wordSet(`st rd ave av ln blvd dr ct cl cres pl gdns sq terr tce pkwy hwy`)

// wordAt returns the index of the first word starting at or after pos.
func wordAt(ws []tword, pos int) int {
	i, _ := slices.BinarySearchFunc(ws, pos, func(w tword, p int) int { return w.start - p })
	return i
}

// streetName consumes the words of a street's name from ws[i]: capitalised
// words and articles ("de la", "l'"), single spaces between, at most four
// capitalised words, ending on a capitalised one. It returns the index
// after the last word, or i if there is none.
func streetName(s string, ws []tword, i int) int {
	end, caps := i, 0
	for k := i; k < len(ws) && caps < 4; k++ {
		if k > i && !onlySpaces(s[ws[k-1].end:ws[k].start]) {
			break
		}
		w := ws[k]
		switch {
		case w.upper:
			caps++
			end = k + 1
		case streetArticles[w.lower]:
		case (strings.HasPrefix(w.lower, "l'") || strings.HasPrefix(w.lower, "d'")) && startsUpper(s[w.start+2:w.end]):
			caps++
			end = k + 1
		default:
			return end
		}
	}
	return end
}

// addresses finds street addresses.
func (r *redactor) addresses(s string, ws []tword) [][2]int {
	var out [][2]int
	add := func(start, end int) {
		if u := r.addrUnit.FindStringSubmatchIndex(s[max(0, start-24):start]); u != nil {
			start = max(0, start-24) + u[2]
		}
		out = append(out, [2]int{start, end})
	}
	// Number first: "12 High Street", "10 rue de la Paix".
	for _, m := range r.addrNum.FindAllStringIndex(s, -1) {
		start, pos := m[0], m[1]
		if start > 0 {
			if c, _ := utf8.DecodeLastRuneInString(s[:start]); wordChar(c) {
				continue
			}
		}
		sep := strings.TrimLeft(s[pos:], " \t")
		sep = strings.TrimPrefix(sep, ",")
		sep = strings.TrimLeft(sep, " \t")
		from := len(s) - len(sep)
		if from == pos {
			continue
		}
		k := wordAt(ws, from)
		if k >= len(ws) || ws[k].start != from {
			continue
		}
		if frenchStreetWords[ws[k].lower] && k+1 < len(ws) && gapIs(s[ws[k].end:ws[k+1].start], ".", "", true) {
			if e := streetName(s, ws, k+1); e > k+1 {
				add(start, ws[e-1].end)
				continue
			}
		}
		var words []tword
		for j := k; j < len(ws) && len(words) < 4; j++ {
			if j > k && s[ws[j-1].end:ws[j].start] != " " {
				// "St." and "Rd." end in a dot before the space
				if !(s[ws[j-1].end:ws[j].start] == ". " && len(words) > 0) {
					break
				}
			}
			words = append(words, ws[j])
		}
		end := -1
		if len(words) > 0 {
			w := words[0]
			if w.upper && utf8.RuneCountInString(w.lower) >= 6 && (strings.HasSuffix(w.lower, "way") || strings.HasSuffix(w.lower, "gate")) {
				end = w.end // "16 Kingsway", "4 Moorgate"
			}
		}
		for j := 1; j < len(words) && end < 0; j++ {
			strong, weak := streetSuffix(words[j].lower)
			if !strong && !weak {
				continue
			}
			ok := true
			for _, nw := range words[:j] {
				if !nw.upper && (weak || functionWords[nw.lower]) {
					ok = false
					break
				}
			}
			if ok && (strong || words[j].upper) {
				end = words[j].end
				if end < len(s) && s[end] == '.' && streetAbbrev[words[j].lower] {
					end++ // "St.", "Rd."
				}
			}
		}
		if end < 0 {
			continue
		}
		if a := r.addrAfter.FindStringIndex(s[end:]); a != nil {
			end += a[1]
		}
		add(start, end)
	}
	// Name first, number after: "Calle Mayor 5", "ul. Długa 7", "Hauptstraße 12".
	for k, w := range ws {
		nameFrom, start := -1, w.start
		after := ""
		if k+1 < len(ws) {
			after = s[w.end:ws[k+1].start]
		}
		switch {
		case streetPrefixWords[w.lower] && onlySpaces(after),
			streetPrefixCapital[w.lower] && w.upper && onlySpaces(after),
			streetPrefixDotted[w.lower] && gapIs(after, ".", ".", true):
			nameFrom = k + 1
		}
		if nameFrom >= 0 && nameFrom < len(ws) {
			if e := streetName(s, ws, nameFrom); e > nameFrom {
				if end, ok := r.houseNumberAfter(s, ws[e-1].end, true); ok {
					add(start, end)
					continue
				}
			}
		}
		if !w.upper {
			continue
		}
		for _, suf := range streetWordSuffixes {
			if !strings.HasSuffix(w.lower, suf) {
				continue
			}
			wordEnd := w.end
			if suf == "str" && wordEnd < len(s) && s[wordEnd] == '.' {
				wordEnd++
			}
			end, ok := r.houseNumberAfter(s, wordEnd, false)
			if !ok {
				break
			}
			if w.lower == suf && k > 0 && ws[k-1].upper && s[ws[k-1].end:w.start] == " " {
				start = ws[k-1].start // "Grote Markt 1"
			}
			add(start, end)
			break
		}
	}
	slices.SortFunc(out, func(a, b [2]int) int { return a[0] - b[0] })
	return out
}

// houseNumberAfter reads spaces (and, with comma, an optional comma) then a
// house number ("5", "84/92", "3a") that ends a word, from pos.
func (r *redactor) houseNumberAfter(s string, pos int, comma bool) (int, bool) {
	rest := strings.TrimLeft(s[pos:], " \t")
	if comma {
		rest = strings.TrimLeft(strings.TrimPrefix(rest, ","), " \t")
	}
	from := len(s) - len(rest)
	if from == pos && !comma {
		return 0, false
	}
	m := r.houseNum.FindStringIndex(rest)
	if m == nil {
		return 0, false
	}
	end := from + m[1]
	if end < len(s) {
		if c, _ := utf8.DecodeRuneInString(s[end:]); wordChar(c) {
			return 0, false
		}
	}
	return end, true
}

func startsUpper(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r)
}

func upperASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIPv6Char(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.'
}
func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }

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
