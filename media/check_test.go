package media

import (
	"crypto/sha256"
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestCheckAccepts(t *testing.T) {
	jpg := sampleJPEG(t)
	cases := []struct {
		name     string
		kind     bot.MessageKind
		declared string
		data     []byte
		want     string
	}{
		{"ImageJPEG", bot.KindImage, "image/jpeg", jpg, TypeJPEG},
		{"ImageJPGAlias", bot.KindImage, "image/jpg", jpg, TypeJPEG},
		{"ImageNoDeclared", bot.KindImage, "", jpg, TypeJPEG},
		{"ImageOctetStream", bot.KindImage, "application/octet-stream", jpg, TypeJPEG},
		{"ImagePNGLabelledJPEG", bot.KindImage, "image/jpeg", encodePNG(t, photo(32, 32, 1)), TypePNG},
		{"StickerWebP", bot.KindSticker, "image/webp", readTestdata(t, "lossy.webp"), TypeWebP},
		{"VoiceOpus", bot.KindVoice, "audio/ogg; codecs=opus", sampleOpus(), TypeOggAudio},
		{"VoiceOpusAlias", bot.KindVoice, "audio/opus", sampleOpus(), TypeOggAudio},
		{"AudioM4A", bot.KindAudio, "audio/mp4", sampleISO("M4A ", "M4A ", "isom"), TypeM4A},
		{"AudioM4AAsIsom", bot.KindAudio, "audio/x-m4a", sampleISO("isom", "isom"), TypeMP4},
		{"AudioAMR", bot.KindAudio, "audio/amr", []byte("#!AMR\n\x3c\x48\xf5\x1f"), TypeAMR},
		{"Audio3GP", bot.KindAudio, "audio/3gpp", sampleISO("3gp4", "3gp4"), Type3GPP},
		{"VideoMP4", bot.KindVideo, "video/mp4", sampleISO("isom", "isom", "mp41"), TypeMP4},
		{"Video3GP", bot.KindVideo, "video/3gpp", sampleISO("3gp5", "3gp5"), Type3GPP},
		{"DocumentPDF", bot.KindDocument, "application/pdf", samplePDF(), TypePDF},
		{"DocumentDOCX", bot.KindDocument, TypeDOCX, sampleDOCX(t), TypeDOCX},
		{"DocumentDOCXUndeclared", bot.KindDocument, "", sampleDOCX(t), TypeDOCX},
		{"DocumentODT", bot.KindDocument, TypeODT, sampleODT(t), TypeODT},
		{"DocumentLegacyWord", bot.KindDocument, "application/msword", append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), make([]byte, 504)...), "application/msword"},
		{"DocumentCSV", bot.KindDocument, "text/csv", []byte("name,qty\nboiler,1\n"), "text/csv"},
		{"DocumentUnknownType", bot.KindDocument, "application/x-sketch", []byte{0x00, 0x01, 0x02, 0xFE}, "application/x-sketch"},
		{"DocumentImage", bot.KindDocument, "image/jpeg", jpg, TypeJPEG},
		{"DocumentJPEGAfterEOI", bot.KindDocument, "image/jpeg", append(jpg, []byte("motion-photo trailer")...), TypeJPEG},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Check(tc.kind, tc.declared, tc.data, Expect{Size: int64(len(tc.data)), SHA256: sum(tc.data)}, Limits{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, info.MIME)
			assert.Equal(t, int64(len(tc.data)), info.Size)
			assert.Equal(t, sha256.Sum256(tc.data), info.SHA256)
		})
	}
	info, err := Check(bot.KindImage, "image/jpeg", jpg, Expect{}, Limits{})
	require.NoError(t, err)
	assert.Equal(t, [2]int{640, 480}, [2]int{info.Width, info.Height})
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestCheckRefuses(t *testing.T) {
	jpg := sampleJPEG(t)
	png := encodePNG(t, photo(64, 48, 1))
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 100)...)
	cases := []struct {
		name     string
		kind     bot.MessageKind
		declared string
		data     []byte
		exp      Expect
		lim      Limits
		reason   error
		note     string
	}{
		{"Empty", bot.KindVoice, "audio/ogg", nil, Expect{}, Limits{}, ErrEmpty,
			"The voice note arrived empty (0 bytes), so there is nothing to show. Ask the customer to send it again."},
		{"TooLargeMedia", bot.KindVideo, "video/mp4", make([]byte, 2<<20+5), Expect{}, Limits{Media: 2 << 20}, ErrTooLarge,
			"The video is 2.0 MB, over the 2 MB limit for a video, so it was not kept."},
		{"TooLargeDocument", bot.KindDocument, "application/pdf", make([]byte, 3<<20), Expect{}, Limits{Document: 1 << 20}, ErrTooLarge,
			"The document is 3 MB, over the 1 MB limit for a document, so it was not kept."},
		{"ShorterThanDeclared", bot.KindImage, "image/jpeg", jpg, Expect{Size: int64(len(jpg)) + 10}, Limits{}, ErrTruncated,
			"The image arrived incomplete (cut off part-way), so it was not kept. Ask the customer to send it again."},
		{"ChecksumDiffers", bot.KindImage, "image/jpeg", jpg, Expect{SHA256: sum([]byte("other"))}, Limits{}, ErrChecksum,
			"The image did not arrive intact (it differs from what WhatsApp announced), so it was not kept. Ask the customer to send it again."},
		{"JPEGCut", bot.KindImage, "image/jpeg", jpg[:len(jpg)/2], Expect{}, Limits{}, ErrTruncated, ""},
		{"PNGCut", bot.KindImage, "image/png", png[:len(png)-5], Expect{}, Limits{}, ErrTruncated, ""},
		{"OpusCut", bot.KindVoice, "audio/ogg", sampleOpus()[:700], Expect{}, Limits{}, ErrTruncated, ""},
		{"MP4CutBeforeMoov", bot.KindVideo, "video/mp4", sampleISO("isom", "isom")[:24], Expect{}, Limits{}, ErrTruncated, ""},
		{"MP4CutInMdat", bot.KindVideo, "video/mp4", sampleISO("isom", "isom")[:500], Expect{}, Limits{}, ErrTruncated, ""},
		{"PDFCut", bot.KindDocument, "application/pdf", samplePDF()[:40], Expect{}, Limits{}, ErrTruncated,
			"The document arrived incomplete (cut off part-way), so it was not kept. Ask the customer to send it again."},
		{"DOCXCut", bot.KindDocument, TypeDOCX, sampleDOCX(t)[:200], Expect{}, Limits{}, ErrTruncated, ""},
		{"WebPCut", bot.KindSticker, "image/webp", readTestdata(t, "lossy.webp")[:1000], Expect{}, Limits{}, ErrTruncated, ""},
		{"JPEGDamaged", bot.KindImage, "image/jpeg", append(append([]byte{}, jpg[:4]...), 0x00, 0x00, 0x00), Expect{}, Limits{}, ErrDamaged,
			"The image arrived damaged and cannot be opened, so it was not kept. Ask the customer to send it again."},
		{"ImageThatIsPDF", bot.KindImage, "image/jpeg", samplePDF(), Expect{}, Limits{}, ErrTypeMismatch,
			"The image was sent as a JPEG image but its content is a PDF document, so it was not kept."},
		{"ImageUndeclaredThatIsHTML", bot.KindImage, "", []byte("<html><script>alert(1)</script></html>"), Expect{}, Limits{}, ErrTypeMismatch,
			"The image is not an image: its content is a web page, so it was not kept."},
		{"PDFThatIsProgram", bot.KindDocument, "application/pdf", exe, Expect{}, Limits{}, ErrTypeMismatch,
			"The document was sent as a PDF document but its content is a Windows program, so it was not kept."},
		{"WordThatIsSpreadsheet", bot.KindDocument, TypeDOCX, sampleXLSX(t), Expect{}, Limits{}, ErrTypeMismatch,
			"The document was sent as a Word document but its content is an Excel spreadsheet, so it was not kept."},
		{"WordThatIsPlainZip", bot.KindDocument, TypeDOCX, sampleZIP(t, [2]string{"a.txt", "x"}), Expect{}, Limits{}, ErrTypeMismatch, ""},
		{"VoiceThatIsVideoWebP", bot.KindVoice, "audio/ogg", readTestdata(t, "lossy.webp"), Expect{}, Limits{}, ErrTypeMismatch, ""},
		{"VideoThatIsAudio", bot.KindVideo, "video/mp4", sampleOpus(), Expect{}, Limits{}, ErrTypeMismatch, ""},
		{"AudioThatIsText", bot.KindAudio, "audio/mpeg", []byte("just some words"), Expect{}, Limits{}, ErrTypeMismatch,
			"The audio file was sent as MP3 audio but its content is plain text, so it was not kept."},
		{"JPEGThatIsProgram", bot.KindDocument, "image/jpeg", exe, Expect{}, Limits{}, ErrTypeMismatch, ""},
		{"BombPNG", bot.KindImage, "image/png", bombPNG(50000, 50000), Expect{}, Limits{}, ErrTooManyPixels,
			"The image is 50000 × 50000 pixels, too large to process safely, so it was not kept."},
		{"BombSide", bot.KindImage, "image/png", bombPNG(20000, 10), Expect{}, Limits{}, ErrTooManyPixels, ""},
		{"BombJPEG", bot.KindSticker, "image/jpeg", bombJPEG(t, 9000, 9000), Expect{}, Limits{}, ErrTooManyPixels, ""},
		{"NotMedia", bot.KindLocation, "", jpg, Expect{}, Limits{}, ErrUnsupported, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(tc.kind, tc.declared, tc.data, tc.exp, tc.lim)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.reason)
			var me *Error
			require.True(t, errors.As(err, &me))
			if tc.note != "" {
				assert.Equal(t, tc.note, me.Note())
			}
			assert.NotEmpty(t, me.Note())
			assert.NotContains(t, me.Note(), "application/", "notes name types in words")
		})
	}
}

