package media

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// sniffCases are content samples with the type Sniff must name; they also
// seed the fuzzers.
func sniffCases(t testing.TB) []struct {
	name, want string
	data       []byte
} {
	return []struct {
		name, want string
		data       []byte
	}{
		{"JPEG", TypeJPEG, sampleJPEG(t)},
		{"PNG", TypePNG, encodePNG(t, photo(64, 48, 1))},
		{"GIF", TypeGIF, encodeGIF(t, photo(64, 48, 1))},
		{"WebPLossy", TypeWebP, readTestdata(t, "lossy.webp")},
		{"WebPAlpha", TypeWebP, readTestdata(t, "alpha.webp")},
		{"OggOpus", TypeOggAudio, sampleOpus()},
		{"OggUnknownCodec", TypeOgg, oggPage(2, 0, 1, 0, []byte("SomethingElse"))},
		{"OggTheora", TypeOggVideo, oggPage(2, 0, 1, 0, []byte("\x80theora\x03\x02"))},
		{"MP4", TypeMP4, sampleISO("isom", "isom", "iso2", "avc1", "mp41")},
		{"MP4Brand", TypeMP4, sampleISO("mp42", "mp42", "isom")},
		{"M4A", TypeM4A, sampleISO("M4A ", "M4A ", "mp42", "isom")},
		{"3GP", Type3GPP, sampleISO("3gp4", "3gp4", "isom")},
		{"3G2", Type3GPP2, sampleISO("3g2a", "3g2a")},
		{"QuickTime", TypeQuickTime, sampleISO("qt  ", "qt  ")},
		{"HEIC", TypeHEIC, sampleISO("heic", "mif1", "heic")},
		{"AVIF", TypeAVIF, sampleISO("avif", "mif1", "avif")},
		{"ISOUnknownBrand", TypeOctetStream, sampleISO("zzzz", "yyyy")},
		{"AMR", TypeAMR, []byte("#!AMR\n\x3c\x48\xf5\x1f\x96\x66\x79\xe1")},
		{"AMRWB", TypeAMRWB, []byte("#!AMR-WB\n\x04\x10\x20")},
		{"AAC", TypeAAC, []byte{0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC, 0x21}},
		{"MP3Frame", TypeMP3, []byte{0xFF, 0xFB, 0x90, 0x64, 0x00, 0x00, 0x00, 0x00}},
		{"MP3ID3", TypeMP3, []byte("ID3\x04\x00\x00\x00\x00\x00\x00\xFF\xFB\x90\x64")},
		{"WAV", "audio/wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")},
		{"WebM", "video/webm", []byte("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82\x84webm")},
		{"PDF", TypePDF, samplePDF()},
		{"DOCX", TypeDOCX, sampleDOCX(t)},
		{"XLSX", TypeXLSX, sampleXLSX(t)},
		{"PPTX", TypePPTX, sampleZIP(t, [2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"ppt/presentation.xml", "<p/>"})},
		{"ODT", TypeODT, sampleODT(t)},
		{"EPUB", TypeEPUB, sampleZIP(t, [2]string{"mimetype", TypeEPUB}, [2]string{"META-INF/container.xml", "<container/>"})},
		{"ZIP", TypeZIP, sampleZIP(t, [2]string{"notes.txt", "hello"})},
		{"CutODT", TypeODT, sampleODT(t)[:90]},
		{"CutDOCX", TypeZIP, sampleDOCX(t)[:50]},
		{"OLE", TypeOLE, append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), make([]byte, 504)...)},
		{"EXE", TypeEXE, append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 100)...)},
		{"ELF", TypeELF, []byte("\x7FELF\x02\x01\x01\x00")},
		{"Text", TypeText, []byte("Hello, my boiler is broken.\n")},
		{"HTML", "text/html", []byte("<!DOCTYPE html><html><body>hi</body></html>")},
		{"Empty", TypeOctetStream, nil},
		{"Binary", TypeOctetStream, []byte{0x00, 0x01, 0x02, 0x03, 0xFE, 0x00}},
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range sniffCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Sniff(tc.data))
		})
	}
}

func FuzzSniff(f *testing.F) {
	for _, tc := range sniffCases(f) {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Sniff(data)
		assert.NotEmpty(t, got)
		assert.NotContains(t, got, ";", "no parameters")
		assert.Equal(t, got, Sniff(data), "deterministic")
	})
}
