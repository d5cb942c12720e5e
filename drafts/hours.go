package drafts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard/switchboard/bot"
)

// Week is the business's opening hours: for each weekday (indexed by
// time.Weekday, Sunday first), the times it is open, on the wall clock of
// its time zone. A day without spans is closed.
type Week [7][]Span

// Span is one opening on a day, From to To minutes after midnight on the
// wall clock: 08:00-17:30 is {480, 1050}. To is after From and at most
// 24:00 (1440); an opening past midnight is two spans, one ending at 24:00
// and one starting at 00:00 the next day.
type Span struct{ From, To int }

// Limits of opening hours.
const (
	maxSpansPerDay = 6
	maxClosures    = 50
	maxClosureDays = 366
	// searchDays bounds the search for the next opening: a year of
	// closures and a week.
	searchDays = 2*maxClosureDays + 7
)

// dayNames are what ParseHours reads as days, in time.Weekday order.
var dayNames = [7][]string{
	{"sun", "sunday", "sundays"},
	{"mon", "monday", "mondays"},
	{"tue", "tues", "tuesday", "tuesdays"},
	{"wed", "weds", "wednesday", "wednesdays"},
	{"thu", "thur", "thurs", "thursday", "thursdays"},
	{"fri", "friday", "fridays"},
	{"sat", "saturday", "saturdays"},
}

// dayOf reads a day name ("mon", "Monday").
func dayOf(w string) (time.Weekday, bool) {
	w = strings.ToLower(strings.TrimRight(w, ".:"))
	for d, names := range dayNames {
		if slices.Contains(names, w) {
			return time.Weekday(d), true
		}
	}
	return 0, false
}

// hoursExample is what every opening-hours error shows.
const hoursExample = "such as mon-fri 08:00-17:30, sat 09:00-12:00"

// ParseHours reads opening hours: entries separated by commas or
// semicolons, each days and then times or "closed": "mon-fri 08:00-17:30,
// sat 09:00-12:00, sun closed". Days are names or ranges of them
// ("mon-fri", "fri-mon"), "daily" or "weekdays"; times are ranges on the
// 24-hour clock ("08:00-17:30", "8-12", "8:00 to 12:00", "9am-5:30pm"),
// several per day ("mon-fri 08:00-12:00 13:00-17:30"); an entry of times
// only adds them to the days before it. Days not named are closed. Errors
// match ErrBadProfile and say in plain words what is wrong.
func ParseHours(s string) (Week, error) {
	var w Week
	named := [7]bool{}
	closed := [7]bool{}
	var days []time.Weekday
	entries := strings.FieldsFunc(strings.TrimSpace(s), func(r rune) bool { return r == ',' || r == ';' || r == '\n' })
	if len(entries) == 0 {
		return Week{}, badProfile("Give the opening hours as days and times, %s.", hoursExample)
	}
	for _, e := range entries {
		toks := hoursTokens(e)
		if len(toks) == 0 {
			continue
		}
		if isClosedWord(toks[0]) && len(toks) > 1 {
			// "closed sunday", "closed sat-sun"
			_, n, ok, err := parseDays(toks[1:])
			if err != nil {
				return Week{}, err
			}
			if !ok || n+1 != len(toks) {
				return Week{}, badProfile("Write the closed days as sun closed or closed sunday.")
			}
			toks = append(toks[1:], toks[0]) // as "sunday closed"
		}
		i := 0
		if d, n, ok, err := parseDays(toks); err != nil {
			return Week{}, err
		} else if ok {
			days, i = d, n
		} else if days == nil {
			return Week{}, badProfile("Opening hours start with the days, %s.", hoursExample)
		}
		if i == len(toks) {
			return Week{}, badProfile("Give the times for %s too, %s.", daysWords(days), hoursExample)
		}
		if isClosedWord(toks[i]) {
			if i+1 != len(toks) {
				return Week{}, badProfile("Write \"closed\" on its own after the days, such as sun closed.")
			}
			for _, d := range days {
				if len(w[d]) > 0 {
					return Week{}, badProfile("%s is both open and closed in those hours; name each day once.", dayWord(d))
				}
				closed[d] = true
			}
			continue
		}
		for ; i < len(toks); i++ {
			if strings.EqualFold(toks[i], "and") || toks[i] == "&" || toks[i] == "+" {
				continue
			}
			sp, n, err := parseSpan(toks[i:])
			if err != nil {
				return Week{}, err
			}
			i += n - 1
			for _, d := range days {
				if closed[d] {
					return Week{}, badProfile("%s is both open and closed in those hours; name each day once.", dayWord(d))
				}
				for _, o := range w[d] {
					if sp.From < o.To && o.From < sp.To {
						return Week{}, badProfile("%s has overlapping times; give each day its times once.", dayWord(d))
					}
				}
				if len(w[d]) == maxSpansPerDay {
					return Week{}, badProfile("A day can have at most %d opening times.", maxSpansPerDay)
				}
				w[d] = append(w[d], sp)
				named[d] = true
			}
		}
	}
	open := false
	for d := range w {
		slices.SortFunc(w[d], func(a, b Span) int { return a.From - b.From })
		open = open || len(w[d]) > 0
	}
	if !open {
		return Week{}, badProfile("Those hours are never open; give the days and times you are open, %s.", hoursExample)
	}
	return w, nil
}

