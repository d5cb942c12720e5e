package media

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"
)

func decodeThumb(t *testing.T, th Thumb) image.Image {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(th.JPEG))
	require.NoError(t, err)
	assert.Equal(t, th.Width, m.Bounds().Dx())
	assert.Equal(t, th.Height, m.Bounds().Dy())
	return m
}

func TestThumbnail(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		w, h int
	}{
		{"JPEGLandscape", encodeJPEG(t, photo(960, 720, 7), 90), 320, 240},
		{"JPEGPortrait", encodeJPEG(t, photo(450, 800, 8), 90), 180, 320},
		{"JPEGSmallNotEnlarged", encodeJPEG(t, photo(120, 90, 9), 90), 120, 90},
		{"JPEGGray", encodeJPEG(t, image.NewGray(image.Rect(0, 0, 800, 560)), 90), 320, 224},
		{"PNG", encodePNG(t, photo(700, 700, 10)), 320, 320},
		{"GIF", encodeGIF(t, photo(680, 340, 11)), 320, 160},
		{"WebPLossy", readTestdata(t, "lossy.webp"), 0, 0},
		{"WebPAlpha", readTestdata(t, "alpha.webp"), 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th, err := Thumbnail(tc.data, ThumbOptions{})
			require.NoError(t, err)
			assert.LessOrEqual(t, len(th.JPEG), DefaultThumbBytes)
			assert.LessOrEqual(t, max(th.Width, th.Height), DefaultThumbSide)
			if tc.w > 0 {
				assert.Equal(t, [2]int{tc.w, tc.h}, [2]int{th.Width, th.Height})
			}
			decodeThumb(t, th)
			uri := th.DataURI()
			assert.True(t, strings.HasPrefix(uri, "data:image/jpeg;base64,"))
			assert.Less(t, len(uri), 17<<10, "the data URI leaves room in a ~28 KB card")
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/jpeg;base64,"))
			require.NoError(t, err)
			assert.Equal(t, th.JPEG, raw)
		})
	}
}

// A noisy photo that would not fit at any quality at 320 px is shrunk
// until it fits the byte cap.
func TestThumbnailFitsByteCap(t *testing.T) {
	noisy := image.NewRGBA(image.Rect(0, 0, 320, 320))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noisy.Pix {
		noisy.Pix[i] = uint8(r.UintN(256)) | 0x0F
	}
	data := encodePNG(t, noisy)
	th, err := Thumbnail(data, ThumbOptions{MaxBytes: 6 << 10})
	require.NoError(t, err)
	assert.LessOrEqual(t, len(th.JPEG), 6<<10)
	assert.Less(t, th.Width, 320, "shrunk below the default side to fit")
	_, err = Thumbnail(data, ThumbOptions{MaxBytes: 200})
	assert.ErrorIs(t, err, ErrTooLarge, "a cap no JPEG can meet is an error, not a bigger thumbnail")
}

// Transparent pixels become white, not black, so a sticker or logo reads
// on the card in dark and light themes alike.
func TestThumbnailTransparentOnWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 800, 800))
	for y := range 800 {
		for x := range 800 {
			if x >= 400 {
				m.SetNRGBA(x, y, color.NRGBA{0, 0, 0xFF, 0xFF})
			} // left half fully transparent
		}
	}
	th, err := Thumbnail(encodePNG(t, m), ThumbOptions{})
	require.NoError(t, err)
	out := decodeThumb(t, th)
	r, g, b, _ := out.At(40, 160).RGBA()
	assert.Greater(t, min(r, g, b)>>8, uint32(0xF0), "transparent is white")
	r, g, b, _ = out.At(280, 160).RGBA()
	assert.Less(t, r>>8, uint32(0x30))
	assert.Greater(t, b>>8, uint32(0xC0), "opaque blue stays blue")
}

// isRed reports a pixel that is clearly red.
func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 > 0xC0 && g>>8 < 0x50 && b>>8 < 0x50
}

// EXIF orientation is honoured: the stored image's red top-left quadrant
// ends up where a photo viewer shows it.
func TestThumbnailEXIFOrientation(t *testing.T) {
	base := encodeJPEG(t, checker(640, 320), 92) // stored landscape, red top-left
	cases := []struct {
		orient     uint16
		order      string
		w, h       int
		redX, redY int // a point in the thumbnail that must be red
	}{
		{1, "II", 320, 160, 40, 40},
		{2, "MM", 320, 160, 280, 40},  // mirrored: red top-right
		{3, "II", 320, 160, 280, 120}, // upside down: red bottom-right
		{4, "MM", 320, 160, 40, 120},  // flipped: red bottom-left
		{5, "II", 160, 320, 40, 40},   // transposed: red top-left, portrait
		{6, "MM", 160, 320, 120, 40},  // rotated 90° clockwise: red top-right
		{7, "II", 160, 320, 120, 280}, // transverse: red bottom-right
		{8, "MM", 160, 320, 40, 280},  // rotated 90° anticlockwise: red bottom-left
	}
	for _, tc := range cases {
		t.Run(string(rune('0'+tc.orient))+tc.order, func(t *testing.T) {
			data := withOrientation(base, tc.orient, tc.order)
			require.Equal(t, int(tc.orient), exifOrientation(data))
			th, err := Thumbnail(data, ThumbOptions{})
			require.NoError(t, err)
			assert.Equal(t, [2]int{tc.w, tc.h}, [2]int{th.Width, th.Height})
			out := decodeThumb(t, th)
			assert.True(t, isRed(out.At(tc.redX, tc.redY)), "red at (%d,%d)", tc.redX, tc.redY)
			// The diagonally opposite point is blue.
			assert.False(t, isRed(out.At(tc.w-1-tc.redX, tc.h-1-tc.redY)))
		})
	}
	assert.Equal(t, 1, exifOrientation(base), "no EXIF")
	assert.Equal(t, 1, exifOrientation(withOrientation(base, 9, "II")), "out of range")
}

