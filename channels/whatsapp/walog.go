package whatsapp

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/rs/zerolog"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// redactDigits matches runs of five or more digits: phone numbers, LIDs and
// the user part of JIDs in whatsmeow's log lines.
var redactDigits = regexp.MustCompile(`[0-9]{5,}`)

// waLogger routes whatsmeow's printf-style logging through zerolog with the
// JID digits blanked. whatsmeow's lines name senders by JID (phone numbers)
// even at Warn, and its Debug lines dump whole stanzas with push names, so
// the level is Warn unless the operator lowers it, and what passes is
// redacted either way.
type waLogger struct {
	log zerolog.Logger
}

// newWALogger returns a whatsmeow logger writing to log at level and above.
func newWALogger(log zerolog.Logger, level zerolog.Level) waLog.Logger {
	return waLogger{log: log.Level(level).With().Str("component", "whatsmeow").Logger()}
}

func (w waLogger) emit(e *zerolog.Event, msg string, args []any) {
	if e == nil {
		return
	}
	e.Msg(redactDigits.ReplaceAllString(fmt.Sprintf(msg, args...), "…"))
}

func (w waLogger) Warnf(msg string, args ...any)  { w.emit(w.log.Warn(), msg, args) }
func (w waLogger) Errorf(msg string, args ...any) { w.emit(w.log.Error(), msg, args) }
func (w waLogger) Infof(msg string, args ...any)  { w.emit(w.log.Info(), msg, args) }
func (w waLogger) Debugf(msg string, args ...any) { w.emit(w.log.Debug(), msg, args) }

func (w waLogger) Sub(module string) waLog.Logger {
	return waLogger{log: w.log.With().Str("module", module).Logger()}
}

// ctxLogger returns ctx carrying a zerolog logger for the lines whatsmeow
// writes through zerolog.Ctx(ctx) (some at Error level with JIDs in their
// fields): they are relayed to log at level and above, with every string
// field's digit runs redacted.
func ctxLogger(ctx context.Context, log zerolog.Logger, level zerolog.Level) context.Context {
	relay := zerolog.New(relayWriter{log: log.With().Str("component", "whatsmeow").Logger()}).Level(level)
	return relay.WithContext(ctx)
}

// relayWriter re-logs zerolog JSON lines through another logger, redacted.
type relayWriter struct {
	log zerolog.Logger
}

func (w relayWriter) Write(p []byte) (int, error) {
	var fields map[string]any
	if err := json.Unmarshal(p, &fields); err != nil {
		w.log.Warn().Msg("unparsable whatsmeow log line dropped")
		return len(p), nil
	}
	level, err := zerolog.ParseLevel(fmt.Sprint(fields[zerolog.LevelFieldName]))
	if err != nil || level == zerolog.NoLevel {
		level = zerolog.WarnLevel
	}
	msg, _ := fields[zerolog.MessageFieldName].(string)
	delete(fields, zerolog.LevelFieldName)
	delete(fields, zerolog.MessageFieldName)
	delete(fields, zerolog.TimestampFieldName)
	for k, v := range fields {
		if s, ok := v.(string); ok {
			fields[k] = redactDigits.ReplaceAllString(s, "…")
		} else if v != nil {
			fields[k] = redactDigits.ReplaceAllString(fmt.Sprint(v), "…")
		}
	}
	w.log.WithLevel(level).Fields(fields).Msg(redactDigits.ReplaceAllString(msg, "…"))
	return len(p), nil
}