// hoursTokens splits an entry into words, with the dashes of ranges
// ("mon-fri", "08:00–17:30") as words of their own.
func hoursTokens(e string) []string {
	var b strings.Builder
	for _, r := range e {
		switch r {
		case '-', '–', '—':
			b.WriteString(" - ")
		default:
			b.WriteRune(r)
		}
	}
	return strings.Fields(b.String())
}

// parseDays reads the days at the start of toks: one day, a range, a
// list joined by "and" or "&", "daily" or "weekdays". n is how many
// tokens they took; ok is false if toks does not start with days.
func parseDays(toks []string) (days []time.Weekday, n int, ok bool, err error) {
	switch strings.ToLower(toks[0]) {
	case "daily", "everyday":
		return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, 1, true, nil
	case "weekdays":
		return []time.Weekday{1, 2, 3, 4, 5}, 1, true, nil
	case "weekends":
		return []time.Weekday{6, 0}, 1, true, nil
	case "every":
		if len(toks) > 1 && strings.EqualFold(toks[1], "day") {
			return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, 2, true, nil
		}
	}
	seen := map[time.Weekday]bool{}
	for n < len(toks) {
		first, isDay := dayOf(toks[n])
		if !isDay {
			if !strings.ContainsAny(toks[n], "0123456789") && !isClosedWord(toks[n]) && !isTimeWord(toks[n]) {
				return nil, 0, false, notADay(toks[n])
			}
			break
		}
		last := first
		n++
		if n+1 < len(toks) && (toks[n] == "-" || strings.EqualFold(toks[n], "to")) {
			l, ok := dayOf(toks[n+1])
			if !ok {
				return nil, 0, false, notADay(toks[n+1])
			}
			last, n = l, n+2
		}
		for d := first; ; d = (d + 1) % 7 {
			if seen[d] {
				return nil, 0, false, badProfile("%s is named twice in one entry.", dayWord(d))
			}
			seen[d] = true
			days = append(days, d)
			if d == last {
				break
			}
		}
		if n < len(toks) && (strings.EqualFold(toks[n], "and") || toks[n] == "&") {
			if n+1 < len(toks) {
				if _, ok := dayOf(toks[n+1]); ok {
					n++
					continue
				}
			}
		}
		if n < len(toks) {
			if _, ok := dayOf(toks[n]); ok {
				continue // "sat sun 10:00-12:00"
			}
		}
		break
	}
	if len(days) == 0 {
		return nil, 0, false, nil
	}
	return days, n, true, nil
}

// parseSpan reads "08:00 - 17:30" (or "8 to 5:30pm") at the start of toks
// and returns how many tokens it took.
func parseSpan(toks []string) (Span, int, error) {
	bad := badProfile("Opening times are ranges on the 24-hour clock, such as 08:00-17:30.")
	if len(toks) < 3 || (toks[1] != "-" && !strings.EqualFold(toks[1], "to")) {
		if len(toks) > 0 && !strings.ContainsAny(toks[0], "0123456789") {
			if _, isDay := dayOf(toks[0]); isDay {
				return Span{}, 0, badProfile("Separate the entries with commas, %s.", hoursExample)
			}
		}
		return Span{}, 0, bad
	}
	from, err := parseClock(toks[0], false)
	if err != nil {
		return Span{}, 0, err
	}
	to, err := parseClock(toks[2], true)
	if err != nil {
		return Span{}, 0, err
	}
	if to <= from && from < 12*60 && to+12*60 > from && !strings.ContainsAny(toks[2], "apAP") {
		return Span{}, 0, badProfile("Times are on the 24-hour clock: for %s to %s in the afternoon, write %s-%s.",
			clock(from, false), clock(to, false), clock(from, true), clock(to+12*60, true))
	}
	if to <= from {
		return Span{}, 0, badProfile("An opening time ends after it starts, such as 08:00-17:30; for hours past midnight, end the day at 24:00 and start the next at 00:00.")
	}
	return Span{From: from, To: to}, 3, nil
}

