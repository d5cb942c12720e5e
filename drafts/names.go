package drafts

import (
	"bytes"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// nameEntry is one name a redaction looks for, folded (lower case, accents
// dropped, spaces collapsed) so that "JOSÉ", "Jose" and "josé" all match.
type nameEntry struct {
	folded []byte
	// common: the name is also an everyday word ("Grace", "Price"),
	// redacted only where it is capitalised; midOnly: and not where it opens
	// a sentence ("Will you…").
	common, midOnly bool
	// noSpace: a script written without spaces (Han, kana, Thai), so a
	// match needs no word boundary.
	noSpace bool
}

// excludeName records words of the business's own name ("Brightwater"),
// which name no person and are never redacted as one.
func (rd *redaction) excludeName(s string) {
	for _, w := range nameParts(s) {
		if rd.exclude == nil {
			rd.exclude = make(map[string]bool)
		}
		rd.exclude[string(foldText(w).s)] = true
	}
}

// addName records a name of one of the conversation's people: the whole
// name and each part of it ("Jane Doe", "Jane", "Doe"), except particles
// ("de"), titles, initials and the business's own words.
func (rd *redaction) addName(name string) {
	parts := nameParts(name)
	var kept []string
	for _, p := range parts {
		lp := strings.ToLower(p)
		if nameParticles[lp] || titles[lp] || letterCount(p) < 2 || rd.exclude[string(foldText(p).s)] {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return
	}
	if len(parts) >= 2 {
		rd.addEntry(strings.Join(parts, " "), false, false)
	}
	for _, p := range kept {
		lp := strings.ToLower(p)
		mid := sentenceNameWords[lp] || notNames[lp]
		rd.addEntry(p, mid || commonNameWords[lp], mid)
	}
}

func (rd *redaction) addEntry(name string, common, midOnly bool) {
	f := foldText(name).s
	if len(f) == 0 {
		return
	}
	key := string(f)
	if rd.nameSeen[key] {
		return
	}
	if rd.nameSeen == nil {
		rd.nameSeen = make(map[string]bool)
	}
	rd.nameSeen[key] = true
	first, _ := utf8.DecodeRuneInString(name)
	e := nameEntry{folded: f, common: common, midOnly: midOnly, noSpace: noSpaceScript(first)}
	i, _ := slices.BinarySearchFunc(rd.names, e, func(a, b nameEntry) int { return len(b.folded) - len(a.folded) })
	rd.names = slices.Insert(rd.names, i, e)
}

// nameParts splits a display name into its words: runs of letters, marks,
// apostrophes and hyphens ("~Jane 🌸 O'Neil-Smith" → "Jane", "O'Neil-Smith").
func nameParts(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsMark(r) || r == '\'' || r == '’' || r == '-')
	})
}

func letterCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}

