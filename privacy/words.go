package privacy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// Keys of an erasure's counts beyond store.DeleteSubject's tables: what the
// channels' forgetters removed ("whatsapp_records").
const recordsSuffix = "_records"

// countWord names one count in plain words.
type countWord struct{ key, one, many string }

// dbWords are our database's counts, in the order people care about.
var dbWords = []countWord{
	{"messages", "message", "messages"},
	{"drafts", "reply draft", "reply drafts"},
	{"media", "photo, voice note or document (its file deleted)", "photos, voice notes and documents (their files deleted)"},
	{"decisions", "staff decision on a reply", "staff decisions on replies"},
	{"outbox", "reply waiting to be sent", "replies waiting to be sent"},
	{"closed_acks", "note of an automatic closed-hours reply", "notes of automatic closed-hours replies"},
	{"identities", "phone number or account id", "phone numbers and account ids"},
	{"subjects", "profile (name and settings)", "profiles (names and settings)"},
	{"decisions_by", "decision taken as staff, now anonymous", "decisions taken as staff, now anonymous"},
}

// plural renders "1 message", "3 messages".
func plural(n int, w countWord) string {
	if n == 1 {
		return "1 " + w.one
	}
	return fmt.Sprintf("%d %s", n, w.many)
}

// listWords renders the non-zero counts of words.
func listWords(c map[string]int, words []countWord) []string {
	var out []string
	for _, w := range words {
		if n := c[w.key]; n > 0 {
			out = append(out, plural(n, w))
		}
	}
	return out
}

// platformName is a platform as people say it.
func platformName(p bot.Platform) string {
	switch p {
	case bot.WhatsApp:
		return "WhatsApp"
	case bot.Teams:
		return "Teams"
	}
	return string(p)
}

// recordWord is a channel's records. It names no kind of record: the
// linked device keeps contacts and session keys, the Cloud API a reply
// window and media ids, and the words must be true for either.
var recordWord = countWord{one: "record", many: "records"}

// erasedLines says, one line per store, what an erasure removed (counts
// are store.DeleteSubject's plus "<platform>_records" from the channels).
// pending lists the platforms whose channels forget the person only after
// this text is sent (a self-erasure's early confirmation); their lines say
// so instead of a count. teams reports whether a Teams channel deletes the
// cards staff saw.
func erasedLines(c map[string]int, pending []bot.Platform, teams bool, whose string) []string {
	var lines []string
	if db := listWords(c, dbWords); len(db) > 0 {
		lines = append(lines, "From our database: "+strings.Join(db, ", ")+".")
	}
	if n := c["subject_keys"]; n > 0 {
		lines = append(lines, "From our key store: "+plural(n, countWord{"", "encryption key", "encryption keys"})+
			", so older backups of "+whose+" data can no longer be read.")
	}
	if n := c["cards"]; n > 0 {
		cards := plural(n, countWord{"", "card shown to staff", "cards shown to staff"})
		switch {
		case !teams:
			lines = append(lines, "Teams: "+cards+", still there: Teams is not connected here, so an admin must delete "+itThem(n)+" in Teams.")
		case isPending(pending, bot.Teams):
			lines = append(lines, "Teams: "+cards+", deleted right after this message.")
		default:
			lines = append(lines, "Teams: "+cards+".")
		}
	}
	for _, p := range pending {
		if p != bot.Teams {
			lines = append(lines, "Our "+platformName(p)+" connection: what it keeps about "+objectOf(whose)+" is deleted right after this message.")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c)) {
		n := c[k]
		p, ok := strings.CutSuffix(k, recordsSuffix)
		if ok && n > 0 && !isPending(pending, bot.Platform(p)) {
			lines = append(lines, "Our "+platformName(bot.Platform(p))+" connection: "+plural(n, recordWord)+".")
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "Nothing was stored.")
	}
	return lines
}

// itThem is "it" for one, "them" for more.
func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// objectOf turns a possessive into an object: "your" → "you".
func objectOf(whose string) string {
	switch whose {
	case "your":
		return "you"
	case "their":
		return "them"
	}
	return whose
}

func isPending(ps []bot.Platform, p bot.Platform) bool { return slices.Contains(ps, p) }

// countsText renders counts on one line in plain words, for the audit
// trail: "5 messages, 1 reply draft, 1 encryption key".
func countsText(c map[string]int) string {
	parts := listWords(c, dbWords)
	if n := c["cards"]; n > 0 {
		parts = append(parts, plural(n, countWord{"", "card shown to staff", "cards shown to staff"}))
	}
	if n := c["subject_keys"]; n > 0 {
		parts = append(parts, plural(n, countWord{"", "encryption key", "encryption keys"}))
	}
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if p, ok := strings.CutSuffix(k, recordsSuffix); ok && c[k] > 0 {
			n := c[k]
			parts = append(parts, plural(n, countWord{"", platformName(bot.Platform(p)) + " record", platformName(bot.Platform(p)) + " records"}))
		}
	}
	if len(parts) == 0 {
		return "nothing was stored"
	}
	return strings.Join(parts, ", ")
}

// duration renders a window people read: "10 minutes", "24 hours", "1 hour
// 30 minutes", never a Go duration such as "24h0m0s".
func duration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "less than a minute"
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if h > 0 {
		parts = append(parts, plural(h, countWord{"", "hour", "hours"}))
	}
	if m > 0 {
		parts = append(parts, plural(m, countWord{"", "minute", "minutes"}))
	}
	return strings.Join(parts, " ")
}

// maskIdentity shows an identity so an admin can check it is the one they
// meant, without spelling it out: "+44 7••• ••0987", "WhatsApp id
// ••••6789", "Teams user ••••abcd".
func maskIdentity(id bot.Identity) string {
	tail := func(v string) string {
		if len(v) <= 4 {
			return "••••"
		}
		return "••••" + v[len(v)-4:]
	}
	switch id.Kind {
	case bot.IDPhone:
		return bot.MaskPhone(id.Value)
	case bot.IDLID:
		return "WhatsApp id " + tail(strings.TrimSuffix(id.Value, "@lid"))
	case bot.IDTeams:
		return "Teams user " + tail(id.Value)
	}
	return "an account id"
}