// A decompression bomb is refused from its header: checking a PNG that
// claims 50000×50000 pixels (10 GB decoded) allocates almost nothing.
func TestCheckBombAllocatesLittle(t *testing.T) {
	bomb := bombPNG(50000, 50000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		_, err := Check(bot.KindImage, "image/png", bomb, Expect{}, Limits{})
		require.ErrorIs(t, err, ErrTooManyPixels)
		_, err = Thumbnail(bomb, ThumbOptions{})
		require.ErrorIs(t, err, ErrTooManyPixels)
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "20 refusals allocated under 1 MB in all")
}

// Every proper prefix of a structured sample is refused as cut off or
// damaged, never accepted (Ogg may only be cut at a page boundary).
func TestCheckEveryPrefixRefused(t *testing.T) {
	samples := []struct {
		name     string
		kind     bot.MessageKind
		declared string
		data     []byte
	}{
		{"JPEG", bot.KindImage, "image/jpeg", encodeJPEG(t, photo(48, 32, 5), 80)},
		{"PNG", bot.KindImage, "image/png", encodePNG(t, photo(24, 16, 5))},
		{"GIF", bot.KindImage, "image/gif", encodeGIF(t, photo(24, 16, 5))},
		{"WebP", bot.KindSticker, "image/webp", readTestdata(t, "lossy.webp")},
		{"MP4", bot.KindVideo, "video/mp4", sampleISO("isom", "isom")},
		{"DOCX", bot.KindDocument, TypeDOCX, sampleDOCX(t)},
	}
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			_, err := Check(s.kind, s.declared, s.data, Expect{}, Limits{})
			require.NoError(t, err, "the whole file")
			for n := 1; n < len(s.data); n++ {
				_, err := Check(s.kind, s.declared, s.data[:n], Expect{}, Limits{})
				if err == nil {
					t.Fatalf("prefix of %d of %d bytes accepted", n, len(s.data))
				}
			}
		})
	}
}

