package bot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/switchboard/switchboard/bot"
)

func TestCapabilitiesTakesFile(t *testing.T) {
	cloud := bot.Capabilities{Files: true, MaxFile: 100 << 20, FileTypes: []bot.FileType{
		{MIME: "image/jpeg", Max: 5 << 20}, {MIME: "audio/ogg", Max: 16 << 20}, {MIME: "application/pdf"},
	}}
	any := bot.Capabilities{Files: true, MaxFile: 100 << 20}
	cases := []struct {
		name string
		caps bot.Capabilities
		mime string
		size int64
		want bool
	}{
		{"listed", cloud, "image/jpeg", 1 << 20, true},
		{"another spelling", cloud, "IMAGE/JPG", 1 << 20, true},
		{"parameters", cloud, "audio/ogg; codecs=opus", 1 << 20, true},
		{"an alias", cloud, "audio/opus", 1 << 20, true},
		{"at the type's limit", cloud, "image/jpeg", 5 << 20, true},
		{"over the type's limit", cloud, "image/jpeg", 5<<20 + 1, false},
		{"the channel's limit", cloud, "application/pdf", 100 << 20, true},
		{"over the channel's limit", cloud, "application/pdf", 100<<20 + 1, false},
		{"not listed", cloud, "application/zip", 10, false},
		{"no type", cloud, "", 10, false},
		{"any type", any, "application/zip", 10, true},
		{"any type, too large", any, "application/zip", 100<<20 + 1, false},
		{"no files", bot.Capabilities{}, "image/jpeg", 10, false},
		{"no files, no limit", bot.Capabilities{FileTypes: nil}, "application/zip", 0, false},
		{"no limit at all", bot.Capabilities{Files: true}, "application/zip", 1 << 40, true},
		{"negative size", any, "application/zip", -1, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.caps.TakesFile(tc.mime, tc.size), tc.name)
	}
}
