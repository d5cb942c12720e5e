package main

import (
	"bytes"
	"os"
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
