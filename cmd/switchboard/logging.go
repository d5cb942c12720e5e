package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Logging rules (see STYLE.md §7): fields, never format strings; a person
// appears in logs only as a subject id ("s_…", random), never as a phone
// number, JID, name, Teams UPN or message text; secrets never. Once a subject
// is erased, its id in old log lines points at nobody. Keep log retention at
// 30 days or less.

// newLogger returns the process logger writing to w in format ("json" or
// "console") at level.
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
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
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
