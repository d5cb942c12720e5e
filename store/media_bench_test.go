package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard/switchboard/bot"
)

// BenchmarkMediaSave16MB seals a 16 MB file (the media cap) to disk:
// encryption, fsync, rename and the row update. Compare with
// BenchmarkMediaPlainWrite16MB, the same bytes written and fsynced in the
// clear, measured in the same run.
func BenchmarkMediaSave16MB(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	f := newFixture(b, db, "+447700900123", "Ada", "video", "draft")
	data := plantedBytes(16<<20, "B", 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		id := mediaFor(b, db, f, "v")
		if err := db.SaveMediaBytes(ctx, id, bot.MediaContent{MIME: "video/mp4"}, bytes.NewReader(data), 32<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMediaPlainWrite16MB(b *testing.B) {
	dir := b.TempDir()
	data := plantedBytes(16<<20, "B", 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p := filepath.Join(dir, "plain")
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
	}
}

// BenchmarkMediaOpen16MB decrypts a sealed 16 MB file through OpenMedia.
func BenchmarkMediaOpen16MB(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	f := newFixture(b, db, "+447700900123", "Ada", "video", "draft")
	data := plantedBytes(16<<20, "B", 1)
	id := mediaFor(b, db, f, "v")
	if err := db.SaveMediaBytes(ctx, id, bot.MediaContent{MIME: "video/mp4"}, bytes.NewReader(data), 32<<20); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rc, err := db.OpenMedia(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		_ = rc.Close()
	}
}
