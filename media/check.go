package media

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// Default caps, WhatsApp's own: 16 MB for media, 100 MB for documents.
const (
	DefaultMediaLimit    = 16 << 20
	DefaultDocumentLimit = 100 << 20
	DefaultMaxPixels     = 40_000_000
	DefaultMaxSide       = 10_000
)

// The reasons a file is refused. Check and Thumbnail return a *Error that
// wraps one of them, so errors.Is(err, media.ErrTooLarge) works.
var (
	ErrEmpty         = errors.New("media: empty file")
	ErrTooLarge      = errors.New("media: over the size cap")
	ErrTruncated     = errors.New("media: cut off")
	ErrDamaged       = errors.New("media: damaged")
	ErrChecksum      = errors.New("media: size or checksum differs from the platform's")
	ErrTypeMismatch  = errors.New("media: content does not match its type")
	ErrTooManyPixels = errors.New("media: image dimensions over the cap")
	ErrUnsupported   = errors.New("media: not a media kind")
	ErrNoPreview     = errors.New("media: no preview for this type")
)

// Limits caps what is kept. The zero value means the defaults.
type Limits struct {
	// Media caps images, voice notes, audio, video and stickers, in bytes.
	// If 0, DefaultMediaLimit.
	Media int64
	// Document caps documents, in bytes. If 0, DefaultDocumentLimit.
	Document int64
	// MaxPixels caps an image's width × height. If 0, DefaultMaxPixels.
	MaxPixels int64
	// MaxSide caps an image's width and height. If 0, DefaultMaxSide.
	MaxSide int
}