// parseClock reads a time of day in minutes after midnight: "08:00",
// "8:00", "8", "0800", "8.30", "9am", "5:30pm", "noon", "midnight";
// "24:00" (and "midnight") only as the end of a range.
func parseClock(s string, end bool) (int, error) {
	bad := badProfile("A time is written like 08:00 or 17:30, on the 24-hour clock.")
	s = strings.ToLower(s)
	switch s {
	case "noon", "midday":
		return 12 * 60, nil
	case "midnight":
		if end {
			return 24 * 60, nil
		}
		return 0, nil
	}
	pm, am := strings.HasSuffix(s, "pm"), strings.HasSuffix(s, "am")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "pm"), "am")
	h, m := s, "0"
	if i := strings.IndexAny(s, ":."); i >= 0 {
		h, m = s[:i], s[i+1:]
		if len(m) != 2 {
			return 0, bad
		}
	} else if len(s) == 4 {
		h, m = s[:2], s[2:]
	}
	if h == "" || len(h) > 2 || !allDigits(h) || !allDigits(m) {
		return 0, bad
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if mm > 59 {
		return 0, bad
	}
	if am || pm {
		if hh < 1 || hh > 12 {
			return 0, bad
		}
		if hh == 12 {
			hh = 0
		}
		if pm {
			hh += 12
		}
		if am && hh == 0 && mm == 0 && end {
			hh = 24 // "12am" as an end is midnight
		}
	}
	switch {
	case hh == 24 && mm == 0 && end:
		return 24 * 60, nil
	case hh == 24 && mm == 0:
		return 0, badProfile("24:00 is only where an opening time ends; a day starts at 00:00.")
	case hh > 23:
		return 0, bad
	}
	return hh*60 + mm, nil
}

// isClosedWord reports whether w says a day is closed.
func isClosedWord(w string) bool {
	w = strings.ToLower(strings.TrimRight(w, ".:"))
	return w == "closed" || w == "shut"
}

