package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/rs/zerolog"
)

// Logging rules (see STYLE.md §7): fields, never format strings; a person
// appears in logs only as a subject id ("s_…", random), never as a phone
// number, JID, name, Teams UPN or message text; secrets never. Once a subject
// is erased, its id in old log lines points at nobody. Keep log retention at
// 30 days or less.

// newLogger returns the process logger writing to w in format ("json" or
// "console") at level, behind a scrubWriter.
func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log level: %w", err)
	}
	switch format {
	case LogJSON:
	case LogConsole:
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !isTerminal(w)}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want json or console", format)
	}
	// The scrubber sees zerolog's JSON, before the console writer formats it.
	return zerolog.New(scrubWriter{w}).Level(lvl).With().Timestamp().Logger(), nil
}

// resolveLogFormat turns an empty format into console on a terminal, else json.
func resolveLogFormat(format string, w io.Writer) string {
	if format != "" {
		return format
	}
	if isTerminal(w) {
		return LogConsole
	}
	return LogJSON
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// componentLogger returns log tagged with component, never more verbose than
// floor. Third-party libraries whose debug lines carry personal data run
// with floor Warn: whatsmeow's logger is
// waLog.Zerolog(componentLogger(log, "whatsmeow", zerolog.WarnLevel)).
func componentLogger(log zerolog.Logger, component string, floor zerolog.Level) zerolog.Logger {
	l := log.With().Str("component", component).Logger()
	if log.GetLevel() < floor {
		l = l.Level(floor)
	}
	return l
}

// scrubWriter is the last line of defence behind the logging rules: it
// rewrites, inside JSON string values only, anything shaped like a WhatsApp
// JID ("447700900123@s.whatsapp.net", "…@lid") or an E.164 phone number
// ("+447700900123"), so a library's log line (whatsmeow names JIDs) does not
// leak them. Numbers outside strings (timestamps, counts) are left alone, so
// the line stays valid JSON. It expects one JSON event per Write, as zerolog
// writes; it does not catch names or message text, which code must never log.
type scrubWriter struct{ w io.Writer }

// Redaction marks written in place of what scrubWriter removes.
const (
	redactedJID   = "[jid]"
	redactedPhone = "[phone]"
)

func (s scrubWriter) Write(p []byte) (int, error) {
	if !bytes.ContainsAny(p, "@+") {
		return s.w.Write(p)
	}
	if _, err := s.w.Write(scrubJSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// jidPattern matches a WhatsApp JID user part with its server; phonePattern
// matches an E.164 number not glued to more digits.
var (
	jidPattern   = regexp.MustCompile(`[0-9]{5,20}(?:[.:][0-9]{1,5})*@(?:s\.whatsapp\.net|c\.us|lid|g\.us|broadcast|newsletter|bot|hosted(?:\.lid)?)`)
	phonePattern = regexp.MustCompile(`\+[0-9][0-9 \-]{6,18}[0-9]`)
)

// scrubJSON returns p with JIDs and phone numbers replaced inside JSON
// strings. Input that is not JSON is scrubbed inside whatever its double
// quotes enclose, which never adds or removes a quote or backslash.
func scrubJSON(p []byte) []byte {
	out := make([]byte, 0, len(p))
	i := 0
	for i < len(p) {
		if p[i] != '"' {
			out = append(out, p[i])
			i++
			continue
		}
		// A string: find its closing quote, skipping escapes.
		j := i + 1
		for j < len(p) && p[j] != '"' {
			if p[j] == '\\' && j+1 < len(p) {
				j++
			}
			j++
		}
		out = append(out, '"')
		out = append(out, scrubString(p[i+1:min(j, len(p))])...)
		if j < len(p) {
			out = append(out, '"')
		}
		i = j + 1
	}
	return out
}

// scrubString redacts one string's raw (still escaped) contents: the runs
// between escape sequences, which are copied untouched.
func scrubString(s []byte) []byte {
	if bytes.IndexByte(s, '\\') < 0 {
		return scrubRun(s)
	}
	out := make([]byte, 0, len(s))
	start := 0
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			i++
			continue
		}
		out = append(out, scrubRun(s[start:i])...)
		n := 2
		if i+1 < len(s) && s[i+1] == 'u' {
			n = 6
		}
		end := min(i+n, len(s))
		out = append(out, s[i:end]...)
		i, start = end, end
	}
	return append(out, scrubRun(s[start:])...)
}

// scrubRun redacts a run of string bytes without escapes.
func scrubRun(s []byte) []byte {
	if bytes.IndexByte(s, '@') >= 0 {
		s = jidPattern.ReplaceAllLiteral(s, []byte(redactedJID))
	}
	if bytes.IndexByte(s, '+') >= 0 {
		s = phonePattern.ReplaceAllFunc(s, func(m []byte) []byte {
			digits := 0
			for _, c := range m {
				if c >= '0' && c <= '9' {
					digits++
				}
			}
			if digits < 8 || digits > 15 {
				return m
			}
			return []byte(redactedPhone)
		})
	}
	return s
}
