package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, level, format string
		contains, absent    []string
		err                 string
	}{
		{name: "JSONInfo", level: "info", format: LogJSON, contains: []string{`"level":"info"`, `"message":"shown"`, `"n":1`}, absent: []string{"hidden"}},
		{name: "JSONDebug", level: "debug", format: LogJSON, contains: []string{"hidden", "shown"}},
		{name: "Console", level: "info", format: LogConsole, contains: []string{"INF", "shown", "n=1"}, absent: []string{`"level"`, "\x1b["}},
		{name: "ErrLevel", level: "loud", format: LogJSON, err: "log level"},
		{name: "ErrFormat", level: "info", format: "xml", err: "log format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			log, err := newLogger(&b, tc.level, tc.format)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			log.Debug().Msg("hidden")
			log.Info().Int("n", 1).Msg("shown")
			for _, s := range tc.contains {
				assert.Contains(t, b.String(), s)
			}
			for _, s := range tc.absent {
				assert.NotContains(t, b.String(), s)
			}
		})
	}
}

func TestResolveLogFormat(t *testing.T) {
	assert.Equal(t, LogJSON, resolveLogFormat("", &bytes.Buffer{}))
	assert.Equal(t, LogConsole, resolveLogFormat(LogConsole, &bytes.Buffer{}))
	f, err := os.CreateTemp(t.TempDir(), "log")
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, LogJSON, resolveLogFormat("", f), "a regular file is not a terminal")
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		assert.Equal(t, LogConsole, resolveLogFormat("", tty))
	}
}

func TestComponentLoggerFloor(t *testing.T) {
	var b bytes.Buffer
	base := zerolog.New(&b).Level(zerolog.TraceLevel)
	wm := componentLogger(base, "whatsmeow", zerolog.WarnLevel)
	wm.Debug().Msg("debug-from-library")
	wm.Info().Msg("info-from-library")
	wm.Warn().Msg("warn-from-library")
	assert.NotContains(t, b.String(), "debug-from-library")
	assert.NotContains(t, b.String(), "info-from-library")
	assert.Contains(t, b.String(), `"component":"whatsmeow"`)
	assert.Contains(t, b.String(), "warn-from-library")

	// A quieter process level is kept.
	b.Reset()
	quiet := componentLogger(zerolog.New(&b).Level(zerolog.ErrorLevel), "whatsmeow", zerolog.WarnLevel)
	quiet.Warn().Msg("warn-from-library")
	assert.Empty(t, b.String())
}

func TestScrubJSON(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "JID", in: `{"message":"failed to decrypt from 447700900123@s.whatsapp.net"}`, want: `{"message":"failed to decrypt from [jid]"}`},
		{name: "DeviceJID", in: `{"jid":"447700900123:12@s.whatsapp.net","x":1}`, want: `{"jid":"[jid]","x":1}`},
		{name: "LID", in: `{"from":"88112233445566@lid"}`, want: `{"from":"[jid]"}`},
		{name: "Phone", in: `{"message":"call +447700900123 now"}`, want: `{"message":"call [phone] now"}`},
		{name: "PhoneSpaced", in: `{"message":"+44 7700 900123"}`, want: `{"message":"[phone]"}`},
		{name: "NumbersOutsideStrings", in: `{"n":447700900123,"t":1764340000}`, want: `{"n":447700900123,"t":1764340000}`},
		{name: "TimezoneKept", in: `{"time":"2026-11-28T14:47:10+01:00"}`, want: `{"time":"2026-11-28T14:47:10+01:00"}`},
		{name: "ShortPlusKept", in: `{"v":"a+1234"}`, want: `{"v":"a+1234"}`},
		{name: "EscapesKept", in: `{"m":"\"447700900123@lid\"\n\u0041"}`, want: `{"m":"\"[jid]\"\n\u0041"}`},
		{name: "NoMatchAcrossUnicodeEscape", in: `{"m":"\u123456789@lid"}`, want: `{"m":"\u1234[jid]"}`},
		{name: "Unterminated", in: `{"m":"+447700900123`, want: `{"m":"[phone]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(scrubJSON([]byte(tc.in))))
		})
	}
}

func TestScrubWriterInLogger(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, "debug", LogJSON)
	require.NoError(t, err)
	wm := componentLogger(log, "whatsmeow", zerolog.WarnLevel)
	wm.Warn().Msg("Failed to decrypt message from 447700900123@s.whatsapp.net")
	log.Info().Str("to", "+447700900123").Msg("x")
	assert.NotContains(t, b.String(), "447700900123")
	assert.Contains(t, b.String(), "[jid]")
	assert.Contains(t, b.String(), "[phone]")
}

func FuzzScrubJSON(f *testing.F) {
	for _, s := range []string{
		`{"message":"447700900123@s.whatsapp.net"}`, `{"m":"+44 7700 900123","n":1}`, `{"m":"\u12345678@lid"}`,
		`{"a":["+447700900123",{"b":"1@lid"}]}`, `"`, `\`, `{"m":"\"}`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := scrubJSON([]byte(in))
		if json.Valid([]byte(in)) {
			assert.True(t, json.Valid(out), "scrubbing broke valid JSON: %q -> %q", in, out)
		}
		assert.Equal(t, string(out), string(scrubJSON(out)), "not idempotent")
		assert.Equal(t, strings.Count(in, `"`), strings.Count(string(out), `"`))
		assert.Equal(t, strings.Count(in, `\`), strings.Count(string(out), `\`))
	})
}
