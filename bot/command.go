package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Command is a slash command typed in a chat: "/forget me" is
// Command{Name: "forget", Args: "me"}.
type Command struct {
	Name string // lower case, without the slash
	Args string // the rest, trimmed; case kept (names, identifiers)
}

// MaxCommandLen bounds what is parsed as a command.
const MaxCommandLen = 4096

// ParseCommand reports whether text is a slash command and splits it. The
// name is case-insensitive ("/Forget ME" → "forget", "ME"); a leading bot
// mention is the channel's job to strip. Text that is not a command (no
// leading slash, "/" alone, a path such as "/usr/bin", over MaxCommandLen)
// gives ok=false.
func ParseCommand(text string) (cmd Command, ok bool) {
	text = strings.TrimSpace(text)
	if len(text) < 2 || len(text) > MaxCommandLen || text[0] != '/' || !utf8.ValidString(text) {
		return Command{}, false
	}
	rest := text[1:]
	end := strings.IndexFunc(rest, unicode.IsSpace)
	name, args := rest, ""
	if end >= 0 {
		name, args = rest[:end], strings.TrimSpace(rest[end:])
	}
	if name == "" || len(name) > 32 {
		return Command{}, false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Command{}, false
		}
	}
	return Command{Name: strings.ToLower(name), Args: args}, true
}

// CommandText is what is stored of a command message: "/" and its name.
// The arguments are not kept: they are input to the command, not
// conversation, and often name other people.
func CommandText(c Command) string { return "/" + c.Name }