func (l Limits) withDefaults() Limits {
	if l.Media <= 0 {
		l.Media = DefaultMediaLimit
	}
	if l.Document <= 0 {
		l.Document = DefaultDocumentLimit
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxSide <= 0 {
		l.MaxSide = DefaultMaxSide
	}
	return l
}

// For returns the size cap of kind, in bytes (the larger document cap for
// documents, the media cap otherwise).
func (l Limits) For(kind bot.MessageKind) int64 {
	l = l.withDefaults()
	if kind == bot.KindDocument {
		return l.Document
	}
	return l.Media
}

// IsMedia reports whether messages of kind carry a file Check accepts.
func IsMedia(kind bot.MessageKind) bool {
	switch kind {
	case bot.KindImage, bot.KindVoice, bot.KindAudio, bot.KindVideo, bot.KindDocument, bot.KindSticker:
		return true
	}
	return false
}

// Error says why a file was refused. Its Error text is for operators
// (types, sizes, dimensions; never names or content); Note is for staff.
type Error struct {
	Err      error // one of the Err… reasons
	Kind     bot.MessageKind
	Declared string // the type the platform declared, "" if none
	Sniffed  string // the type the bytes show
	Size     int64  // bytes received
	Limit    int64  // the cap, for ErrTooLarge
	Width    int    // for ErrTooManyPixels
	Height   int
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	fmt.Fprintf(&b, " (kind %s, %d bytes", e.Kind, e.Size)
	if e.Declared != "" {
		fmt.Fprintf(&b, ", declared %s", e.Declared)
	}
	if e.Sniffed != "" {
		fmt.Fprintf(&b, ", content %s", e.Sniffed)
	}
	if e.Limit > 0 {
		fmt.Fprintf(&b, ", cap %d", e.Limit)
	}
	if e.Width > 0 || e.Height > 0 {
		fmt.Fprintf(&b, ", %dx%d px", e.Width, e.Height)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Note says in plain words, for the staff card, what arrived and why it
// was not kept. It names no file and no person.
func (e *Error) Note() string {
	what := KindWords(e.Kind)
	again := " Ask the customer to send it again."
	switch e.Err {
	case ErrEmpty:
		return fmt.Sprintf("The %s arrived empty (0 bytes), so there is nothing to show.%s", what, again)
	case ErrTooLarge:
		return fmt.Sprintf("The %s is %s, over the %s limit for %s, so it was not kept.", what, SizeWords(e.Size), SizeWords(e.Limit), withArticle(what))
	case ErrTruncated:
		return fmt.Sprintf("The %s arrived incomplete (cut off part-way), so it was not kept.%s", what, again)
	case ErrDamaged:
		return fmt.Sprintf("The %s arrived damaged and cannot be opened, so it was not kept.%s", what, again)
	case ErrChecksum:
		return fmt.Sprintf("The %s did not arrive intact (it differs from what WhatsApp announced), so it was not kept.%s", what, again)
	case ErrTypeMismatch:
		if e.Declared != "" && !isGeneric(e.Declared) {
			return fmt.Sprintf("The %s was sent as %s but its content is %s, so it was not kept.", what, TypeWords(e.Declared), TypeWords(e.Sniffed))
		}
		return fmt.Sprintf("The %s is not %s: its content is %s, so it was not kept.", what, withArticle(what), TypeWords(e.Sniffed))
	case ErrTooManyPixels:
		return fmt.Sprintf("The %s is %d × %d pixels, too large to process safely, so it was not kept.", what, e.Width, e.Height)
	case ErrNoPreview:
		return fmt.Sprintf("No preview for this %s (%s).", what, TypeWords(e.Sniffed))
	}
	return fmt.Sprintf("The %s could not be kept.", what)
}

// KindWords names a media kind for people: "voice note", "image".
func KindWords(k bot.MessageKind) string { return k.Words() }

// withArticle puts "a" or "an" before a kind's words.
func withArticle(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}

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
	TypeJPEG: "a JPEG image", TypePNG: "a PNG image", TypeGIF: "a GIF image", TypeWebP: "a WebP image",
	"image/bmp": "a BMP image", TypeHEIC: "a HEIC photo", TypeHEIF: "a HEIF image", TypeAVIF: "an AVIF image",
	TypeOggAudio: "Ogg audio", TypeOgg: "an Ogg file", TypeOggVideo: "Ogg video", TypeM4A: "M4A audio",
	TypeMP3: "MP3 audio", TypeAAC: "AAC audio", TypeAMR: "AMR audio", TypeAMRWB: "AMR audio", "audio/wave": "WAV audio",
	TypeMP4: "an MP4 video", Type3GPP: "a 3GP video", Type3GPP2: "a 3GP video", TypeQuickTime: "a QuickTime video",
	"video/webm": "a WebM video", "video/avi": "an AVI video",
	TypePDF: "a PDF document", TypeZIP: "a ZIP archive", TypeOLE: "an old-style Office document",
	TypeDOCX: "a Word document", TypeXLSX: "an Excel spreadsheet", TypePPTX: "a PowerPoint presentation",
	TypeODT: "an OpenDocument text", TypeODS: "an OpenDocument spreadsheet", TypeODP: "an OpenDocument presentation",
	TypeEPUB: "an EPUB book", "application/msword": "a Word document", "application/vnd.ms-excel": "an Excel spreadsheet",
	"application/vnd.ms-powerpoint": "a PowerPoint presentation", TypeText: "plain text", "text/html": "a web page",
	"text/xml": "XML", "text/csv": "a CSV table", TypeEXE: "a Windows program", TypeELF: "a Linux program",
	"application/x-gzip": "a gzip archive", "application/x-rar-compressed": "a RAR archive",
	TypeOctetStream: "data we could not recognise",
}

// TypeWords names a content type for people: "a PDF document", "Ogg audio".
// Types it does not know are given as they are.
func TypeWords(t string) string {
	if w, ok := typeWords[canonical(t)]; ok {
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
	"image/jpg": TypeJPEG, "image/pjpeg": TypeJPEG, "image/x-png": TypePNG,
	"audio/opus": TypeOggAudio, "audio/x-opus+ogg": TypeOggAudio, "audio/vorbis": TypeOggAudio,
	"audio/m4a": TypeM4A, "audio/x-m4a": TypeM4A, "audio/mp4a-latm": TypeM4A,
	"audio/mp3": TypeMP3, "audio/x-mp3": TypeMP3, "audio/mpeg3": TypeMP3, "audio/x-mpeg": TypeMP3,
	"audio/wav": "audio/wave", "audio/x-wav": "audio/wave", "audio/vnd.wave": "audio/wave",
	"audio/x-aac": TypeAAC, "audio/aacp": TypeAAC, "audio/3gpp": Type3GPP, "audio/3gpp2": Type3GPP2,
	"application/x-pdf": TypePDF, "application/x-zip-compressed": TypeZIP, "application/x-zip": TypeZIP,
	"video/x-m4v": TypeMP4, "image/heic-sequence": TypeHEIC, "image/heif-sequence": TypeHEIF,
	"application/x-msdos-program": TypeEXE, "application/x-dosexec": TypeEXE, "application/vnd.microsoft.portable-executable": TypeEXE,
}

// canonical lower-cases a type, drops its parameters and applies aliases.
func canonical(t string) string {
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

// isGeneric reports a declared type that claims nothing.
func isGeneric(t string) bool {
	switch canonical(t) {
	case "", TypeOctetStream, "binary/octet-stream", "application/unknown", "application/binary", "application/x-download":
		return true
	}
	return false
}

// family groups the types one container or format can carry, so a
// declared type matches a sniffed one of the same family.
func family(t string) string {
	switch t {
	case TypeJPEG, TypePNG, TypeGIF, TypeWebP, "image/bmp", TypePDF, TypeAMR, TypeAMRWB, TypeAAC, TypeMP3, "audio/wave":
		return t
	case TypeHEIC, TypeHEIF, TypeAVIF:
		return "heif"
	case TypeOgg, TypeOggAudio, TypeOggVideo:
		return "ogg"
	case TypeMP4, TypeM4A:
		return "mp4"
	case Type3GPP, Type3GPP2:
		return "3gpp"
	case TypeQuickTime:
		return "quicktime"
	case "video/webm", "audio/webm", "video/x-matroska", "audio/x-matroska":
		return "webm"
	case TypeZIP, TypeDOCX, TypeXLSX, TypePPTX, TypeODT, TypeODS, TypeODP, TypeEPUB:
		return "zip"
	case TypeOLE, "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/vnd.ms-outlook":
		return "ole"
	case TypeEXE, TypeELF:
		return "program"
	}
	if strings.HasPrefix(t, "text/") {
		return "text"
	}
	switch t {
	case "application/json", "application/xml", "application/rtf", "application/x-vcard", "application/javascript", "application/ld+json":
		return "text"
	}
	return ""
}

// zipSpecific are the members of the zip family that name a package; a
// declared package type must match the sniffed one exactly.
func zipSpecific(t string) bool { return family(t) == "zip" && t != TypeZIP }

// Expect is what the platform said about a file besides its type.
type Expect struct {
	Size   int64  // bytes; 0 if not said
	SHA256 []byte // of the plaintext; nil if not said
}

// Info describes a file Check accepted.
type Info struct {
	// MIME is the type to keep: the sniffed type, or the declared one when
	// it is a more specific member of the same family (text/csv for
	// sniffed text/plain), or a declared document type the bytes cannot
	// confirm or deny.
	MIME   string
	Size   int64
	SHA256 [32]byte
	// Width and Height are an image's dimensions (0 for other kinds).
	Width, Height int
}

// Check decides whether data, received as a message of kind with the
// declared content type, may be kept. It refuses, with a *Error wrapping
// the reason: an empty file; one over the cap of its kind; one whose size
// or SHA-256 differs from exp; content that is not of the kind (an "image"
// that is a PDF) or not of the declared type (a "PDF" that is a program);
// a file cut off or damaged (JPEG, PNG, GIF, WebP, PDF, Ogg, MP4/3GP/MOV,
// ZIP-based and RIFF files are walked to their end); and, for images, more
// pixels than lim allows, read from the header before anything is decoded.
func Check(kind bot.MessageKind, declared string, data []byte, exp Expect, lim Limits) (Info, error) {
	lim = lim.withDefaults()
	n := int64(len(data))
	fail := func(reason error, sniffed string) (Info, error) {
		return Info{}, &Error{Err: reason, Kind: kind, Declared: canonicalOrEmpty(declared), Sniffed: sniffed, Size: n}
	}
	if !IsMedia(kind) {
		return fail(ErrUnsupported, "")
	}
	if n == 0 {
		return fail(ErrEmpty, "")
	}
	if limit := lim.For(kind); n > limit {
		return Info{}, &Error{Err: ErrTooLarge, Kind: kind, Declared: canonicalOrEmpty(declared), Size: n, Limit: limit}
	}
	if exp.Size > 0 && n < exp.Size {
		return fail(ErrTruncated, "")
	}
	if exp.Size > 0 && n != exp.Size {
		return fail(ErrChecksum, "")
	}
	sum := sha256.Sum256(data)
	if len(exp.SHA256) > 0 && !bytes.Equal(exp.SHA256, sum[:]) {
		return fail(ErrChecksum, "")
	}
	sniffed := Sniff(data)
	// Cut off or damaged comes first: a cut-off Word file no longer shows
	// its parts and would read as a mere ZIP.
	if err := complete(sniffed, data); err != nil {
		return fail(err, sniffed)
	}
	keep, ok := resolve(kind, canonical(declared), sniffed)
	if !ok {
		return fail(ErrTypeMismatch, sniffed)
	}
	info := Info{MIME: keep, Size: n, SHA256: sum}
	if kind == bot.KindImage || kind == bot.KindSticker {
		w, h, err := Dimensions(sniffed, data)
		switch {
		case errors.Is(err, ErrNoPreview):
			// A type whose header we do not read (HEIC): kept, no preview.
		case err != nil:
			return fail(ErrDamaged, sniffed)
		case w > lim.MaxSide || h > lim.MaxSide || int64(w)*int64(h) > lim.MaxPixels:
			return Info{}, &Error{Err: ErrTooManyPixels, Kind: kind, Declared: canonicalOrEmpty(declared), Sniffed: sniffed, Size: n, Width: w, Height: h}
		default:
			info.Width, info.Height = w, h
		}
	}
	return info, nil
}

func canonicalOrEmpty(t string) string {
	if isGeneric(t) {
		return ""
	}
	return canonical(t)
}

// resolve decides whether the sniffed type fits the message kind and the
// declared type, and which type to keep.
func resolve(kind bot.MessageKind, declared, sniffed string) (string, bool) {
	sf := family(sniffed)
	switch kind {
	case bot.KindImage, bot.KindSticker:
		if !strings.HasPrefix(sniffed, "image/") {
			return "", false
		}
	case bot.KindVoice, bot.KindAudio:
		if !strings.HasPrefix(sniffed, "audio/") && sf != "ogg" && sf != "mp4" && sf != "3gpp" && sf != "webm" {
			return "", false
		}
	case bot.KindVideo:
		if !strings.HasPrefix(sniffed, "video/") && sf != "mp4" && sf != "3gpp" && sf != "webm" && sf != "ogg" {
			return "", false
		}
	}
	if isGeneric(declared) || declared == sniffed {
		return sniffed, true
	}
	df := family(declared)
	switch {
	case df == "" && sniffed == TypeOctetStream && kind == bot.KindDocument:
		// A document type we cannot recognise by content: the bytes
		// neither confirm nor deny it.
		return declared, true
	case df == "":
		// A type we do not know declared for content we do: keep what the
		// bytes show.
		return sniffed, true
	case df == sf && zipSpecific(declared) && sniffed != declared:
		return "", false // a "Word document" that is a spreadsheet, or no Office file at all
	case df == sf && (df == "text" || df == "ole"):
		return declared, true // the declared type says more
	case df == sf:
		return sniffed, true
	case sf != "" && sf != "program" && topLevel(declared) == topLevel(sniffed) && topLevel(sniffed) != "application":
		// One image format labelled as another (a PNG sent as image/jpeg):
		// harmless, keep what the bytes show.
		return sniffed, true
	}
	return "", false
}

func topLevel(t string) string {
	top, _, _ := strings.Cut(t, "/")
	return top
}
