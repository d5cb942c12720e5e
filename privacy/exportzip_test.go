package privacy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestMediaZipPath(t *testing.T) {
	cases := []struct {
		m    bot.Media
		want string
	}{
		{bot.Media{ID: 7, MIME: "image/jpeg"}, "media/7.jpg"},
		{bot.Media{ID: 8, MIME: "audio/ogg"}, "media/8.ogg"},
		{bot.Media{ID: 9, MIME: "application/pdf", FileName: "Quote for Mrs Smith.pdf"}, "media/9-Quote_for_Mrs_Smith.pdf"},
		{bot.Media{ID: 10, MIME: "application/pdf", FileName: "quote"}, "media/10-quote.pdf"},
		{bot.Media{ID: 11, MIME: "application/x-unknown", FileName: "../../etc/passwd"}, "media/11-passwd"},
		{bot.Media{ID: 12, MIME: "text/plain", FileName: `C:\Users\ada\..\notes.txt`}, "media/12-notes.txt"},
		{bot.Media{ID: 13, MIME: "application/x-unknown", FileName: "...hidden"}, "media/13-hidden"},
		{bot.Media{ID: 14, MIME: "application/x-unknown"}, "media/14.bin"},
		{bot.Media{ID: 15, MIME: "image/png", FileName: "Фото.png"}, "media/15-____.png"},
		{bot.Media{ID: 16, MIME: "application/pdf", FileName: strings.Repeat("a", 300) + ".pdf"}, "media/16-" + strings.Repeat("a", 80) + ".pdf"},
	}
	for _, tc := range cases {
		got := mediaZipPath(tc.m)
		assert.Equal(t, tc.want, got)
		assert.NotContains(t, strings.TrimPrefix(got, "media/"), "/")
		assert.NotContains(t, got, "..")
	}
}

type fakeMedia map[int64][]byte

func (f fakeMedia) OpenMedia(_ context.Context, id int64) (io.ReadCloser, error) {
	b, ok := f[id]
	if !ok {
		return nil, errors.New("media gone")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func TestWriteExportZip(t *testing.T) {
	at := time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)
	files := []zipFile{{id: 1, path: "media/1.jpg", mime: "image/jpeg"}, {id: 2, path: "media/2-notes.txt", mime: "text/plain"}}
	src := fakeMedia{1: []byte("\xFF\xD8jpeg"), 2: []byte("notes notes notes")}
	var buf bytes.Buffer
	n, err := writeExportZip(context.Background(), src, &buf, strings.NewReader(`{"schema":"x"}`), files, at)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	got := unzip(t, buf.Bytes())
	assert.Equal(t, map[string][]byte{ExportZipJSON: []byte(`{"schema":"x"}`), "media/1.jpg": src[1], "media/2-notes.txt": src[2]}, got)

	_, err = writeExportZip(context.Background(), fakeMedia{1: src[1]}, io.Discard, strings.NewReader("{}"), files, at)
	assert.ErrorContains(t, err, "media 2", "a file that cannot be opened fails the export rather than leave it out")
	_, err = writeExportZip(context.Background(), nil, io.Discard, strings.NewReader("{}"), files, at)
	assert.Error(t, err)
	buf.Reset()
	n, err = writeExportZip(context.Background(), nil, &buf, strings.NewReader("{}"), nil, at)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func FuzzMediaZipPath(f *testing.F) {
	for _, s := range []string{"", "a.pdf", "../../x", `..\..\y`, "...", "Фото.png", "a/b/c.txt", "\x00\xff", strings.Repeat("x", 500)} {
		f.Add(int64(1), s, "application/pdf")
	}
	f.Fuzz(func(t *testing.T, id int64, name, mime string) {
		p := mediaZipPath(bot.Media{ID: id, FileName: name, MIME: mime})
		rest, ok := strings.CutPrefix(p, "media/")
		require.True(t, ok)
		assert.NotContains(t, rest, "/")
		assert.NotContains(t, rest, `\`)
		assert.NotContains(t, p, "..")
		assert.LessOrEqual(t, len(p), 6+20+1+80+5)
		assert.Regexp(t, `^media/-?[0-9]+[^/]*$`, p)
	})
}
