// Package mediatest makes the files customers send, for tests: photo-like
// JPEGs, WhatsApp-style Ogg Opus voice notes, a small PDF and decompression
// bombs. The media package's tests, the channels' media tests and the
// end-to-end tests in cmd/switchboard use it; production code does not.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"math/rand/v2"
)

// Photo draws a w×h picture with gradients, shapes and noise, so a JPEG of
// it compresses like a photograph rather than a flat fill.
func Photo(w, h int, seed uint64) *image.RGBA {
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

// JPEG is a w×h photo-like JPEG at quality 85.
func JPEG(w, h int, seed uint64) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Photo(w, h, seed), &jpeg.Options{Quality: 85}); err != nil {
		panic("mediatest: " + err.Error())
	}
	return b.Bytes()
}

// OggPage builds one Ogg page with a correct CRC.
func OggPage(flags byte, granule uint64, serial, seq uint32, packet []byte) []byte {
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

// Opus is an Ogg Opus stream as WhatsApp voice notes are: OpusHead,
// OpusTags, then audio pages, the last flagged end-of-stream. The audio
// packets are noise from seed (nothing here decodes Opus).
func Opus(seed uint64) []byte {
	head := []byte("OpusHead\x01\x01\x38\x01\x80\xBB\x00\x00\x00\x00\x00")
	tags := append([]byte("OpusTags\x08\x00\x00\x00WhatsApp"), 0, 0, 0, 0)
	out := OggPage(0x02, 0, 7, 0, head)
	out = append(out, OggPage(0, 0, 7, 1, tags)...)
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := range 4 {
		pkt := make([]byte, 300+i*40)
		for j := range pkt {
			pkt[j] = byte(r.UintN(256))
		}
		flags := byte(0)
		if i == 3 {
			flags = 0x04
		}
		out = append(out, OggPage(flags, uint64(960*(i+1)), 7, uint32(2+i), pkt)...)
	}
	return out
}

// PDF is a small, well-formed PDF.
func PDF() []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" +
		"xref\n0 3\n0000000000 65535 f \ntrailer << /Size 3 /Root 1 0 R >>\nstartxref\n9\n%%EOF\n")
}

// BombPNG is a valid PNG header (signature, IHDR) claiming w×h pixels,
// with one tiny IDAT and IEND: a decoder would allocate w×h×4 bytes.
func BombPNG(w, h uint32) []byte {
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