func TestThumbnailRefuses(t *testing.T) {
	_, err := Thumbnail(bombPNG(12000, 12000), ThumbOptions{})
	assert.ErrorIs(t, err, ErrTooManyPixels)
	_, err = Thumbnail(bombJPEG(t, 20000, 100), ThumbOptions{})
	assert.ErrorIs(t, err, ErrTooManyPixels)
	_, err = Thumbnail(samplePDF(), ThumbOptions{})
	assert.ErrorIs(t, err, ErrNoPreview)
	_, err = Thumbnail(sampleISO("heic", "mif1"), ThumbOptions{})
	assert.ErrorIs(t, err, ErrNoPreview)
	j := sampleJPEG(t)
	_, err = Thumbnail(j[:len(j)/3], ThumbOptions{})
	assert.ErrorIs(t, err, ErrDamaged)
	var me *Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "The image arrived damaged and cannot be opened, so it was not kept. Ask the customer to send it again.", me.Note())
}

func TestDimensions(t *testing.T) {
	w, h, err := Dimensions(TypePNG, bombPNG(50000, 40000))
	require.NoError(t, err)
	assert.Equal(t, [2]int{50000, 40000}, [2]int{w, h})
	w, h, err = Dimensions(TypeWebP, readTestdata(t, "lossy.webp"))
	require.NoError(t, err)
	assert.Positive(t, w*h)
	_, _, err = Dimensions(TypeJPEG, []byte{0xFF, 0xD8, 0xFF})
	assert.ErrorIs(t, err, ErrDamaged)
}

func FuzzDimensions(f *testing.F) {
	f.Add(sampleJPEG(f))
	f.Add(withOrientation(sampleJPEG(f), 6, "MM"))
	f.Add(encodePNG(f, photo(8, 8, 1)))
	f.Add(bombPNG(50000, 50000))
	f.Add(encodeGIF(f, photo(8, 8, 1)))
	f.Add(readTestdata(f, "lossy.webp"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range []string{TypeJPEG, TypePNG, TypeGIF, TypeWebP} {
			w, h, err := Dimensions(typ, data)
			if err == nil {
				assert.Positive(t, w)
				assert.Positive(t, h)
			}
		}
		o := exifOrientation(data)
		assert.True(t, o >= 1 && o <= 8)
		// Small caps keep the fuzzer from decoding big pictures.
		th, err := Thumbnail(data, ThumbOptions{Limits: Limits{MaxPixels: 1 << 18, MaxSide: 1024}})
		if err == nil {
			assert.LessOrEqual(t, len(th.JPEG), DefaultThumbBytes)
		}
	})
}

// heapSampler records the peak of live heap objects while it runs.
type heapSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			s.peak = max(s.peak, sample[0].Value.Uint64())
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	s.wg.Wait()
	return s.peak
}

// BenchmarkThumbnail4000x3000 thumbnails a 12-megapixel photo-like JPEG
// (as a phone sends it) and reports, besides time and allocations per op,
// the peak live heap above the idle baseline (peak-heap-MB, sampled every
// 200 µs with runtime/metrics) and the thumbnail's size (thumb-bytes).
// The decode-only run is the floor in the same process: what jpeg.Decode
// alone costs.
func BenchmarkThumbnail4000x3000(b *testing.B) {
	src := encodeJPEG(b, photo(4000, 3000, 42), 88)
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(src)); err != nil || cfg.Width != 4000 || cfg.Height != 3000 {
		b.Fatalf("source is not a 4000×3000 JPEG: %v %+v", err, cfg)
	}
	b.Logf("source JPEG: %d bytes", len(src))
	measure := func(b *testing.B, op func() int) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		runtime.GC()
		base := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(base)
		s := startHeapSampler()
		out := 0
		b.ResetTimer()
		for b.Loop() {
			out = op()
		}
		b.StopTimer()
		peak := s.Stop()
		b.ReportMetric(float64(peak-min(peak, base[0].Value.Uint64()))/(1<<20), "peak-heap-MB")
		if out > 0 {
			b.ReportMetric(float64(out), "thumb-bytes")
		}
	}
	b.Run("decode-only", func(b *testing.B) {
		measure(b, func() int {
			if _, err := jpeg.Decode(bytes.NewReader(src)); err != nil {
				b.Fatal(err)
			}
			return 0
		})
	})
	// The one-step alternative: x/image/draw's bilinear straight from the
	// decoded 12 MP image (its intermediate buffer is 320×3000 float64×4).
	b.Run("bilinear-one-step", func(b *testing.B) {
		measure(b, func() int {
			m, err := jpeg.Decode(bytes.NewReader(src))
			if err != nil {
				b.Fatal(err)
			}
			dst := image.NewRGBA(image.Rect(0, 0, 320, 240))
			draw.BiLinear.Scale(dst, dst.Bounds(), m, m.Bounds(), draw.Over, nil)
			var out bytes.Buffer
			if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 75}); err != nil {
				b.Fatal(err)
			}
			return out.Len()
		})
	})
	b.Run("thumbnail", func(b *testing.B) {
		measure(b, func() int {
			th, err := Thumbnail(src, ThumbOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return len(th.JPEG)
		})
	})
}