func noSpaceScript(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// foldedText is text folded for name matching, with each folded byte's
// source span in the original.
type foldedText struct {
	s        []byte
	src, end []int
}

// foldText lower-cases s, drops accents (NFD, then combining marks), reads
// ’ as ' and collapses runs of white space into one space.
func foldText(s string) foldedText {
	ft := foldedText{s: make([]byte, 0, len(s)), src: make([]int, 0, len(s)), end: make([]int, 0, len(s))}
	add := func(b []byte, from, to int) {
		for _, c := range b {
			ft.s = append(ft.s, c)
			ft.src = append(ft.src, from)
			ft.end = append(ft.end, to)
		}
	}
	var buf [utf8.UTFMax]byte
	for i, r := range s {
		size := utf8.RuneLen(r)
		if size < 0 {
			size = 1
		}
		switch {
		case r < utf8.RuneSelf:
			c := byte(r)
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c == ' ' || c == '\t' || c == '\n' {
				if n := len(ft.s); n > 0 && ft.s[n-1] == ' ' {
					ft.end[n-1] = i + size
					continue
				}
				c = ' '
			}
			add([]byte{c}, i, i+size)
		case unicode.IsSpace(r):
			if n := len(ft.s); n > 0 && ft.s[n-1] == ' ' {
				ft.end[n-1] = i + size
				continue
			}
			add([]byte{' '}, i, i+size)
		case r == '’' || r == 'ʼ':
			add([]byte{'\''}, i, i+size)
		default:
			kept := false
			for _, d := range norm.NFD.String(string(r)) {
				if unicode.Is(unicode.Mn, d) {
					continue
				}
				n := utf8.EncodeRune(buf[:], unicode.ToLower(d))
				add(buf[:n], i, i+size)
				kept = true
			}
			if !kept && len(ft.end) > 0 {
				ft.end[len(ft.end)-1] = i + size // a lone combining mark joins the letter before
			}
		}
	}
	return ft
}

// wordChar reports letters, digits and marks: what a name does not border.
func wordChar(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }

// knownNameSpans finds the recorded names in s.
func (rd *redaction) knownNameSpans(s string) [][2]int {
	if len(rd.names) == 0 {
		return nil
	}
	ft := foldText(s)
	var out [][2]int
	for _, e := range rd.names {
		for off := 0; off < len(ft.s); {
			i := bytes.Index(ft.s[off:], e.folded)
			if i < 0 {
				break
			}
			i += off
			j := i + len(e.folded)
			off = i + 1
			if !e.noSpace {
				if r, _ := utf8.DecodeLastRune(ft.s[:i]); i > 0 && wordChar(r) {
					continue
				}
				if r, _ := utf8.DecodeRune(ft.s[j:]); j < len(ft.s) && wordChar(r) {
					continue
				}
			}
			start, end := ft.src[i], ft.end[j-1]
			if e.common && !readsAsName(s, start, end, e.midOnly) {
				continue
			}
			if e.common && streetNameAfter(s[end:]) {
				continue // "Turner Street" is a street, not Mr Turner
			}
			out = append(out, [2]int{start, end})
		}
	}
	return out
}

// readsAsName reports whether a common word at s[start:end] is used as a
// name: capitalised and, with midOnly, not opening a sentence ("Thanks,
// Will" but not "Will you come?") unless alone on its line (a signature).
func readsAsName(s string, start, end int, midOnly bool) bool {
	r, _ := utf8.DecodeRuneInString(s[start:])
	if !unicode.IsUpper(r) {
		return false
	}
	if !midOnly {
		return true
	}
	rest := strings.TrimLeft(s[end:], " \t,.!x")
	if rest == "" || rest[0] == '\n' {
		before := strings.TrimRight(s[:start], " \t-–—~")
		if before == "" || strings.HasSuffix(before, "\n") {
			return true
		}
	}
	before := strings.TrimRight(s[:start], " \t\"'“‘(")
	if before == "" {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(before)
	return !strings.ContainsRune(".!?\n:;", last)
}

// streetNameAfter reports whether rest starts with a street word, so the
// name before it is a street's ("Turner Street").
func streetNameAfter(rest string) bool {
	rest = strings.TrimLeft(rest, " \t")
	i := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) && r != '.' })
	if i < 0 {
		i = len(rest)
	}
	strong, weak := streetSuffix(rest[:i])
	return strong || weak
}

// Phrase kinds: what the words before a capitalised word say about it.
const (
	cueGreeting = 1 << iota
	cueSignOff
	cueBareSignOff
	cueFormName // "name: Frank Turner"
	cueWeakIntro
	cueStrongIntro
	cueRelation
	cueVerb
	cueHereGreeting // the greetings before "Jane here"
)

// cues maps a phrase (lower case, words joined by one space) to its kinds.
var cues = func() map[string]int {
	m := make(map[string]int, 256)
	add := func(list string, kind int) {
		for _, p := range strings.Split(list, "|") {
			m[phraseKey(p)] |= kind
		}
	}
	add(greetingWords, cueGreeting)
	add(signOffWords, cueSignOff)
	add(bareSignOffWords, cueBareSignOff)
	add("name", cueFormName)
	add(weakIntroWords, cueWeakIntro)
	add(strongIntroWords, cueStrongIntro)
	add(relationWords, cueRelation)
	add(personVerbWords, cueVerb)
	add("hi|hello|hey|hiya|morning", cueHereGreeting)
	return m
}()

