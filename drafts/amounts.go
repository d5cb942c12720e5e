package drafts

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The model never writes an amount: it names price-list items by reference
// ([PRICE:id], quote_items with [QUOTE], [TOTAL]) and Go writes every
// figure. So anything in the model's own text that reads as money flags the
// draft, whatever its form: a currency sign or word anywhere, a number next
// to one, a number where a price would stand ("costs 20", "45 per hour"), a
// number shaped like money ("77.98", "1,200"), a discount or free work
// nobody priced. The text is first normalised: HTML entities and literal
// \u escapes decoded, NFKC (fullwidth and superscript digits, ￡), digits of
// every script read as ASCII, number words read as numbers ("twenty-five",
// "veinte", "zwanzig").

// Token kinds of the amount scan.
const (
	atNum   = iota // a number, in digits or words
	atWord         // a word, lower case
	atCur          // a currency sign
	atPct          // %, percent, per cent
	atSym          // other punctuation that keeps a clause together
	atBreak        // the end of a clause: . ! ? ; new line
)

type atok struct {
	kind  int
	text  string // lower case; a number's digits with their separators
	space bool   // white space before it
	words bool   // a number written in words
}

var (
	literalEscape = regexp.MustCompile(`\\u([0-9a-fA-F]{4})`)
	refPattern    = regexp.MustCompile(`\[(?:QUOTE|TOTAL|PRICE:[^\]\s]{0,60}|[A-Z_]{2,12}_[0-9]{1,6})\]`)
)

// normaliseAmounts prepares the model's text for the amount scan; it is
// never shown to anyone.
func normaliseAmounts(s string) string {
	s = literalEscape.ReplaceAllStringFunc(s, func(m string) string {
		v, err := strconv.ParseUint(m[2:], 16, 32)
		if err != nil {
			return m
		}
		return string(rune(v))
	})
	for i := 0; i < 3 && strings.IndexByte(s, '&') >= 0; i++ {
		s = html.UnescapeString(s)
	}
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	prevDigit := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case unicode.IsDigit(r):
			r = rune('0' + digitValue(r))
		case r == '\u066B' || (r == '·' && prevDigit): // Arabic decimal separator, middle dot
			r = '.'
		case r == '\u066C': // Arabic thousands separator
			r = ','
		case r == '’' || r == 'ʼ' || r == '\u2032':
			r = '\''
		case r == '\n':
		case unicode.IsSpace(r):
			r = ' '
		case unicode.Is(unicode.Pd, r):
			r = '-'
		}
		prevDigit = r >= '0' && r <= '9'
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// digitValue is the value of a decimal digit of any script: Unicode keeps
// each script's digits together, 0 to 9, so the value is the distance from
// the start of the run, modulo 10.
func digitValue(r rune) int {
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10
}

// numberWords are the number words of the languages drafts are written in;
// their values do not matter, only that they are numbers. "one", "a" and
// the like are left out: they are articles more often than amounts, and
// "one pound" is caught by its currency word.
var numberWords = wordSet(`
two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands
million dozen
dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis dieciseis veinte
treinta cuarenta cincuenta sesenta setenta ochenta noventa cien ciento cientos doscientos trescientos quinientos mil
deux trois quatre cinq sept huit neuf dix onze douze treize quatorze quinze seize vingt trente quarante
cinquante soixante cent cents mille
zwei drei vier fünf sechs sieben acht neun zehn elf zwölf zwanzig dreißig dreissig vierzig fünfzig sechzig
siebzig achtzig neunzig hundert tausend
due tre quattro cinque sette otto nove dieci undici dodici venti trenta quaranta cinquanta sessanta settanta
ottanta novanta cento mille
dois três quatro cinco sete oito nove dez vinte trinta quarenta cinquenta sessenta setenta oitenta noventa cem
dwa trzy cztery pięć sześć siedem osiem dziewięć dziesięć dwadzieścia trzydzieści czterdzieści pięćdziesiąt sto tysiąc
twee drie vier vijf zes zeven acht negen tien twintig dertig veertig vijftig honderd duizend
`)

// isNumberWord also reads compounds: "twentyfive", "fünfundzwanzig",
// "veintidós", "quatre-vingts" (split at the hyphen).
func isNumberWord(w string) bool {
	if numberWords[w] {
		return true
	}
	for _, suf := range []string{"zig", "ßig", "ssig", "hundert", "tausend", "cientos", "ty"} {
		if strings.HasSuffix(w, suf) && len(w) > len(suf)+2 {
			if suf == "ty" {
				return numberWords[w] // "pretty", "thirty": only the listed ones
			}
			return true
		}
	}
	return strings.HasPrefix(w, "veinti") || strings.HasPrefix(w, "dieci") && len(w) > 5
}

