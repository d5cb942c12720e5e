package bot_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/switchboard/switchboard/bot"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bot.Command
		ok   bool
	}{
		{name: "Export", in: "/export", want: bot.Command{Name: "export"}, ok: true},
		{name: "ForgetMeCase", in: "  /Forget ME ", want: bot.Command{Name: "forget", Args: "ME"}, ok: true},
		{name: "ArgsKeepSpacing", in: "/name  Ana  María", want: bot.Command{Name: "name", Args: "Ana  María"}, ok: true},
		{name: "Newline", in: "/profile\nset tone friendly", want: bot.Command{Name: "profile", Args: "set tone friendly"}, ok: true},
		{name: "NotCommandText", in: "hello /stop", ok: false},
		{name: "SlashAlone", in: "/", ok: false},
		{name: "Path", in: "/usr/bin/env", ok: false},
		{name: "Empty", in: "", ok: false},
		{name: "TooLong", in: "/x " + strings.Repeat("a", bot.MaxCommandLen), ok: false},
		{name: "LongName", in: "/" + strings.Repeat("a", 33), ok: false},
		{name: "InvalidUTF8", in: "/stop \xff", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := bot.ParseCommand(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/export", "/forget me", "/Forget +44 7700 900123", "/", "//", "/a\tb", "hello", "/name \u00a0x",
		"/help", "/Forget ME", "/export  +44 7700 900123 ", "/usr/bin", " /stop", "/a\u00a0b", "/x\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmd, ok := bot.ParseCommand(s)
		if !ok {
			assert.Equal(t, bot.Command{}, cmd)
			return
		}
		assert.NotEmpty(t, cmd.Name)
		assert.LessOrEqual(t, len(cmd.Name), 32)
		assert.Equal(t, strings.ToLower(cmd.Name), cmd.Name)
		assert.Equal(t, strings.TrimSpace(cmd.Args), cmd.Args)
		// Rendering the command again parses to the same command.
		again, ok := bot.ParseCommand("/" + cmd.Name + " " + cmd.Args)
		assert.True(t, ok)
		assert.Equal(t, cmd, again)
	})
}
