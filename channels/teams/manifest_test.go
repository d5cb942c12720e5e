package teams

import (
	"archive/zip"
	"bytes"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteManifest(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteManifest(&buf, testAppID, Manifest{}))
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
	require.NoError(t, WriteManifest(&again, testAppID, Manifest{}))
	assert.Equal(t, buf.Bytes(), again.Bytes(), "packages are reproducible")
}

func TestWriteManifestRefuses(t *testing.T) {
	tests := []struct {
		name  string
		appID string
		m     Manifest
	}{
		{name: "NoAppID", appID: ""},
		{name: "NotGUID", appID: "switchboard"},
		{name: "LongName", appID: testAppID, m: Manifest{Name: "A name that is much too long for Teams"}},
		{name: "HTTPLink", appID: testAppID, m: Manifest{PrivacyURL: "http://example.com/privacy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Error(t, WriteManifest(io.Discard, tc.appID, tc.m))
		})
	}
}