// maxCueWords is the longest phrase in cues ("for the attention of").
const maxCueWords = 4

// afterWeakIntro are the words that may follow a name after "I'm": "I'm
// Tariq from number 6".
var afterWeakIntro = wordSet(`here from at and again speaking calling of in y et und e i`)

var hereWordSet = wordSet(strings.ReplaceAll(hereWords, "|", " "))

// phraseKey lower-cases a phrase and joins its words with single spaces,
// as tokenize splits them ("c/o" → "c o").
func phraseKey(p string) string {
	var ws []string
	for _, w := range tokenize(p) {
		ws = append(ws, w.lower)
	}
	return strings.Join(ws, " ")
}

// tword is one word of a text: letters and marks, with apostrophes and
// hyphens inside.
type tword struct {
	start, end int
	lower      string
	upper      bool
}

// tokenize splits s into words.
func tokenize(s string) []tword {
	var out []tword
	start := -1
	flush := func(end int) {
		// An apostrophe or hyphen does not end a word.
		for end > start {
			r, size := utf8.DecodeLastRuneInString(s[start:end])
			if r != '\'' && r != '’' && r != '-' {
				break
			}
			end -= size
		}
		if end > start {
			w := s[start:end]
			r, _ := utf8.DecodeRuneInString(w)
			out = append(out, tword{start: start, end: end, lower: strings.ReplaceAll(strings.ToLower(w), "’", "'"), upper: unicode.IsUpper(r)})
		}
		start = -1
	}
	for i, r := range s {
		letter := unicode.IsLetter(r) || unicode.IsMark(r)
		inner := r == '\'' || r == '’' || r == '-'
		switch {
		case letter && start < 0:
			start = i
		case letter || (inner && start >= 0):
		case start >= 0:
			flush(i)
		}
	}
	if start >= 0 {
		flush(len(s))
	}
	return out
}

// onlySpaces reports whether s is made of spaces and tabs, at least one.
func onlySpaces(s string) bool {
	return s != "" && strings.Trim(s, " \t") == ""
}

// gapIs checks a separator: spaces and tabs are free; each other rune must
// be in allowed; one of need must appear (if need is not empty);
// atLeastSpace requires a space or tab.
func gapIs(gap, allowed, need string, atLeastSpace bool) bool {
	if gap == "" {
		return false
	}
	space, needed := false, need == ""
	for _, r := range gap {
		switch {
		case r == ' ' || r == '\t':
			space = true
		case strings.ContainsRune(allowed, r):
			if strings.ContainsRune(need, r) {
				needed = true
			}
		default:
			return false
		}
	}
	return needed && (space || !atLeastSpace)
}

