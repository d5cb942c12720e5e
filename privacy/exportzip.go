package privacy

import (
	"archive/zip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// MediaSource opens the stored bytes of a fetched attachment. A Store that
// also implements it (*store.DB does) gets the person's photos, voice
// notes and documents in their export, as a ZIP; without it an export
// naming fetched media fails rather than leave them out.
type MediaSource interface {
	// OpenMedia returns a reader of the decrypted bytes; the caller closes it.
	OpenMedia(ctx context.Context, id int64) (io.ReadCloser, error)
}

// ExportZipJSON is the name of the export document inside the ZIP.
const ExportZipJSON = "export.json"

// xMedia is one attachment in the export document. File is its path in
// the ZIP, for the attachments whose bytes are kept.
type xMedia struct {
	ID         int64  `json:"id"`
	MessageID  int64  `json:"message_id"`
	Kind       string `json:"kind"`
	MIME       string `json:"mime"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256,omitempty"`
	FileName   string `json:"file_name,omitempty"`
	State      string `json:"state"`
	Note       string `json:"note,omitempty"`
	Transcript string `json:"transcript,omitempty"`
	File       string `json:"file,omitempty"`
	CreatedAt  string `json:"created_at,omitempty"`
	FetchedAt  string `json:"fetched_at,omitempty"`
}

// zipFile is a fetched attachment to copy into the ZIP, or to send on its
// own where the ZIP cannot go (exportsend.go).
type zipFile struct {
	id   int64
	path string
	mime string
	// What its caption says: the kind, the size, when it was stored, who
	// sent it (In: the person; Out: staff, with a reply) and a document's
	// name as sent.
	kind bot.MessageKind
	size int64
	at   time.Time
	dir  bot.Direction
	name string
}

// mediaDoc maps an attachment to its documented form and, when its bytes
// are kept, records the file for the ZIP. The channel's handle (a media
// id at Meta) and the card thumbnail are internal and left out.
func (d *exportDoc) mediaDoc(m bot.Media) xMedia {
	x := xMedia{ID: m.ID, MessageID: m.MessageID, Kind: string(m.Kind), MIME: m.MIME, Size: m.Size,
		FileName: m.FileName, State: string(m.State), Note: m.Note, Transcript: m.Transcript,
		CreatedAt: stamp(m.CreatedAt), FetchedAt: stamp(m.FetchedAt)}
	if len(m.SHA256) > 0 {
		x.SHA256 = hex.EncodeToString(m.SHA256)
	}
	if m.State == bot.MediaFetched {
		x.File = mediaZipPath(m)
		d.files = append(d.files, zipFile{id: m.ID, path: x.File, mime: m.MIME, kind: m.Kind, size: m.Size, at: m.CreatedAt, dir: m.Dir, name: m.FileName})
	}
	return x
}

// mediaExts gives the extension of a file in the ZIP by its checked type.
var mediaExts = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic", "image/heif": ".heif",
	"image/avif": ".avif", "audio/ogg": ".ogg", "application/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".aac",
	"audio/amr": ".amr", "audio/wave": ".wav", "video/mp4": ".mp4", "video/3gpp": ".3gp", "video/quicktime": ".mov", "video/webm": ".webm",
	"application/pdf": ".pdf", "application/zip": ".zip", "text/plain": ".txt", "text/csv": ".csv",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.oasis.opendocument.text":                                   ".odt",
	"application/vnd.oasis.opendocument.spreadsheet":                            ".ods",
	"application/msword": ".doc", "application/vnd.ms-excel": ".xls", "application/vnd.ms-powerpoint": ".ppt",
}

// mediaZipPath is "media/<id>" plus, for a named document, a safe form of
// its name, plus an extension from its type: "media/12-boiler-quote.pdf",
// "media/13.ogg". Ids keep paths unique; nothing in a name can leave the
// media folder.
func mediaZipPath(m bot.Media) string {
	ext, ok := mediaExts[m.MIME]
	if !ok {
		ext = ".bin"
	}
	base := fmt.Sprintf("media/%d", m.ID)
	name := safeName(m.FileName)
	if name == "" {
		return base + ext
	}
	if !strings.HasSuffix(strings.ToLower(name), ext) && ext != ".bin" {
		name += ext
	}
	return base + "-" + name
}

// safeName keeps letters, digits, '.', '-' and '_' of a file name (others
// become '_'), collapses runs of dots, drops leading and trailing dots and
// keeps at most 80 bytes.
func safeName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '.':
			if b.Len() > 0 && b.String()[b.Len()-1] != '.' {
				b.WriteByte('.')
			}
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 80 {
			break
		}
	}
	return strings.Trim(b.String(), ".")
}

// storedTypes are already compressed: stored in the ZIP as they are.
func storedType(mime string) bool {
	switch {
	case strings.HasPrefix(mime, "image/"), strings.HasPrefix(mime, "video/"), strings.HasPrefix(mime, "audio/"),
		mime == "application/ogg", mime == "application/zip", strings.Contains(mime, "openxmlformats"), strings.Contains(mime, "opendocument"):
		return true
	}
	return false
}

// writeExportZip writes the export as a ZIP to w: first export.json (the
// document, as writeExport writes it, streamed from doc), then each fetched
// attachment at the path the document gives it, decrypted from the store.
// It returns the number of media files written. Nothing is held whole in
// memory: each file is copied through.
func writeExportZip(ctx context.Context, src MediaSource, w io.Writer, doc io.Reader, files []zipFile, generated time.Time) (int, error) {
	if src == nil && len(files) > 0 {
		return 0, errors.New("export zip: the store cannot open media")
	}
	zw := zip.NewWriter(w)
	jw, err := zw.CreateHeader(&zip.FileHeader{Name: ExportZipJSON, Method: zip.Deflate, Modified: generated})
	if err != nil {
		return 0, fmt.Errorf("export zip: %w", err)
	}
	if _, err := io.Copy(jw, doc); err != nil {
		return 0, fmt.Errorf("export zip: document: %w", err)
	}
	n := 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		method := zip.Deflate
		if storedType(f.mime) {
			method = zip.Store
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.path, Method: method, Modified: generated})
		if err != nil {
			return n, fmt.Errorf("export zip: %w", err)
		}
		rc, err := src.OpenMedia(ctx, f.id)
		if err != nil {
			return n, fmt.Errorf("export zip: media %d: %w", f.id, err)
		}
		_, err = io.Copy(fw, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, fmt.Errorf("export zip: media %d: %w", f.id, err)
		}
		n++
	}
	if err := zw.Close(); err != nil {
		return n, fmt.Errorf("export zip: %w", err)
	}
	return n, nil
}

// zipExport turns the export document at jsonPath into a ZIP with the
// files next to it (export-*.zip in the export directory); the document
// stays, for the caller to remove. It returns the ZIP's path and the
// number of media files.
func (s *Service) zipExport(ctx context.Context, jsonPath string, files []zipFile) (string, int, error) {
	src, _ := s.st.(MediaSource)
	in, err := os.Open(jsonPath)
	if err != nil {
		return "", 0, fmt.Errorf("export zip: %w", err)
	}
	defer in.Close()
	out, err := os.CreateTemp(s.dir, "export-*.zip")
	if err != nil {
		return "", 0, fmt.Errorf("export zip: %w", err)
	}
	s.track(out.Name())
	n, err := writeExportZip(ctx, src, out, in, files, s.now())
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.removeFile(out.Name())
		return "", 0, err
	}
	return out.Name(), n, nil
}
