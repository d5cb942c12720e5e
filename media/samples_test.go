package media

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/media/mediatest"
)

// photo draws a w×h photo-like picture (mediatest.Photo).
func photo(w, h int, seed uint64) *image.RGBA { return mediatest.Photo(w, h, seed) }

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, m, &jpeg.Options{Quality: q}))
	return b.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, m))
	return b.Bytes()
}

func encodeGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, gif.Encode(&b, m, nil))
	return b.Bytes()
}

// sampleJPEG is a 640×480 photo-like JPEG.
func sampleJPEG(t testing.TB) []byte { return encodeJPEG(t, photo(640, 480, 1), 85) }

// withOrientation inserts an EXIF APP1 segment with the given orientation
// right after a JPEG's SOI, in the byte order given ("II" or "MM").
func withOrientation(j []byte, o uint16, order string) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	if order == "MM" {
		bo = binary.BigEndian
	}
	tiff := make([]byte, 8+2+12+4)
	copy(tiff, order)
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 1)       // one entry
	bo.PutUint16(tiff[10:], 0x0112) // Orientation
	bo.PutUint16(tiff[12:], 3)      // SHORT
	bo.PutUint32(tiff[14:], 1)      // count
	bo.PutUint16(tiff[18:], o)      // value
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, j[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

func oggPage(flags byte, granule uint64, serial, seq uint32, packet []byte) []byte {
	return mediatest.OggPage(flags, granule, serial, seq, packet)
}

// sampleOpus is a WhatsApp-style Ogg Opus voice note (mediatest.Opus).
func sampleOpus() []byte { return mediatest.Opus(3) }

// box builds an ISO media box.
func box(typ string, body ...[]byte) []byte {
	b := make([]byte, 8)
	copy(b[4:], typ)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

// sampleISO is ftyp (major brand, then compatible brands), moov, mdat.
func sampleISO(major string, compat ...string) []byte {
	ft := append([]byte(major), 0, 0, 2, 0)
	for _, c := range compat {
		ft = append(ft, c...)
	}
	out := box("ftyp", ft)
	// moov first, as phones send it, with one chunk offset into mdat.
	stco := func(off uint32) []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint32(b[4:], 1)
		binary.BigEndian.PutUint32(b[8:], off)
		return box("stco", b)
	}
	moovLen := len(box("moov", box("mvhd", make([]byte, 100)), box("trak", box("mdia", box("minf", box("stbl", stco(0)))))))
	chunk := uint32(len(out) + moovLen + 8 + 1500)
	out = append(out, box("moov", box("mvhd", make([]byte, 100)), box("trak", box("mdia", box("minf", box("stbl", stco(chunk))))))...)
	return append(out, box("mdat", bytes.Repeat([]byte{0x42}, 2000))...)
}

func samplePDF() []byte { return mediatest.PDF() }

// sampleZIP builds a ZIP of the named entries; "mimetype" is stored
// uncompressed first, as OpenDocument requires.
func sampleZIP(t testing.TB, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e[0], Method: zip.Deflate}
		if e[0] == "mimetype" {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		require.NoError(t, err)
		_, err = w.Write([]byte(e[1]))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func sampleDOCX(t testing.TB) []byte {
	return sampleZIP(t, [2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"_rels/.rels", "<Relationships/>"},
		[2]string{"word/document.xml", "<w:document/>"})
}

func sampleXLSX(t testing.TB) []byte {
	return sampleZIP(t, [2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"xl/workbook.xml", "<workbook/>"})
}

func sampleODT(t testing.TB) []byte {
	return sampleZIP(t, [2]string{"mimetype", TypeODT}, [2]string{"content.xml", "<office:document-content/>"})
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// bombPNG claims w×h pixels in a tiny file (mediatest.BombPNG).
func bombPNG(w, h uint32) []byte { return mediatest.BombPNG(w, h) }

// bombJPEG rewrites the SOF0 dimensions of a small JPEG.
func bombJPEG(t testing.TB, w, h uint16) []byte {
	j := bytes.Clone(encodeJPEG(t, photo(16, 16, 2), 80))
	i := bytes.Index(j, []byte{0xFF, 0xC0})
	require.Positive(t, i)
	binary.BigEndian.PutUint16(j[i+5:], h)
	binary.BigEndian.PutUint16(j[i+7:], w)
	return j
}

// checker paints a w×h image whose top-left quadrant is red, the rest blue.
func checker(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{0, 0, 0xFF, 0xFF}
			if x < w/2 && y < h/2 {
				c = color.RGBA{0xFF, 0, 0, 0xFF}
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}
