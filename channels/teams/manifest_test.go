package teams

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// testLinks are the business's links a manifest needs.
var testLinks = Manifest{PrivacyURL: "https://brightwater.example/privacy", TermsURL: "https://brightwater.example/terms"}

func TestWriteManifest(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteManifest(&buf, testAppID, testLinks))
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		files[f.Name] = b
	}
	require.Len(t, files, 3)

	path := filepath.Join("testdata", "manifest.json")
	if *update {
		require.NoError(t, os.WriteFile(path, files["manifest.json"], 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create golden files")
	assert.Equal(t, string(want), string(files["manifest.json"]))

	for name, size := range map[string]int{"color.png": 192, "outline.png": 32} {
		img, err := png.Decode(bytes.NewReader(files[name]))
		require.NoError(t, err, name)
		assert.Equal(t, size, img.Bounds().Dx(), name)
		assert.Equal(t, size, img.Bounds().Dy(), name)
	}
	outline, err := png.Decode(bytes.NewReader(files["outline.png"]))
	require.NoError(t, err)
	white, clear := 0, 0
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			r, g, b, a := outline.At(x, y).RGBA()
			switch {
			case a == 0:
				clear++
			case r == 0xffff && g == 0xffff && b == 0xffff && a == 0xffff:
				white++
			default:
				t.Fatalf("outline pixel (%d,%d) is neither white nor transparent", x, y)
			}
		}
	}
	assert.Positive(t, white)
	assert.Positive(t, clear)

	var again bytes.Buffer
	require.NoError(t, WriteManifest(&again, testAppID, testLinks))
	assert.Equal(t, buf.Bytes(), again.Bytes(), "packages are reproducible")

	var doc struct {
		Developer map[string]string `json:"developer"`
		Bots      []struct {
			CommandLists []struct {
				Scopes   []string  `json:"scopes"`
				Commands []command `json:"commands"`
			} `json:"commandLists"`
		} `json:"bots"`
	}
	require.NoError(t, json.Unmarshal(files["manifest.json"], &doc))
	assert.Equal(t, "https://brightwater.example/", doc.Developer["websiteUrl"], "the website defaults to the privacy notice's site")
	assert.Equal(t, "https://brightwater.example/privacy", doc.Developer["privacyUrl"])
	assert.Equal(t, "https://brightwater.example/terms", doc.Developer["termsOfUseUrl"])
	assert.NotContains(t, string(files["manifest.json"]), "github.com", "no placeholder links")
	require.Len(t, doc.Bots, 1)
	lists := doc.Bots[0].CommandLists
	require.Len(t, lists, 2)
	assert.Equal(t, []string{"personal"}, lists[0].Scopes)
	assert.Equal(t, []string{"team", "groupChat"}, lists[1].Scopes)
	for _, l := range lists {
		assert.LessOrEqual(t, len(l.Commands), 10)
		for _, c := range l.Commands {
			assert.LessOrEqual(t, len(c.Title), 32, c.Title)
			assert.LessOrEqual(t, len(c.Description), 128, c.Title)
			cmd, ok := bot.ParseCommand(c.Title)
			assert.True(t, ok, "%q is a command the bot understands", c.Title)
			assert.NotEmpty(t, cmd.Name)
		}
	}
}

func TestWriteManifestRefuses(t *testing.T) {
	tests := []struct {
		name  string
		appID string
		m     Manifest
	}{
		{name: "NoAppID", appID: ""},
		{name: "NotGUID", appID: "switchboard"},
		{name: "LongName", appID: testAppID, m: Manifest{Name: "A name that is much too long for Teams", PrivacyURL: "https://example.com/privacy", TermsURL: "https://example.com/terms"}},
		{name: "HTTPLink", appID: testAppID, m: Manifest{PrivacyURL: "http://example.com/privacy", TermsURL: "https://example.com/terms"}},
		{name: "NoPrivacyURL", appID: testAppID, m: Manifest{TermsURL: "https://example.com/terms"}},
		{name: "NoTermsURL", appID: testAppID, m: Manifest{PrivacyURL: "https://example.com/privacy"}},
		{name: "BadWebsite", appID: testAppID, m: Manifest{PrivacyURL: "https://example.com/privacy", TermsURL: "https://example.com/terms", WebsiteURL: "example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Error(t, WriteManifest(io.Discard, tc.appID, tc.m))
		})
	}
}
