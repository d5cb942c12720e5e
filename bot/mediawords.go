package bot

import (
	"fmt"
	"mime"
	"strings"
)

// Words for files, shared by the media checks (their notes) and the staff
// cards (a document's type and size).

// SizeWords renders a byte count for people: "512 bytes", "48 KB", "23.4 MB".
func SizeWords(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KB", (n+1<<9)>>10)
	}
	mb := float64(n) / (1 << 20)
	if mb >= 10 || mb == float64(int64(mb)) {
		return fmt.Sprintf("%.0f MB", mb)
	}
	return fmt.Sprintf("%.1f MB", mb)
}

// typeWords names the types staff meet.
var typeWords = map[string]string{
	"image/jpeg": "a JPEG image", "image/png": "a PNG image", "image/gif": "a GIF image", "image/webp": "a WebP image",
	"image/bmp": "a BMP image", "image/heic": "a HEIC photo", "image/heif": "a HEIF image", "image/avif": "an AVIF image",
	"audio/ogg": "Ogg audio", "application/ogg": "an Ogg file", "video/ogg": "Ogg video", "audio/mp4": "M4A audio",
	"audio/mpeg": "MP3 audio", "audio/aac": "AAC audio", "audio/amr": "AMR audio", "audio/amr-wb": "AMR audio", "audio/wave": "WAV audio",
	"video/mp4": "an MP4 video", "video/3gpp": "a 3GP video", "video/3gpp2": "a 3GP video", "video/quicktime": "a QuickTime video",
	"video/webm": "a WebM video", "video/avi": "an AVI video",
	"application/pdf": "a PDF document", "application/zip": "a ZIP archive", "application/x-ole-storage": "an old-style Office document",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "a Word document", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "an Excel spreadsheet", "application/vnd.openxmlformats-officedocument.presentationml.presentation": "a PowerPoint presentation",
	"application/vnd.oasis.opendocument.text": "an OpenDocument text", "application/vnd.oasis.opendocument.spreadsheet": "an OpenDocument spreadsheet", "application/vnd.oasis.opendocument.presentation": "an OpenDocument presentation",
	"application/epub+zip": "an EPUB book", "application/msword": "a Word document", "application/vnd.ms-excel": "an Excel spreadsheet",
	"application/vnd.ms-powerpoint": "a PowerPoint presentation", "text/plain": "plain text", "text/html": "a web page",
	"text/xml": "XML", "text/csv": "a CSV table", "application/x-msdownload": "a Windows program", "application/x-executable": "a Linux program",
	"application/x-gzip": "a gzip archive", "application/x-rar-compressed": "a RAR archive",
	"application/octet-stream": "data we could not recognise",
}

// TypeWords names a content type for people: "a PDF document", "Ogg audio".
// Types it does not know are given as they are.
func TypeWords(t string) string {
	if w, ok := typeWords[CanonicalMIME(t)]; ok {
		return w
	}
	if w, ok := typeWords[t]; ok {
		return w
	}
	if t == "" {
		return "an unknown type"
	}
	return "a file of type " + t
}

// aliases maps declared types that name the same thing to one spelling.
var aliases = map[string]string{
	"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png",
	"audio/opus": "audio/ogg", "audio/x-opus+ogg": "audio/ogg", "audio/vorbis": "audio/ogg",
	"audio/m4a": "audio/mp4", "audio/x-m4a": "audio/mp4", "audio/mp4a-latm": "audio/mp4",
	"audio/mp3": "audio/mpeg", "audio/x-mp3": "audio/mpeg", "audio/mpeg3": "audio/mpeg", "audio/x-mpeg": "audio/mpeg",
	"audio/wav": "audio/wave", "audio/x-wav": "audio/wave", "audio/vnd.wave": "audio/wave",
	"audio/x-aac": "audio/aac", "audio/aacp": "audio/aac", "audio/3gpp": "video/3gpp", "audio/3gpp2": "video/3gpp2",
	"application/x-pdf": "application/pdf", "application/x-zip-compressed": "application/zip", "application/x-zip": "application/zip",
	"video/x-m4v": "video/mp4", "image/heic-sequence": "image/heic", "image/heif-sequence": "image/heif",
	"application/x-msdos-program": "application/x-msdownload", "application/x-dosexec": "application/x-msdownload", "application/vnd.microsoft.portable-executable": "application/x-msdownload",
}

// CanonicalMIME lower-cases a type, drops its parameters and applies aliases.
func CanonicalMIME(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if mt, _, err := mime.ParseMediaType(t); err == nil {
		t = mt
	} else if i := strings.IndexByte(t, ';'); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	if a, ok := aliases[t]; ok {
		return a
	}
	return t
}
