package whatsapp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
)

var _ bot.MediaFetcher = (*Channel)(nil)

// Media of the linked device.
//
// A WhatsApp attachment is not on the message: the message carries where
// the encrypted file lies on WhatsApp's media servers (direct path, URL),
// the key that opens it, the SHA-256 of the ciphertext and of the
// plaintext, and the length. The channel keeps exactly those fields, as the
// real waE2E protobuf of the message's part (an ImageMessage with nothing
// but them), encoded in MediaRef.ID ("wa1:image:" + base64url): the store
// seals the reference with the person's key, the media worker hands it
// back, and FetchMedia decodes it and calls whatsmeow's Download with it.
// whatsmeow keeps no copy of media: Download reads into memory, and its
// decrypted-event buffer drops a message's plaintext (with its media key)
// once the handler accepted it (the unaccepted ones are erased with their
// sender, see buffer.go).

// refPrefix starts a media reference of this channel.
const refPrefix = "wa1:"

// Media kinds of a reference: each a part of waE2E.Message.
const (
	refImage    = "image"
	refAudio    = "audio"
	refVideo    = "video"
	refDocument = "document"
	refSticker  = "sticker"
)

// downloadable is the part of a message whatsmeow downloads.
type downloadable interface {
	proto.Message
	whatsmeow.DownloadableMessage
	GetFileLength() uint64
	GetMimetype() string
	GetFileSHA256() []byte
}

// mediaRef returns the reference of a media part, with what it declares
// (type, name, length, hash); nil for a part with no file to fetch.
func mediaRef(kind string, part downloadable, filename string) *bot.MediaRef {
	if part == nil || (part.GetDirectPath() == "" && urlOf(part) == "") || len(part.GetMediaKey()) == 0 {
		return nil
	}
	keep, err := strip(kind, part)
	if err != nil {
		return nil
	}
	b, err := proto.Marshal(keep)
	if err != nil {
		return nil
	}
	ref := &bot.MediaRef{
		ID:       refPrefix + kind + ":" + base64.RawURLEncoding.EncodeToString(b),
		MIME:     part.GetMimetype(),
		Filename: filename,
		Size:     int64(min(part.GetFileLength(), 1<<40)),
	}
	if sum := part.GetFileSHA256(); len(sum) == 32 {
		ref.SHA256 = base64.StdEncoding.EncodeToString(sum)
	}
	return ref
}

func urlOf(p downloadable) string {
	if u, ok := p.(interface{ GetURL() string }); ok {
		return u.GetURL()
	}
	return ""
}

// strip copies the download fields of a part into a new message of its
// type: no caption, no thumbnail, no name, nothing else a person wrote.
func strip(kind string, p downloadable) (downloadable, error) {
	dp, key, enc, sum, n, mt := proto.String(p.GetDirectPath()), p.GetMediaKey(), p.GetFileEncSHA256(), p.GetFileSHA256(),
		proto.Uint64(p.GetFileLength()), proto.String(p.GetMimetype())
	u := proto.String(urlOf(p))
	switch kind {
	case refImage:
		return &waE2E.ImageMessage{URL: u, DirectPath: dp, MediaKey: key, FileEncSHA256: enc, FileSHA256: sum, FileLength: n, Mimetype: mt}, nil
	case refAudio:
		return &waE2E.AudioMessage{URL: u, DirectPath: dp, MediaKey: key, FileEncSHA256: enc, FileSHA256: sum, FileLength: n, Mimetype: mt}, nil
	case refVideo:
		return &waE2E.VideoMessage{URL: u, DirectPath: dp, MediaKey: key, FileEncSHA256: enc, FileSHA256: sum, FileLength: n, Mimetype: mt}, nil
	case refDocument:
		return &waE2E.DocumentMessage{URL: u, DirectPath: dp, MediaKey: key, FileEncSHA256: enc, FileSHA256: sum, FileLength: n, Mimetype: mt}, nil
	case refSticker:
		return &waE2E.StickerMessage{URL: u, DirectPath: dp, MediaKey: key, FileEncSHA256: enc, FileSHA256: sum, FileLength: n, Mimetype: mt}, nil
	}
	return nil, fmt.Errorf("media kind %q", kind)
}

// errBadRef is a reference this channel did not make.
var errBadRef = errors.New("not a linked-device media reference")

// parseRef decodes a reference made by mediaRef.
func parseRef(id string) (downloadable, error) {
	rest, ok := strings.CutPrefix(id, refPrefix)
	if !ok {
		return nil, errBadRef
	}
	kind, enc, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, errBadRef
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, errBadRef
	}
	var m downloadable
	switch kind {
	case refImage:
		m = &waE2E.ImageMessage{}
	case refAudio:
		m = &waE2E.AudioMessage{}
	case refVideo:
		m = &waE2E.VideoMessage{}
	case refDocument:
		m = &waE2E.DocumentMessage{}
	case refSticker:
		m = &waE2E.StickerMessage{}
	default:
		return nil, errBadRef
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, errBadRef
	}
	if len(m.GetMediaKey()) == 0 || (m.GetDirectPath() == "" && urlOf(m) == "") {
		return nil, errBadRef
	}
	return m, nil
}

// FetchMedia downloads a customer's attachment with whatsmeow's Download
// (the file is fetched from WhatsApp's media servers, its MAC and hashes
// checked, and decrypted with the media key). A file whose declared length
// is over limit is refused before the download; whatsmeow reads a file
// whole, so a file larger than it declared is refused once read. Errors:
// bot.ErrTooLarge, bot.ErrNotFound (the servers no longer have the file:
// they keep it for weeks, after which only the sender's phone could upload
// it again, which this channel does not ask for), bot.ErrUnavailable (not
// connected: the item waits without using up a try); others are retried.
func (c *Channel) FetchMedia(ctx context.Context, ref bot.MediaRef, limit int64) ([]byte, error) {
	part, err := parseRef(ref.ID)
	if err != nil {
		return nil, fmt.Errorf("whatsapp fetch media: %w: %w", err, bot.ErrNotFound)
	}
	if limit <= 0 {
		return nil, errors.New("whatsapp fetch media: limit must be positive")
	}
	if n := part.GetFileLength(); n > uint64(limit) {
		return nil, fmt.Errorf("whatsapp fetch media: %d bytes declared, over the %d-byte cap: %w", n, limit, bot.ErrTooLarge)
	}
	s := c.session()
	if s == nil {
		return nil, fmt.Errorf("whatsapp fetch media: %w", ErrNotRunning)
	}
	data, err := s.cli.Download(ctx, part)
	switch {
	case err == nil:
	case errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404), errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410),
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith403), errors.Is(err, whatsmeow.ErrNoURLPresent):
		return nil, fmt.Errorf("whatsapp fetch media: %w: %w", redact(err), bot.ErrNotFound)
	case transient(err), errors.Is(err, whatsmeow.ErrClientIsNil):
		return nil, fmt.Errorf("whatsapp fetch media: %w: %w", redact(err), bot.ErrUnavailable)
	default:
		return nil, fmt.Errorf("whatsapp fetch media: %w", redact(err))
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, fmt.Errorf("whatsapp fetch media: over the %d-byte cap: %w", limit, bot.ErrTooLarge)
	}
	return data, nil
}