// isTimeWord reports whether w is a time parseClock reads without digits.
func isTimeWord(w string) bool {
	switch strings.ToLower(w) {
	case "noon", "midday", "midnight", "and", "&", "+":
		return true
	}
	return false
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// notADay refuses a word where a day belongs.
func notADay(w string) error {
	for _, r := range w {
		if !unicode.IsPrint(r) || isInvisible(r) {
			return badProfile("Days are written mon, tue, wed, thu, fri, sat or sun.")
		}
	}
	return badProfile("There is no day called %q; use mon, tue, wed, thu, fri, sat or sun.", clip(w, 20))
}

// clip bounds a word the admin typed for an error message.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// IsZero reports whether the week has no opening at all.
func (w Week) IsZero() bool {
	for _, d := range w {
		if len(d) > 0 {
			return false
		}
	}
	return true
}

// String renders the week as ParseHours reads it, days with the same times
// grouped, Monday first: "mon-fri 08:00-17:30, sat 09:00-12:00".
func (w Week) String() string {
	return w.render(func(first, last time.Weekday) string {
		if first == last {
			return dayNames[first][0]
		}
		return dayNames[first][0] + "-" + dayNames[last][0]
	}, func(sp Span) string { return clock(sp.From, true) + "-" + clock(sp.To, true) }, " ", ", ")
}

// Words renders the week for people: "Monday to Friday 8:00–17:30,
// Saturday 9:00–12:00; closed Sunday".
func (w Week) Words() string {
	s := w.render(func(first, last time.Weekday) string {
		if first == last {
			return dayWord(first)
		}
		return dayWord(first) + " to " + dayWord(last)
	}, func(sp Span) string { return clock(sp.From, false) + "–" + clock(sp.To, false) }, " ", ", ")
	var closed []string
	for _, d := range mondayFirst {
		if len(w[d]) == 0 {
			closed = append(closed, dayWord(d))
		}
	}
	if len(closed) > 0 {
		s += "; closed " + joinAnd(closed)
	}
	return s
}

// mondayFirst is the order people read a week in.
var mondayFirst = [7]time.Weekday{1, 2, 3, 4, 5, 6, 0}

// render groups consecutive days (Monday first) with the same spans.
func (w Week) render(days func(first, last time.Weekday) string, span func(Span) string, sep, entrySep string) string {
	var entries []string
	for i := 0; i < 7; {
		d := mondayFirst[i]
		if len(w[d]) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 7 && slices.Equal(w[mondayFirst[j+1]], w[d]) {
			j++
		}
		var spans []string
		for _, sp := range w[d] {
			spans = append(spans, span(sp))
		}
		entries = append(entries, days(d, mondayFirst[j])+sep+strings.Join(spans, " "))
		i = j + 1
	}
	return strings.Join(entries, entrySep)
}

// clock renders minutes after midnight: "08:00" (padded) or "8:00".
func clock(min int, padded bool) string {
	if padded {
		return fmt.Sprintf("%02d:%02d", min/60, min%60)
	}
	return fmt.Sprintf("%d:%02d", min/60, min%60)
}

// dayWord is a weekday for people: "Monday".
func dayWord(d time.Weekday) string { return d.String() }

// daysWords names days for people: "Monday", "Monday to Friday".
func daysWords(days []time.Weekday) string {
	if len(days) == 1 {
		return dayWord(days[0])
	}
	return dayWord(days[0]) + " to " + dayWord(days[len(days)-1])
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// Date is a calendar day in the business's time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// dateOf is the calendar day of t on its own clock.
func dateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// key orders dates.
func (d Date) key() int { return d.Year*10000 + int(d.Month)*100 + d.Day }

// String renders the date as ParseClosures reads it: "2025-12-25".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// words renders the date for people: "25 December 2025".
func (d Date) words() string { return fmt.Sprintf("%d %s %d", d.Day, d.Month, d.Year) }

// Closure is a run of days the business is closed whatever the week says
// (bank holidays, a summer break): From to To, both included.
type Closure struct{ From, To Date }

// ParseClosures reads closed dates: "2025-12-25, 2025-12-24 to 2026-01-02"
// (ISO dates; a run as "from to to" or "from..to"). Errors match
// ErrBadProfile.
func ParseClosures(s string) ([]Closure, error) {
	bad := badProfile("A closed day is a date such as 2025-12-25, or a run of dates such as 2025-12-24 to 2026-01-02.")
	var out []Closure
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		from, to, isRun := strings.Cut(e, "..")
		if !isRun {
			if f := strings.Fields(e); len(f) == 3 && (strings.EqualFold(f[1], "to") || f[1] == "–" || f[1] == "-") {
				from, to, isRun = f[0], f[2], true
			}
		}
		a, err := parseDate(strings.TrimSpace(from))
		if err != nil {
			return nil, bad
		}
		b := a
		if isRun {
			if b, err = parseDate(strings.TrimSpace(to)); err != nil {
				return nil, bad
			}
		}
		if b.key() < a.key() {
			return nil, badProfile("A run of closed dates ends after it starts, such as 2025-12-24 to 2026-01-02.")
		}
		if days := civil(b).Sub(civil(a)) / (24 * time.Hour); days >= maxClosureDays {
			return nil, badProfile("A run of closed dates is at most a year long.")
		}
		out = append(out, Closure{From: a, To: b})
		if len(out) > maxClosures {
			return nil, badProfile("At most %d closed dates or runs of dates; remove past ones.", maxClosures)
		}
	}
	if len(out) == 0 {
		return nil, bad
	}
	slices.SortFunc(out, func(x, y Closure) int { return x.From.key() - y.From.key() })
	return out, nil
}

// parseDate reads "2025-12-25".
func parseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return Date{}, err
	}
	return dateOf(t), nil
}

// civil is noon of the date in UTC, for day arithmetic.
func civil(d Date) time.Time { return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC) }