func TestSizeWords(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1 KB", 48 << 10: "48 KB", 1 << 20: "1 MB",
		16 << 20: "16 MB", 2<<20 + 400<<10: "2.4 MB", 23<<20 + 500<<10: "23 MB", 100 << 20: "100 MB"} {
		assert.Equal(t, want, SizeWords(n), n)
	}
}

func FuzzCheck(f *testing.F) {
	kinds := []bot.MessageKind{bot.KindImage, bot.KindVoice, bot.KindAudio, bot.KindVideo, bot.KindDocument, bot.KindSticker}
	for _, tc := range sniffCases(f) {
		f.Add(uint8(0), "", tc.data)
		f.Add(uint8(4), tc.want, tc.data)
	}
	f.Add(uint8(0), "image/png", bombPNG(50000, 50000))
	f.Fuzz(func(t *testing.T, k uint8, declared string, data []byte) {
		kind := kinds[int(k)%len(kinds)]
		lim := Limits{MaxPixels: 1 << 20, MaxSide: 2000}
		info, err := Check(kind, declared, data, Expect{}, lim)
		if err != nil {
			var me *Error
			require.True(t, errors.As(err, &me), "every refusal is a *Error")
			assert.NotEmpty(t, me.Note())
			return
		}
		assert.Equal(t, int64(len(data)), info.Size)
		assert.NotEmpty(t, info.MIME)
		assert.LessOrEqual(t, int64(info.Width)*int64(info.Height), lim.MaxPixels)
	})
}

func FuzzComplete(f *testing.F) {
	for _, tc := range sniffCases(f) {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range []string{TypeJPEG, TypePNG, TypeGIF, TypeWebP, TypePDF, TypeOggAudio, TypeMP4, TypeHEIC, TypeZIP} {
			if err := complete(typ, data); err != nil {
				assert.True(t, errors.Is(err, ErrTruncated) || errors.Is(err, ErrDamaged), "%s: %v", typ, err)
			}
		}
	})
}
