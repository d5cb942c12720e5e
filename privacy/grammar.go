package privacy

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard/switchboard/bot"
)

// Verb is a data-rights or admin command the engine knows.
type Verb string

// The commands.
const (
	VerbHelp      Verb = "help"
	VerbPrivacy   Verb = "privacy"
	VerbExport    Verb = "export"
	VerbForget    Verb = "forget"
	VerbStop      Verb = "stop"
	VerbStart     Verb = "start"
	VerbName      Verb = "name"
	VerbRequests  Verb = "requests"
	VerbRetention Verb = "retention"
)

// Scope says what a /forget or /export acts on; it is what the register
// keeps instead of the identifier.
type Scope string

// Scopes.
const (
	ScopeSelf    Scope = "self"
	ScopePhone   Scope = "phone"
	ScopeLID     Scope = "lid"
	ScopeBSUID   Scope = "bsuid"
	ScopeTeams   Scope = "teams"
	ScopeTenant  Scope = "tenant"
	ScopeCompany Scope = "company"
	// ScopeRetention marks erasures by the retention purge.
	ScopeRetention Scope = "retention"
)

// MaxNameLen bounds a name given with /name, in bytes.
const MaxNameLen = 100

// Target is who a /forget or /export is about. ID is personal data: never
// log it.
type Target struct {
	Scope Scope
	ID    bot.Identity // zero for ScopeSelf and ScopeCompany
}

// Op is a parsed command.
type Op struct {
	Verb   Verb
	Target Target // for VerbExport and VerbForget
	Name   string // for VerbName
}

// ErrUsage is returned for a known command with bad arguments; the message
// after it is safe to show (it never repeats the input).
var ErrUsage = errors.New("usage")

// Parse turns a slash command into an Op. It returns bot.ErrUnknownCommand
// for a command it does not know and an error wrapping ErrUsage (or
// bot.ErrBadIdentity) for bad arguments. defaultCC is the country code for
// national phone numbers ("44").
func Parse(cmd bot.Command, defaultCC string) (Op, error) {
	switch v := Verb(cmd.Name); v {
	case VerbHelp, VerbPrivacy, VerbStop, VerbStart, VerbRequests, VerbRetention:
		return Op{Verb: v}, nil
	case VerbExport:
		if cmd.Args == "" {
			return Op{Verb: v, Target: Target{Scope: ScopeSelf}}, nil
		}
		t, err := ParseTarget(cmd.Args, defaultCC)
		if err != nil {
			return Op{}, err
		}
		return Op{Verb: v, Target: t}, nil
	case VerbForget:
		if cmd.Args == "" {
			return Op{}, fmt.Errorf("%w: type /forget me to erase your data", ErrUsage)
		}
		t, err := ParseTarget(cmd.Args, defaultCC)
		if err != nil {
			return Op{}, err
		}
		return Op{Verb: v, Target: t}, nil
	case VerbName:
		name, err := CleanName(cmd.Args)
		if err != nil {
			return Op{}, err
		}
		return Op{Verb: v, Name: name}, nil
	default:
		return Op{}, bot.ErrUnknownCommand
	}
}

// ParseTarget parses what follows /forget or /export: "me", "company", or an
// identifier bot.ParseIdentity accepts (a phone number in any common
// format, teams:<id>, whatsapp-lid:<n>@lid, whatsapp-bsuid:<id>, tenant:<id>).
func ParseTarget(s, defaultCC string) (Target, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "me", "myself":
		return Target{Scope: ScopeSelf}, nil
	case "company":
		return Target{Scope: ScopeCompany}, nil
	}
	id, err := bot.ParseIdentity(s, defaultCC)
	if err != nil {
		return Target{}, err
	}
	switch id.Kind {
	case bot.IDPhone:
		return Target{Scope: ScopePhone, ID: id}, nil
	case bot.IDLID:
		return Target{Scope: ScopeLID, ID: id}, nil
	case bot.IDBSUID:
		return Target{Scope: ScopeBSUID, ID: id}, nil
	case bot.IDTeams:
		return Target{Scope: ScopeTeams, ID: id}, nil
	case bot.IDTenant:
		return Target{Scope: ScopeTenant, ID: id}, nil
	default:
		return Target{}, fmt.Errorf("%w: unknown kind", bot.ErrBadIdentity)
	}
}

// CleanName validates a name given with /name: 1 to MaxNameLen bytes of
// valid UTF-8, no control characters; inner whitespace runs become one
// space.
func CleanName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: the name is not valid text", ErrUsage)
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", fmt.Errorf("%w: type /name followed by the name you want us to use", ErrUsage)
	}
	if len(s) > MaxNameLen {
		return "", fmt.Errorf("%w: a name is at most %d characters", ErrUsage, MaxNameLen)
	}
	for _, r := range s {
		// Format characters (bidi overrides) spoof names; joiners build emoji.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && r != '\u200d' && r != '\u200c' {
			return "", fmt.Errorf("%w: the name has a character that is not allowed", ErrUsage)
		}
	}
	return s, nil
}