// Currency words and codes: any of them in the model's text is money talk.
var (
	currencyWords = wordSet(`pound pounds quid squid sterling buck bucks dollar dollars euro euros eur cent cents
pence penny pennies fiver fivers tenner tenners libra libras pfund livre livres dólar dólares dolar dolares
złoty złotych zloty zł kronor krona kroner kronen franc francs franken rupee rupees yen yuan lira lire
gbp usd chf pln sek nok dkk cad aud nzd jpy inr zar czk huf cny hkd sgd aed sar`)
	// after a number only: "2 grand", "2k", "50p".
	currencyAfterNumber = wordSet(`grand k p`)
	// priceWords before a number make it a price: "costs 20".
	priceWords = wordSet(`cost costs costing costed price prices priced pricing charge charges charged charging fee fees
rate rates total totals totalling totaling subtotal sum pay paid paying payment deposit discount discounted save
saving savings budget spend worth estimate estimated quoted labour labor hourly vat amount amounts owe owed
kostet kosten preis precio cuesta coûte coute prix costa prezzo kosztuje cena prijs kost`)
	// priceTail after a number make it a price: "45 per hour", "85 + VAT".
	priceTail = wordSet(`each per plus inc incl including ex exc excl excluding vat apiece upfront total off only
altogether overall`)
	// forWhat after "for" make the number before a price: "150 for everything".
	forWhat = wordSet(`everything all both lot job work whole`)
	// copulas before a bare number at the end of a clause: "it's 20."
	copulas = wordSet(`is it's that's that'll it'll be are was were just only from makes make comes come`)
	// timePreps before a small number make it a time: "by 4".
	timePreps = wordSet(`at from until till til by between before after around about past to and`)
	// idWords before a number make it an identifier: "reference 48213".
	idWords = wordSet(`ref reference order invoice booking job ticket no number code error fault model version serial
step room flat unit apartment apt house platform floor level page option line bay door gate plot phase zone
postcode account licence license registration reg`)
	ordinalSuffix = wordSet(`st nd rd th er e eme º`)
	timeAfter     = wordSet(`am pm h hrs o'clock oclock uhr`)
	negations     = wordSet(`no not don't dont can't cant cannot won't wont never unable isn't aren't doesn't`)
	// offerPhrases are prices nobody wrote on the list: discounts and free
	// work. A negation before them ("we don't offer discounts") is fine.
	offerPhrases = [][]string{{"discount"}, {"discounts"}, {"discounted"}, {"free", "of", "charge"}, {"no", "charge"},
		{"no", "extra", "charge"}, {"at", "no", "cost"}, {"at", "no", "extra", "cost"}, {"for", "free"}, {"on", "the", "house"},
		{"complimentary"}, {"half", "price"}, {"half", "-", "price"}, {"price", "match"}, {"waive"}, {"waived"},
		{"special", "offer"}, {"special", "price"}, {"special", "rate"}, {"reduced", "rate"}, {"money", "off"}, {"cheaper"}}
)

