package media

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Content types Sniff returns beyond http.DetectContentType's.
const (
	TypeOctetStream = "application/octet-stream" // nothing recognised
	TypeJPEG        = "image/jpeg"
	TypePNG         = "image/png"
	TypeGIF         = "image/gif"
	TypeWebP        = "image/webp"
	TypeHEIC        = "image/heic"
	TypeHEIF        = "image/heif"
	TypeAVIF        = "image/avif"
	TypeOgg         = "application/ogg" // an Ogg stream of unknown codec
	TypeOggAudio    = "audio/ogg"       // Opus or Vorbis (WhatsApp voice notes are Ogg Opus)
	TypeOggVideo    = "video/ogg"
	TypeMP4         = "video/mp4"
	TypeM4A         = "audio/mp4"
	Type3GPP        = "video/3gpp"
	Type3GPP2       = "video/3gpp2"
	TypeQuickTime   = "video/quicktime"
	TypeAMR         = "audio/amr"
	TypeAMRWB       = "audio/amr-wb"
	TypeAAC         = "audio/aac"
	TypeMP3         = "audio/mpeg"
	TypePDF         = "application/pdf"
	TypeZIP         = "application/zip"
	TypeOLE         = "application/x-ole-storage" // legacy Office (.doc, .xls, .ppt)
	TypeDOCX        = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	TypeXLSX        = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	TypePPTX        = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	TypeODT         = "application/vnd.oasis.opendocument.text"
	TypeODS         = "application/vnd.oasis.opendocument.spreadsheet"
	TypeODP         = "application/vnd.oasis.opendocument.presentation"
	TypeEPUB        = "application/epub+zip"
	TypeText        = "text/plain"
	TypeEXE         = "application/x-msdownload"
	TypeELF         = "application/x-executable"
)

// sniffLen is how much of the head http.DetectContentType reads.
const sniffLen = 512

