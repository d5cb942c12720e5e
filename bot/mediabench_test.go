package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/media/mediatest"
)

// BenchmarkMediaWorkerPhoto measures one photo through the media worker:
// fetched (from memory: the download seam), checked, thumbnailed, sealed
// into its file (fsynced) and recorded, against the same bytes written to
// a plain file with fsync, in the same run. The source is a 4000×3000
// JPEG of about 3 MB, as phones send them.
func BenchmarkMediaWorkerPhoto(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, mediatest.Photo(4000, 3000, 42), &jpeg.Options{Quality: 88}); err != nil {
		b.Fatal(err)
	}
	src := buf.Bytes()
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(src)); err != nil || cfg.Width != 4000 {
		b.Fatalf("not a 4000×3000 JPEG: %v", err)
	}
	b.Logf("source JPEG: %d bytes", len(src))
	b.Run("worker", func(b *testing.B) {
		e := newWorkerEnv(b, nil)
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		ctx := context.Background()
		var ids []int64
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			ids = append(ids, e.add(bot.KindImage, "image/jpeg", src))
			b.StartTimer()
			if n, err := e.w.RunOnce(ctx); err != nil || n != 1 {
				b.Fatalf("round: %d, %v", n, err)
			}
		}
		b.StopTimer()
		m, err := e.db.FindMedia(ctx, ids[len(ids)-1])
		if err != nil || m.State != bot.MediaFetched || len(m.Thumb) == 0 {
			b.Fatalf("the photo was not kept with a thumbnail: %+v %v", m.State, err)
		}
		b.ReportMetric(float64(len(m.Thumb)), "thumb-bytes")
	})
	b.Run("inspect-only", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		m := bot.Media{Kind: bot.KindImage, MIME: "image/jpeg", Size: int64(len(src))}
		for b.Loop() {
			if _, err := (media.Inspector{}).Inspect(m, src); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain-write-fsync", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(int64(len(src)))
		for i := 0; b.Loop(); i++ {
			f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(src); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			_ = f.Close()
		}
	})
}