// FormatClosures renders closures as ParseClosures reads them.
func FormatClosures(cs []Closure) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.From.String()
		if c.To != c.From {
			parts[i] += " to " + c.To.String()
		}
	}
	return strings.Join(parts, ", ")
}

// closuresWords renders closures for people: "25 December 2025 to
// 26 December 2025, 1 January 2026".
func closuresWords(cs []Closure) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.From.words()
		if c.To != c.From {
			parts[i] += " to " + c.To.words()
		}
	}
	return strings.Join(parts, ", ")
}

// LoadTimeZone reads an IANA time zone name ("Europe/London"), also typed
// in lower case ("europe/london"). Names without a region, such as GMT or
// CET, are refused except UTC: they never change for summer time where
// the business is. Errors match ErrBadProfile.
func LoadTimeZone(name string) (*time.Location, error) {
	name = strings.TrimSpace(name)
	if name == "UTC" || strings.EqualFold(name, "utc") {
		return time.UTC, nil
	}
	if !strings.Contains(name, "/") || len(name) > 64 || strings.ContainsAny(name, " \\") || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, badProfile("A time zone is a place name such as Europe/London or America/New_York, so summer time is right.")
	}
	for _, n := range []string{name, titleZone(name)} {
		if loc, err := time.LoadLocation(n); err == nil {
			return loc, nil
		}
	}
	return nil, badProfile("There is no time zone called %q; use a place name such as Europe/London or Europe/Dublin.", clip(name, 64))
}

// titleZone capitalises each word of a zone name: "america/new_york" →
// "America/New_York".
func titleZone(name string) string {
	b := []rune(strings.ToLower(name))
	up := true
	for i, r := range b {
		if up {
			b[i] = unicode.ToUpper(r)
		}
		up = r == '/' || r == '_' || r == '-'
	}
	return string(b)
}

// Schedule says when the business is open: its week, its closures and its
// time zone, and the urgent contact its closed-hours reply names. It is
// the router's bot.OpeningHours.
type Schedule struct {
	Week     Week
	Closures []Closure
	Loc      *time.Location
	// Urgent is how to reach a person while the business is closed
	// ("call 0117 496 0000"); empty for none.
	Urgent string
}

var _ bot.OpeningHours = Schedule{}

// closedOn reports whether date d is in a closure.
func (s Schedule) closedOn(d Date) bool {
	k := d.key()
	for _, c := range s.Closures {
		if c.From.key() <= k && k <= c.To.key() {
			return true
		}
	}
	return false
}

// OpenAt reports whether the business is open at t: t's wall clock in the
// time zone is in one of its day's spans, and the day is not a closure.
func (s Schedule) OpenAt(t time.Time) bool {
	lt := t.In(s.Loc)
	if s.closedOn(dateOf(lt)) {
		return false
	}
	sec := lt.Hour()*3600 + lt.Minute()*60 + lt.Second()
	for _, sp := range s.Week[lt.Weekday()] {
		if sp.From*60 <= sec && sec < sp.To*60 {
			return true
		}
	}
	return false
}

// NextOpening returns the first instant after t at which the business
// opens, looking a little over two years ahead; ok is false if it never
// does in that time. On a day summer time starts, an opening at a time
// the clocks skip is the moment they jump; on a day it ends, an opening at
// a time that comes twice is its first.
func (s Schedule) NextOpening(t time.Time) (time.Time, bool) {
	lt := t.In(s.Loc)
	y, m, d := lt.Date()
	for k := 0; k <= searchDays; k++ {
		day := dateOf(time.Date(y, m, d+k, 12, 0, 0, 0, time.UTC))
		if s.closedOn(day) {
			continue
		}
		wd := civil(day).Weekday()
		for _, sp := range s.Week[wd] {
			if at, ok := s.firstAfter(day, sp.From, t); ok && s.OpenAt(at) {
				return at, true
			}
		}
	}
	return time.Time{}, false
}