// tokenizeAmounts splits normalised text into the scan's tokens.
func tokenizeAmounts(s string) []atok {
	var out []atok
	space := false
	push := func(t atok) {
		t.space = space
		space = false
		out = append(out, t)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == ' ' || r == '\t':
			space = true
			i += size
		case r >= '0' && r <= '9':
			j := i
			for j < len(s) {
				c := s[j]
				if isDigit(c) || ((c == '.' || c == ',' || c == '\'') && j+1 < len(s) && isDigit(s[j+1]) && j > i) {
					j++
					continue
				}
				break
			}
			push(atok{kind: atNum, text: s[i:j]})
			i = j
		case unicode.IsLetter(r) || unicode.IsMark(r):
			j := i
			for j < len(s) {
				c, n := utf8.DecodeRuneInString(s[j:])
				if unicode.IsLetter(c) || unicode.IsMark(c) || (c == '\'' && j > i && j+n < len(s) && isLetterAt(s, j+n)) {
					j += n
					continue
				}
				break
			}
			push(atok{kind: atWord, text: s[i:j]})
			i = j
		case unicode.Is(unicode.Sc, r):
			push(atok{kind: atCur, text: string(r)})
			i += size
		case r == '%' || r == '‰':
			push(atok{kind: atPct, text: "%"})
			i += size
		case r == '\n' || r == '.' || r == '!' || r == '?' || r == ';':
			push(atok{kind: atBreak, text: string(r)})
			i += size
		default:
			push(atok{kind: atSym, text: string(r)})
			i += size
		}
	}
	// Number words become numbers; "twenty-five", "one hundred and fifty"
	// become one.
	var merged []atok
	for i := 0; i < len(out); i++ {
		t := out[i]
		if t.kind == atWord && isNumberWord(t.text) {
			t.kind, t.words = atNum, true
			for i+2 < len(out) && (out[i+1].text == "-" || out[i+1].text == "and" || out[i+1].text == "y" || out[i+1].text == "und") &&
				out[i+2].kind == atWord && isNumberWord(out[i+2].text) {
				t.text += " " + out[i+2].text
				i += 2
			}
			for i+1 < len(out) && out[i+1].kind == atWord && isNumberWord(out[i+1].text) {
				t.text += " " + out[i+1].text
				i++
			}
		}
		// "per cent", "percent", "por ciento", "pour cent", "prozent"
		if t.kind == atWord && (t.text == "percent" || t.text == "prozent" || t.text == "procent") {
			t.kind = atPct
		}
		if t.kind == atWord && (t.text == "per" || t.text == "por" || t.text == "pour") && i+1 < len(out) && (out[i+1].text == "cent" || out[i+1].text == "ciento") {
			t = atok{kind: atPct, text: "%", space: t.space}
			i++
		}
		merged = append(merged, t)
	}
	return merged
}

func isLetterAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r)
}

// currencyOfToken maps a sign or word to an ISO code, or "" when unclear.
func currencyOfToken(t string) string {
	switch t {
	case "£", "₤", "pound", "pounds", "quid", "squid", "sterling", "pence", "penny", "pennies", "fiver", "fivers", "tenner", "tenners", "gbp", "p", "grand", "k", "libra", "libras", "pfund", "livre", "livres":
		return "GBP"
	case "€", "euro", "euros", "eur":
		return "EUR"
	case "$", "dollar", "dollars", "buck", "bucks", "usd", "dólar", "dólares", "dolar", "dolares":
		return "USD"
	}
	if len(t) == 3 && strings.ToUpper(t) != t && currencyWords[t] {
		return strings.ToUpper(t)
	}
	return ""
}

// scanAmounts reports the money the model wrote itself: flags, and the
// currencies seen (to tell the profile's currency from another).
func scanAmounts(text string, p *Profile) (invented bool, currencies []string) {
	text = refPattern.ReplaceAllString(text, " ")
	if text == "" {
		return false, nil
	}
	toks := tokenizeAmounts(normaliseAmounts(text))
	found := func(cur string) {
		invented = true
		if cur != "" {
			currencies = append(currencies, cur)
		}
	}
	isCurrency := func(i int, afterNumber bool) bool {
		if i < 0 || i >= len(toks) {
			return false
		}
		t := toks[i]
		if t.kind == atCur {
			return true
		}
		if t.kind != atWord {
			return false
		}
		if currencyWords[t.text] {
			return true
		}
		return afterNumber && currencyAfterNumber[t.text] && (t.text == "grand" || !t.space)
	}
	for i, t := range toks {
		switch t.kind {
		case atCur:
			found(currencyOfToken(t.text))
		case atWord:
			if currencyWords[t.text] {
				found(currencyOfToken(t.text))
			} else if t.text == "grand" && i > 0 && toks[i-1].kind == atWord && (toks[i-1].text == "a" || toks[i-1].text == "couple") {
				found("GBP")
			}
		case atNum:
			if cur, ok := numberIsMoney(toks, i, p, isCurrency); ok {
				found(cur)
			}
		}
	}
	if offerInvented(toks) {
		invented = true
	}
	return invented, currencies
}