// heuristicNameSpans finds names nobody told the redaction about, by how
// people introduce, greet and sign: after a greeting ("Hi Jane"), in a
// sign-off ("Kind regards,\nJane Doe"), after "my name is", "I'm", a title,
// a relation ("my wife Ngozi"), a verb that takes a person ("speak to
// Lisa"), before "here" ("Kasia here"), and as a last-line signature.
func (r *redactor) heuristicNameSpans(s string, rd *redaction) [][2]int {
	if sp, ok := rd.heuristic[s]; ok {
		return sp
	}
	ws := tokenize(s)
	var out [][2]int
	gapBefore := func(i int) string {
		if i == 0 {
			return s[:ws[0].start]
		}
		return s[ws[i-1].end:ws[i].start]
	}
	// phraseBefore returns the cue kinds of the phrases of 1 to maxCueWords
	// space-separated words ending at word j.
	phraseBefore := func(j int) int {
		kinds := 0
		key := ""
		for k := 0; k < maxCueWords && j-k >= 0; k++ {
			if k > 0 && !onlySpaces(s[ws[j-k].end:ws[j-k+1].start]) {
				break
			}
			if key == "" {
				key = ws[j-k].lower
			} else {
				key = ws[j-k].lower + " " + key
			}
			kinds |= cues[key]
		}
		return kinds
	}
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		gap := gapBefore(i)
		// "my name is kevin walsh": the name may be in lower case.
		if i > 0 && onlySpaces(gap) && phraseBefore(i-1)&cueStrongIntro != 0 {
			if sp, ok := rd.trimWords(s, ws, i, true); ok {
				out = append(out, [2]int{sp[0], sp[1]})
				i = sp[2] - 1
				continue
			}
		}
		if !w.upper {
			continue
		}
		// A title: "Mrs Patel", "Dr. Lindqvist"; the span takes the title.
		if i > 0 && titles[ws[i-1].lower] && gapIs(gap, ".", "", true) {
			if sp, ok := rd.trimWords(s, ws, i, false); ok {
				out = append(out, [2]int{ws[i-1].start, sp[1]})
				i = sp[2] - 1
				continue
			}
		}
		sp, ok := rd.trimWords(s, ws, i, false)
		if !ok {
			continue
		}
		last := sp[2] - 1 // the name's last word
		kinds := 0
		if i > 0 {
			kinds = phraseBefore(i - 1)
			// "tell her that Dave …": him, her, them and that may follow a verb.
			for j := i - 1; j > 0 && (ws[j].lower == "him" || ws[j].lower == "her" || ws[j].lower == "them" || ws[j].lower == "that") &&
				onlySpaces(s[ws[j-1].end:ws[j].start]); j-- {
				kinds |= phraseBefore(j-1) & cueVerb
			}
		}
		found := false
		switch {
		case kinds&(cueGreeting|cueRelation) != 0 && gapIs(gap, ",", "", true):
			found = true
		case kinds&cueSignOff != 0 && (gapIs(gap, ",-–—", "", true) || gapIs(gap, ",-–—!.\n", "\n", false)):
			found = true
		case kinds&cueBareSignOff != 0 && gapIs(gap, ",\n", ",\n", false):
			found = true
		case kinds&cueFormName != 0 && gapIs(gap, ":", "", true):
			found = true
		case kinds&cueVerb != 0 && onlySpaces(gap):
			found = true
		case kinds&cueWeakIntro != 0 && onlySpaces(gap):
			rest := strings.TrimLeft(s[ws[last].end:], " \t")
			next := last + 1
			found = rest == "" || strings.ContainsRune(",.!?;:)(\n", rune(rest[0])) ||
				(next < len(ws) && onlySpaces(s[ws[last].end:ws[next].start]) && afterWeakIntro[ws[next].lower])
		}
		if !found && last+1 < len(ws) && hereWordSet[ws[last+1].lower] && gapIs(s[ws[last].end:ws[last+1].start], ",", "", true) {
			// "Kasia here", "Hi, Fiona here", "… Olga again"
			before := strings.TrimRight(s[:w.start], " \t")
			after := s[ws[last+1].end:]
			endsWord := after == "" || !wordChar(firstRune(after))
			lastRune, _ := utf8.DecodeLastRuneInString(before)
			found = endsWord && (before == "" || strings.ContainsRune("\n.!?", lastRune) ||
				(i > 0 && phraseBefore(i-1)&cueHereGreeting != 0 && gapIs(gap, ",", "", true)))
		}
		if !found && (last == len(ws)-1 || allKisses(ws[last+1:])) {
			// A signature: the last line, on its own after a line break.
			lineStart := strings.LastIndexByte(s[:w.start], '\n')
			if lineStart >= 0 && strings.Trim(s[lineStart+1:w.start], " \t-–—~") == "" {
				found = strings.Trim(s[ws[last].end:], " \txX") == ""
			}
		}
		if found {
			out = append(out, [2]int{sp[0], sp[1]})
			i = last
		}
	}
	if rd.heuristic == nil {
		rd.heuristic = make(map[string][][2]int)
	}
	rd.heuristic[s] = out
	return out
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// allKisses reports whether there are words and all are "x", "xx"… (a
// signature's kisses).
func allKisses(ws []tword) bool {
	if len(ws) == 0 {
		return false
	}
	for _, w := range ws {
		if strings.Trim(w.lower, "x") != "" {
			return false
		}
	}
	return true
}

