package media

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
)

// complete walks the structure of a file of the sniffed type to its end
// and returns ErrTruncated if the bytes stop before it, ErrDamaged if the
// structure is broken, nil if it is whole or the type has no structure we
// walk. It never decodes pixels or samples.
func complete(sniffed string, data []byte) error {
	switch family(sniffed) {
	case TypeJPEG:
		return jpegComplete(data)
	case TypePNG:
		return pngComplete(data)
	case TypeGIF:
		return gifComplete(data)
	case TypeWebP, "audio/wave":
		return riffComplete(data)
	case TypePDF:
		return pdfComplete(data)
	case "ogg":
		return oggComplete(data)
	case "mp4", "3gpp", "quicktime":
		return isoComplete(data, "moov")
	case "heif":
		return isoComplete(data, "meta")
	case "zip":
		if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return ErrTruncated
		}
	}
	return nil
}

// jpegComplete follows the markers from SOI, skipping each segment by its
// length and each scan's entropy-coded data, until EOI. Bytes after EOI
// (camera trailers, motion-photo video) are allowed.
func jpegComplete(b []byte) error {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return ErrDamaged
	}
	i := 2
	for {
		if i >= len(b) {
			return ErrTruncated
		}
		if b[i] != 0xFF {
			return ErrDamaged
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return ErrTruncated
		}
		m := b[i]
		i++
		switch {
		case m == 0xD9:
			return nil
		case m == 0x00:
			return ErrDamaged
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue
		}
		if i+2 > len(b) {
			return ErrTruncated
		}
		l := int(binary.BigEndian.Uint16(b[i:]))
		if l < 2 {
			return ErrDamaged
		}
		if i+l > len(b) {
			return ErrTruncated
		}
		i += l
		if m != 0xDA {
			continue
		}
		// Entropy-coded data: FF 00 is a stuffed byte, FF D0-D7 a restart
		// marker, FF FF fill; any other FF xx ends the scan.
		for {
			j := bytes.IndexByte(b[i:], 0xFF)
			if j < 0 || i+j+1 >= len(b) {
				return ErrTruncated
			}
			i += j
			nx := b[i+1]
			if nx == 0x00 || (nx >= 0xD0 && nx <= 0xD7) {
				i += 2
				continue
			}
			if nx == 0xFF {
				i++
				continue
			}
			break
		}
	}
}

// pngComplete walks the chunks to IEND.
func pngComplete(b []byte) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	i := 8
	for {
		if i+8 > len(b) {
			return ErrTruncated
		}
		n := int64(binary.BigEndian.Uint32(b[i:]))
		if n > 1<<31-1 {
			return ErrDamaged
		}
		typ := string(b[i+4 : i+8])
		end := int64(i) + 12 + n
		if end > int64(len(b)) {
			return ErrTruncated
		}
		if typ == "IEND" {
			return nil
		}
		i = int(end)
	}
}

// gifComplete walks the blocks to the trailer.
func gifComplete(b []byte) error {
	if len(b) < 13 {
		return ErrTruncated
	}
	i := 13
	if b[10]&0x80 != 0 {
		i += 3 << ((b[10] & 7) + 1)
	}
	subBlocks := func() error {
		for {
			if i >= len(b) {
				return ErrTruncated
			}
			n := int(b[i])
			i++
			if n == 0 {
				return nil
			}
			i += n
		}
	}
	for {
		if i >= len(b) {
			return ErrTruncated
		}
		switch b[i] {
		case 0x3B:
			return nil
		case 0x21: // extension: label, sub-blocks
			i += 2
			if err := subBlocks(); err != nil {
				return err
			}
		case 0x2C: // image descriptor, local table, LZW code size, sub-blocks
			if i+10 > len(b) {
				return ErrTruncated
			}
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << ((flags & 7) + 1)
			}
			i++ // LZW minimum code size
			if err := subBlocks(); err != nil {
				return err
			}
		default:
			return ErrDamaged
		}
	}
}