// Sniff returns the content type of data, judged from its bytes only, as a
// bare lower-case media type without parameters ("image/jpeg", never
// "text/plain; charset=utf-8"). It starts from http.DetectContentType and
// adds what that misses or leaves too generic: Ogg Opus and Vorbis (voice
// notes), the ISO media family by brand (MP4, M4A, 3GP, QuickTime,
// HEIC/AVIF), AMR, AAC and bare MP3 frames, legacy Office files, Office
// Open XML, OpenDocument and EPUB inside a ZIP, and executables. Unknown
// binary data is TypeOctetStream. Sniff reads a ZIP's central directory but
// never inflates an entry beyond a few hundred bytes, so a zip bomb costs
// nothing.
func Sniff(data []byte) string {
	head := data[:min(len(data), sniffLen)]
	switch {
	case len(head) == 0:
		return TypeOctetStream
	case bytes.HasPrefix(head, []byte("OggS")):
		return sniffOgg(head)
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return sniffISO(head)
	case bytes.HasPrefix(head, []byte("#!AMR-WB\n")):
		return TypeAMRWB
	case bytes.HasPrefix(head, []byte("#!AMR\n")):
		return TypeAMR
	case bytes.HasPrefix(head, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")):
		return TypeOLE
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return sniffZIP(data)
	case bytes.HasPrefix(head, []byte("MZ")):
		return TypeEXE
	case bytes.HasPrefix(head, []byte("\x7FELF")):
		return TypeELF
	case len(head) >= 4 && head[0] == 0xFF && head[1]&0xF6 == 0xF0:
		// ADTS: 12-bit sync, layer 00.
		return TypeAAC
	case len(head) >= 4 && head[0] == 0xFF && head[1]&0xE0 == 0xE0 && head[1]&0x06 != 0 && head[2]&0xF0 != 0xF0 && head[2]&0x0C != 0x0C:
		// An MPEG audio frame without an ID3 tag: 11-bit sync, a layer,
		// a valid bitrate index and sample rate.
		return TypeMP3
	}
	ct := http.DetectContentType(head)
	if t, _, err := mime.ParseMediaType(ct); err == nil {
		ct = t
	}
	return ct
}

// sniffOgg tells Opus and Vorbis audio and Theora video from the first
// page's first packet.
func sniffOgg(head []byte) string {
	if len(head) < 27 {
		return TypeOgg
	}
	nseg := int(head[26])
	start := 27 + nseg
	if start > len(head) {
		return TypeOgg
	}
	p := head[start:]
	switch {
	case bytes.HasPrefix(p, []byte("OpusHead")), bytes.HasPrefix(p, []byte("\x01vorbis")),
		bytes.HasPrefix(p, []byte("fLaC")), bytes.HasPrefix(p, []byte("Speex   ")):
		return TypeOggAudio
	case bytes.HasPrefix(p, []byte("\x80theora")):
		return TypeOggVideo
	}
	return TypeOgg
}

// sniffISO reads an ISO base media file's ftyp box: its major brand, then
// its compatible brands.
func sniffISO(head []byte) string {
	size := int(binary.BigEndian.Uint32(head))
	if size < 12 || size > len(head) {
		size = len(head)
	}
	brands := []string{string(head[8:12])}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	for _, b := range brands {
		switch {
		case b == "M4A " || b == "M4B " || b == "M4P " || b == "F4A " || b == "F4B ":
			return TypeM4A
		case b == "3g2a" || b == "3g2b" || b == "3g2c":
			return Type3GPP2
		case strings.HasPrefix(b, "3gp") || strings.HasPrefix(b, "3ge") || strings.HasPrefix(b, "3gg") || strings.HasPrefix(b, "3gs"):
			return Type3GPP
		case b == "qt  ":
			return TypeQuickTime
		case b == "heic" || b == "heix" || b == "heim" || b == "heis" || b == "hevc" || b == "hevx":
			return TypeHEIC
		case b == "avif" || b == "avis":
			return TypeAVIF
		case b == "mif1" || b == "msf1":
			return TypeHEIF
		case strings.HasPrefix(b, "iso") || strings.HasPrefix(b, "mp4") || b == "avc1" || b == "dash" ||
			strings.HasPrefix(b, "M4V") || b == "MSNV" || b == "f4v " || b == "mmp4":
			return TypeMP4
		}
	}
	return TypeOctetStream
}

// zipEntryTypes maps the entry that marks an Office Open XML package.
var zipEntryTypes = []struct{ prefix, typ string }{
	{"word/", TypeDOCX},
	{"xl/", TypeXLSX},
	{"ppt/", TypePPTX},
}

// sniffZIP looks inside a ZIP archive for the package it is: Office Open
// XML by its part names, OpenDocument and EPUB by the "mimetype" entry.
// A ZIP whose central directory cannot be read (cut off) is TypeZIP.
func sniffZIP(data []byte) string {
	// OpenDocument and EPUB store "mimetype" first and uncompressed, so
	// the head alone tells, even when the archive is cut off. (Its size in
	// the local header may be 0 when the writer used a data descriptor.)
	if len(data) >= 38 && string(data[30:38]) == "mimetype" && binary.LittleEndian.Uint16(data[8:10]) == 0 {
		start := 30 + int(binary.LittleEndian.Uint16(data[26:28])) + int(binary.LittleEndian.Uint16(data[28:30]))
		if start < len(data) {
			rest := data[start:min(len(data), start+100)]
			for _, t := range []string{TypeODT, TypeODS, TypeODP, TypeEPUB} {
				if bytes.HasPrefix(rest, []byte(t)) {
					return t
				}
			}
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return TypeZIP
	}
	for _, f := range zr.File {
		for _, e := range zipEntryTypes {
			if strings.HasPrefix(f.Name, e.prefix) {
				return e.typ
			}
		}
		if f.Name == "mimetype" && f.UncompressedSize64 <= 100 {
			rc, err := f.Open()
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(rc, 100))
			_ = rc.Close()
			if t := odfType(string(b)); t != "" {
				return t
			}
		}
	}
	return TypeZIP
}

// odfType accepts the mimetype entries of the packages Sniff names.
func odfType(s string) string {
	switch s = strings.TrimSpace(s); s {
	case TypeODT, TypeODS, TypeODP, TypeEPUB:
		return s
	}
	return ""
}