// trimWords takes up to three words from ws[i] on, separated by spaces only,
// that can be a name: capitalised (unless lower), not everyday words ("Jane
// Can" → "Jane"), not the business's own, stopping at a possessive
// ("Bishop's" → "Bishop"). It returns the byte span and the index after the
// last word taken, as [start, end, next].
func (rd *redaction) trimWords(s string, ws []tword, i int, lower bool) ([3]int, bool) {
	end, next := -1, i
	for k := i; k < len(ws) && k < i+3; k++ {
		if k > i && !onlySpaces(s[ws[k-1].end:ws[k].start]) {
			break
		}
		w := ws[k]
		lw := w.lower
		if base, _, ok := strings.Cut(lw, "'"); ok && (notNames[base] || functionWords[base]) {
			break // "We'll", "I'd"
		}
		if notNames[lw] || functionWords[lw] || (!lower && !w.upper) || letterCount(lw) < 2 ||
			(k == i && nameParticles[lw]) || rd.exclude[string(foldText(lw).s)] {
			break
		}
		end, next = w.end, k+1
		if strings.HasSuffix(lw, "'s") && len(lw) > 3 {
			end = w.end - len("'s")
			if strings.HasSuffix(s[:w.end], "’s") {
				end = w.end - len("’s")
			}
			break // "Bishop's van": the name is Bishop
		}
	}
	if end < 0 {
		return [3]int{}, false
	}
	return [3]int{ws[i].start, end, next}, true
}

// learn records the names s reveals ("my name is Priya"), so that every
// text of the request redacts them, wherever they appear later.
func (r *redactor) learn(s string, rd *redaction) {
	for _, sp := range r.heuristicNameSpans(s, rd) {
		rd.addName(s[sp[0]:sp[1]])
	}
}

// nameSpans finds names in s: recorded ones and those the heuristics see,
// merged where they touch ("Wei" "Chen" → "Wei Chen"), with an initial or a
// title before them ("A Bello", "Mrs Doe").
func (r *redactor) nameSpans(s string, rd *redaction) [][2]int {
	spans := append(rd.knownNameSpans(s), r.heuristicNameSpans(s, rd)...)
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return b[1] - a[1]
	})
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		gap := ""
		if sp[0] > last[1] {
			gap = s[last[1]:sp[0]]
		}
		if sp[0] <= last[1] || (len(gap) <= 2 && strings.Trim(gap, " \t-") == "") {
			last[1] = max(last[1], sp[1])
			continue
		}
		merged = append(merged, sp)
	}
	for i := range merged {
		merged[i][0] = extendBack(s, merged[i][0])
	}
	return merged
}

// extendBack moves a name's start over an initial ("A Bello") or a title
// ("Mrs Doe") right before it.
func extendBack(s string, start int) int {
	before := strings.TrimRight(s[:start], " \t")
	if len(before) == len(s[:start]) || len(s[:start])-len(before) > 2 {
		return start
	}
	i := len(before)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(before[:i])
		if !unicode.IsLetter(r) && r != '.' {
			break
		}
		i -= size
	}
	word := before[i:]
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(before[:i]); wordChar(r) {
			return start
		}
	}
	bare := strings.TrimSuffix(word, ".")
	switch {
	case titles[strings.ToLower(bare)] && startsUpper(bare):
		return i
	case utf8.RuneCountInString(bare) == 1 && startsUpper(bare) && bare != "I":
		return i
	}
	return start
}