// riffComplete checks a RIFF file (WebP, WAV) holds the length its header
// gives.
func riffComplete(b []byte) error {
	if len(b) < 12 {
		return ErrTruncated
	}
	n := int64(binary.LittleEndian.Uint32(b[4:]))
	if int64(len(b)) < 8+n {
		return ErrTruncated
	}
	return nil
}

// pdfComplete looks for the %%EOF marker in the last kilobyte, where the
// PDF specification puts it.
func pdfComplete(b []byte) error {
	tail := b[max(0, len(b)-1024):]
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return ErrTruncated
	}
	return nil
}

// oggComplete walks the pages: each must be whole. A stream may lack the
// end-of-stream flag (some encoders omit it), so a cut exactly at a page
// boundary cannot be told; a cut inside a page can.
func oggComplete(b []byte) error {
	i := 0
	for i < len(b) {
		if i+27 > len(b) {
			return ErrTruncated
		}
		if string(b[i:i+4]) != "OggS" {
			return ErrDamaged
		}
		nseg := int(b[i+26])
		if i+27+nseg > len(b) {
			return ErrTruncated
		}
		body := 0
		for _, l := range b[i+27 : i+27+nseg] {
			body += int(l)
		}
		i += 27 + nseg + body
		if i > len(b) {
			return ErrTruncated
		}
	}
	return nil
}

// isoComplete walks the top-level boxes of an ISO base media file: each
// must fit, and the box that describes the content (moov for video and
// audio, meta for HEIF images) must be there, which catches a file cut at
// a box boundary before it.
func isoComplete(b []byte, need string) error {
	i, found := int64(0), false
	n := int64(len(b))
	for i < n {
		if i+8 > n {
			return ErrTruncated
		}
		size := int64(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		hdr := int64(8)
		switch size {
		case 0: // to the end of the file
			size = n - i
		case 1:
			if i+16 > n {
				return ErrTruncated
			}
			u := binary.BigEndian.Uint64(b[i+8:])
			if u > 1<<62 {
				return ErrDamaged
			}
			size, hdr = int64(u), 16
		}
		if size < hdr {
			return ErrDamaged
		}
		if i+size > n {
			return ErrTruncated
		}
		if typ == need {
			found = true
			if typ == "moov" && maxChunkOffset(b[i+hdr:i+size], 0) >= n {
				// The sample tables point past the end: a file with its
				// index first (as phones send) cut before or in its data.
				return ErrTruncated
			}
		}
		i += size
	}
	if !found {
		return ErrTruncated
	}
	return nil
}

// isoContainers are the boxes on the way from moov to the chunk offsets.
var isoContainers = map[string]bool{"moov": true, "trak": true, "mdia": true, "minf": true, "stbl": true}

// maxChunkOffset returns the largest chunk offset in the stco and co64
// boxes under b (the body of a container box); depth bounds the recursion.
func maxChunkOffset(b []byte, depth int) int64 {
	var top int64
	for i := 0; i+8 <= len(b) && depth < 8; {
		size := int(binary.BigEndian.Uint32(b[i:]))
		if size < 8 || i+size > len(b) {
			return top
		}
		typ, body := string(b[i+4:i+8]), b[i+8:i+size]
		switch {
		case isoContainers[typ]:
			top = max(top, maxChunkOffset(body, depth+1))
		case (typ == "stco" || typ == "co64") && len(body) >= 8:
			width := 4
			if typ == "co64" {
				width = 8
			}
			n := int(binary.BigEndian.Uint32(body[4:]))
			for e, p := 0, 8; e < n && p+width <= len(body); e, p = e+1, p+width {
				var off int64
				if width == 4 {
					off = int64(binary.BigEndian.Uint32(body[p:]))
				} else {
					off = int64(binary.BigEndian.Uint64(body[p:]) & (1<<62 - 1))
				}
				top = max(top, off)
			}
		}
		i += size
	}
	return top
}