// numberIsMoney decides whether the number toks[i] is an amount.
func numberIsMoney(toks []atok, i int, p *Profile, isCurrency func(int, bool) bool) (string, bool) {
	t := toks[i]
	at := func(j int) atok {
		if j < 0 || j >= len(toks) {
			return atok{kind: atBreak}
		}
		return toks[j]
	}
	word := func(j int) string {
		if w := at(j); w.kind == atWord {
			return w.text
		}
		return ""
	}
	// Next to a currency: "20 quid", "gbp20", "20 British pounds".
	for _, j := range []int{i - 1, i + 1, i + 2, i - 2} {
		between := at((i + j) / 2)
		if (j == i+2 || j == i-2) && (between.kind == atBreak || between.kind == atNum) {
			continue
		}
		if isCurrency(j, j > i) {
			return currencyOfToken(at(j).text), true
		}
	}
	next, prev := at(i+1), at(i-1)
	// Percentages: a discount or an invented VAT rate.
	if next.kind == atPct {
		for j := max(0, i-5); j < min(len(toks), i+5); j++ {
			if toks[j].kind == atBreak && j > i {
				break
			}
			switch toks[j].text {
			case "off", "discount", "discounted", "save", "saving", "reduction", "reduced", "less", "cheaper", "deal":
				return "", true
			case "vat", "tva", "iva", "mwst":
				if v, err := parseFixed2(strings.ReplaceAll(t.text, ",", ".")); err != nil || Rate(v) != p.VATRate {
					return "", true
				}
			}
		}
		return "", false
	}
	// Not amounts: ordinals, times, dates, years, identifiers, codes, list
	// numbers, quantities, house numbers.
	if next.kind == atWord && !next.space && ordinalSuffix[next.text] {
		return "", false
	}
	if (next.text == ":" && !next.space && at(i+2).kind == atNum) || (prev.text == ":" && !t.space && at(i-2).kind == atNum) {
		return "", false
	}
	if timeAfter[word(i+1)] || (word(i+1) == "a" && at(i+2).text == "." && word(i+3) == "m") {
		return "", false
	}
	if timePreps[word(i-1)] && smallTime(t.text) && !t.words {
		return "", false
	}
	for _, j := range []int{i - 2, i - 1, i + 1, i + 2} {
		if monthSet[word(j)] {
			return "", false
		}
	}
	if (next.text == "/" && !next.space && at(i+2).kind == atNum) || (prev.text == "/" && !t.space && at(i-2).kind == atNum) {
		return "", false
	}
	if n, err := strconv.Atoi(t.text); err == nil && len(t.text) == 4 && n >= 1900 && n <= 2099 {
		return "", false
	}
	for j := i - 1; j >= max(0, i-3); j-- {
		if at(j).kind == atBreak || priceWords[word(j)] {
			break
		}
		if idWords[word(j)] || at(j).text == "#" {
			return "", false
		}
	}
	if prev.kind == atWord && !t.space && !t.words {
		return "", false // "E133", "A38", "M5"
	}
	if (prev.kind == atBreak || i == 0) && (next.text == "." || next.text == ")") {
		return "", false // "1. Turn off the boiler"
	}
	if word(i-1) == "x" || (word(i+1) == "x" && !next.space) || prev.text == "×" || next.text == "×" {
		return "", false // "2x", "x 2"
	}
	if isQuantity(toks, i) || inPhoneNumber(toks, i) {
		return "", false
	}
	// Amounts: a price word before, a price tail after, money's shape, or
	// a bare number where a price would be.
	for j := i - 1; j >= max(0, i-5); j-- {
		if at(j).kind == atBreak {
			break
		}
		if priceWords[word(j)] {
			return "", true
		}
	}
	if priceTail[word(i+1)] || next.text == "+" || (word(i+1) == "for" && forWhat[word(i+2)]) ||
		(word(i+1) == "for" && word(i+2) == "the" && forWhat[word(i+3)]) || (word(i+1) == "all" && word(i+2) == "in") {
		return "", true
	}
	if moneyShaped(t.text) {
		return "", true
	}
	if copulas[word(i-1)] && (next.kind == atBreak || next.text == "," || next.text == ")") {
		return "", true
	}
	// Any other number the reply leaves unexplained is read as money when
	// it is as large as a price: "For you, 75.", "I can do it for 90.",
	// "a hundred and twenty". Small numbers ("buzzer 4") and numbers that
	// start with 0 (phone numbers, codes) are not.
	if t.words {
		return "", largeNumberWords(t.text)
	}
	if strings.HasPrefix(t.text, "0") && len(t.text) >= 3 {
		return "", false
	}
	if v, err := parseFixed2(strings.ReplaceAll(t.text, ",", "")); err == nil && v >= 1000 {
		return "", true
	}
	return "", false
}