// firstAfter returns the earliest instant after t at which the wall clock
// of day reads min minutes after midnight, or, if the clocks skip that
// time, the moment they jump past it.
func (s Schedule) firstAfter(day Date, min int, t time.Time) (time.Time, bool) {
	naive := time.Date(day.Year, day.Month, day.Day, min/60, min%60, 0, 0, time.UTC)
	// Every offset in use is within ±14 hours: the instant, if any, is
	// naive minus one of the offsets in force around it.
	var cands []time.Time
	for _, probe := range []time.Time{naive.Add(-15 * time.Hour), naive, naive.Add(15 * time.Hour)} {
		_, off := probe.In(s.Loc).Zone()
		at := naive.Add(-time.Duration(off) * time.Second)
		lt := at.In(s.Loc)
		if lt.Year() == day.Year && lt.Month() == day.Month && lt.Day() == day.Day && lt.Hour()*60+lt.Minute() == min && lt.Second() == 0 {
			cands = append(cands, at)
		}
	}
	if len(cands) == 0 {
		// A skipped time: the clocks jump at the start of the zone in
		// force at the instant the earlier offset gives.
		_, before := naive.Add(-15 * time.Hour).In(s.Loc).Zone()
		start, _ := naive.Add(-time.Duration(before) * time.Second).In(s.Loc).ZoneBounds()
		if !start.IsZero() {
			cands = append(cands, start)
		}
	}
	slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
	for _, c := range cands {
		if c.After(t) {
			return c, true
		}
	}
	return time.Time{}, false
}

// Closed implements bot.OpeningHours: when the business is closed at t,
// the period ends at the next opening and the reply says when that is,
// from t's point of view.
func (s Schedule) Closed(t time.Time) (bot.ClosedPeriod, bool) {
	if s.Loc == nil || s.Week.IsZero() || s.OpenAt(t) {
		return bot.ClosedPeriod{}, false
	}
	until, _ := s.NextOpening(t)
	return bot.ClosedPeriod{Until: until, Reply: s.Reply(t, until)}, true
}

// Reply is the closed-hours acknowledgement a customer who writes at now
// gets, with the business opening again at opens (zero: not known):
// "Thanks for your message. We're closed now; we'll answer from 8:00 on
// Monday. Urgent? Call 0117 496 0000."
func (s Schedule) Reply(now, opens time.Time) string {
	text := "Thanks for your message. We're closed now and will answer as soon as we're open again."
	if !opens.IsZero() {
		text = "Thanks for your message. We're closed now; we'll answer from " + s.when(now, opens) + "."
	}
	if u := strings.TrimSpace(s.Urgent); u != "" {
		r := []rune(u)
		r[0] = unicode.ToUpper(r[0])
		u = string(r)
		if !strings.ContainsAny(u[len(u)-1:], ".!?") {
			u += "."
		}
		text += " Urgent? " + u
	}
	return text
}

// when says an opening time from now's point of view, in the business's
// time zone: "8:00 today", "8:00 tomorrow", "8:00 on Monday", or, a week
// or more ahead, "8:00 on Monday 5 January" (with the year if not this
// one).
func (s Schedule) when(now, opens time.Time) string {
	lo, ln := opens.In(s.Loc), now.In(s.Loc)
	at := clock(lo.Hour()*60+lo.Minute(), false)
	days := int(civil(dateOf(lo)).Sub(civil(dateOf(ln))) / (24 * time.Hour))
	switch {
	case days <= 0:
		return at + " today"
	case days == 1:
		return at + " tomorrow"
	case days < 7:
		return at + " on " + lo.Weekday().String()
	case lo.Year() == ln.Year():
		return at + " on " + lo.Format("Monday 2 January")
	}
	return at + " on " + lo.Format("Monday 2 January 2006")
}

// scheduleFacts are the prompt's lines about the business's time zone and
// coming closures, so the model knows the local time and which days are
// off; "" when neither is set.
func scheduleFacts(p *Profile, now time.Time) string {
	var b strings.Builder
	loc, err := LoadTimeZone(p.TimeZone)
	if p.TimeZone != "" && err == nil {
		b.WriteString("- The business's time zone is " + loc.String() + "; there it is " + now.In(loc).Format("Monday 2 January 2006, 15:04") + " now\n")
	} else {
		loc = time.UTC
	}
	if p.Closures == "" {
		return b.String()
	}
	cs, err := ParseClosures(p.Closures)
	if err != nil {
		return b.String()
	}
	today := dateOf(now.In(loc)).key()
	coming := cs[:0:0]
	for _, c := range cs {
		if c.To.key() >= today {
			coming = append(coming, c)
		}
	}
	if len(coming) > 0 {
		b.WriteString("- Closed (holidays) on: " + closuresWords(coming) + "\n")
	}
	return b.String()
}
