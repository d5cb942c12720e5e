package media

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// photo draws a w×h picture with gradients, shapes and noise, so a JPEG of
// it compresses like a photograph rather than a flat fill.
func photo(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for y := range h {
		for x := range w {
			i := m.PixOffset(x, y)
			n := uint8(r.IntN(24))
			m.Pix[i] = uint8(x*200/w) + n
			m.Pix[i+1] = uint8(y*180/h) + n
			m.Pix[i+2] = uint8((x+y)*120/(w+h)) + 60 + n
			m.Pix[i+3] = 0xFF
			if (x/(w/8+1)+y/(h/6+1))%2 == 0 {
				m.Pix[i] /= 2
			}
		}
	}
	return m
}

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

// oggPage builds one Ogg page with a correct CRC.
func oggPage(flags byte, granule uint64, serial, seq uint32, packet []byte) []byte {
	var segs []byte
	n := len(packet)
	for n >= 255 {
		segs = append(segs, 255)
		n -= 255
	}
	segs = append(segs, byte(n))
	p := make([]byte, 27, 27+len(segs)+len(packet))
	copy(p, "OggS")
	p[5] = flags
	binary.LittleEndian.PutUint64(p[6:], granule)
	binary.LittleEndian.PutUint32(p[14:], serial)
	binary.LittleEndian.PutUint32(p[18:], seq)
	p[26] = byte(len(segs))
	p = append(p, segs...)
	p = append(p, packet...)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
	return p
}

func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// sampleOpus is an Ogg Opus stream as WhatsApp voice notes are: OpusHead,
// OpusTags, then audio pages, the last flagged end-of-stream. The audio
// packets are noise (nothing here decodes Opus).
func sampleOpus() []byte {
	head := []byte("OpusHead\x01\x01\x38\x01\x80\xBB\x00\x00\x00\x00\x00")
	tags := append([]byte("OpusTags\x08\x00\x00\x00WhatsApp"), 0, 0, 0, 0)
	out := oggPage(0x02, 0, 7, 0, head)
	out = append(out, oggPage(0, 0, 7, 1, tags)...)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 4 {
		pkt := make([]byte, 300+i*40)
		for j := range pkt {
			pkt[j] = byte(r.UintN(256))
		}
		flags := byte(0)
		if i == 3 {
			flags = 0x04
		}
		out = append(out, oggPage(flags, uint64(960*(i+1)), 7, uint32(2+i), pkt)...)
	}
	return out
}

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

func samplePDF() []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" +
		"xref\n0 3\n0000000000 65535 f \ntrailer << /Size 3 /Root 1 0 R >>\nstartxref\n9\n%%EOF\n")
}

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

// bombPNG is a valid PNG header (signature, IHDR) claiming w×h pixels,
// with one tiny IDAT and IEND: a decoder would allocate w×h×4 bytes.
func bombPNG(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		c := make([]byte, 8, 12+len(data))
		binary.BigEndian.PutUint32(c, uint32(len(data)))
		copy(c[4:], typ)
		c = append(c, data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

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