// largeNumberWords reports number words of ten or more: "twenty", "a
// hundred and fifty", "zwanzig", "veinte".
func largeNumberWords(s string) bool {
	for _, w := range strings.Fields(s) {
		switch w {
		case "two", "three", "four", "five", "six", "seven", "eight", "nine", "dos", "tres", "cuatro", "cinco", "seis",
			"siete", "ocho", "nueve", "deux", "trois", "quatre", "cinq", "sept", "huit", "neuf", "zwei", "drei", "vier",
			"fünf", "sechs", "sieben", "acht", "neun", "due", "tre", "quattro", "cinque", "sette", "otto", "nove", "dois",
			"três", "sete", "oito", "dwa", "trzy", "cztery", "pięć", "sześć", "siedem", "osiem", "dziewięć", "twee",
			"drie", "vijf", "zes", "zeven", "negen", "dozen":
			continue
		}
		return true
	}
	return false
}

// inPhoneNumber reports a number that is a group of a phone number: digit
// groups separated by spaces or dashes, 9 to 15 digits in all, starting with
// 0 or after a + ("0117 496 0000", "+44 117 496 0000").
func inPhoneNumber(toks []atok, i int) bool {
	group := func(k int) bool { return k >= 0 && k < len(toks) && toks[k].kind == atNum && !toks[k].words }
	start, end := i, i
	for {
		switch {
		case group(start-1) && toks[start].space:
			start--
			continue
		case start >= 2 && toks[start-1].text == "-" && group(start-2):
			start -= 2
			continue
		}
		break
	}
	for {
		switch {
		case group(end+1) && toks[end+1].space:
			end++
			continue
		case end+2 < len(toks) && toks[end+1].text == "-" && group(end+2):
			end += 2
			continue
		}
		break
	}
	digits := 0
	for k := start; k <= end; k++ {
		if toks[k].kind == atNum {
			digits += countDigits(toks[k].text)
		}
	}
	lead := strings.HasPrefix(toks[start].text, "0") || (start > 0 && toks[start-1].text == "+")
	return end > start && lead && digits >= 9 && digits <= 15
}

// smallTime reports a number that can be a clock time: 0 to 24, or H.MM.
func smallTime(s string) bool {
	h, m, dot := strings.Cut(s, ".")
	if !dot {
		h, m, dot = strings.Cut(s, ",")
	}
	hv, err := strconv.Atoi(h)
	if err != nil || hv > 24 {
		return false
	}
	if dot {
		mv, err := strconv.Atoi(m)
		return err == nil && len(m) == 2 && mv < 60
	}
	return true
}

// moneyShaped reports "77.98", "20,50", "1,200", "1'200", "1.200,50".
func moneyShaped(s string) bool {
	if i := strings.LastIndexAny(s, ".,"); i >= 0 && len(s)-i-1 == 2 {
		if s[i] == ',' || !smallTime(s) {
			return true
		}
	}
	if strings.ContainsAny(s, ",'") {
		for _, g := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\'' || r == '.' })[1:] {
			if len(g) == 3 {
				return true
			}
		}
	}
	return false
}

// isQuantity reports a number that counts something: followed by a noun
// ("2 valves", "15mm", "3-5 working days", "5-star"), or by a street ("12
// High Street").
func isQuantity(toks []atok, i int) bool {
	j := i + 1
	for hops := 0; hops < 2 && j+1 < len(toks); hops++ {
		// ranges and compounds: "3-5 days", "2 or 3 radiators", "5-star"
		if (toks[j].text == "-" || toks[j].text == "to" || toks[j].text == "or") && (toks[j+1].kind == atNum || toks[j].text == "-") {
			if toks[j+1].kind == atNum {
				j += 2
			} else {
				j++
			}
			continue
		}
		break
	}
	if j >= len(toks) || toks[j].kind != atWord {
		return false
	}
	w := toks[j].text
	if priceTail[w] || currencyWords[w] || currencyAfterNumber[w] || functionWords[w] || priceWords[w] || copulas[w] ||
		w == "for" || w == "all" || w == "a" || w == "the" {
		return false
	}
	return true
}

// offerInvented reports a discount or free work in the text that no
// negation before it takes back.
func offerInvented(toks []atok) bool {
	for i := range toks {
		for _, ph := range offerPhrases {
			if i+len(ph) > len(toks) {
				continue
			}
			ok := true
			for k, w := range ph {
				if toks[i+k].text != w {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			negated := false
			for j := i - 1; j >= max(0, i-5); j-- {
				if toks[j].kind == atBreak {
					break
				}
				if negations[toks[j].text] {
					negated = true
				}
			}
			if !negated {
				return true
			}
		}
	}
	return false
}
