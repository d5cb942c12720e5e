package bot

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"time"
)

// ErrAIObjected is returned by AI steps (transcription) asked to process a
// subject who objected (/stop); nothing was sent.
var ErrAIObjected = errors.New("the subject objected to AI processing")

// Words names a media kind for people: "voice note", "image", "audio file".
func (k MessageKind) Words() string {
	switch k {
	case KindVoice:
		return "voice note"
	case KindAudio:
		return "audio file"
	case "", KindText, KindOther:
		return "file"
	}
	return string(k)
}

// MediaState is where a media item's download stands.
type MediaState string

// Media states. A message is stored first, with its media pending; the
// bytes come later and may be retried, so nothing waits on a download.
const (
	MediaPending MediaState = "pending" // not fetched yet (or to be retried at NextAttempt)
	MediaFetched MediaState = "fetched" // the bytes are kept, sealed
	MediaFailed  MediaState = "failed"  // given up; Note says why in plain words
)

// Media is one stored attachment of a message.
type Media struct {
	ID        int64 // store row id
	Subject   SubjectID
	MessageID int64 // the message row it belongs to
	Platform  Platform
	Kind      MessageKind
	// MIME is the declared type until the bytes are fetched, then the type
	// the bytes were checked to be.
	MIME     string
	FileName string // sealed at rest
	// Size and SHA256 are the declared ones until fetched, then the
	// measured ones.
	Size   int64
	SHA256 []byte // sealed at rest
	State  MediaState
	// Attempts counts failed fetches; NextAttempt is when a pending item
	// is due again.
	Attempts    int
	NextAttempt time.Time
	// Note says in plain words why a fetch failed or was refused, for the
	// staff card; never message text or a file name.
	Note string
	// Ref is the channel's handle (MediaRef.ID); sealed at rest.
	Ref string
	// Thumb is a small JPEG preview of an image, nil if none.
	Thumb []byte // sealed at rest
	// Transcript is a voice note's text; sealed at rest like message text.
	Transcript string
	CreatedAt  time.Time
	FetchedAt  time.Time
	// AIRestricted is true when the subject objects to AI (/stop) now, or
	// had objected when the message was stored: the item is never
	// transcribed nor shown to a model. The store sets it.
	AIRestricted bool
	// Dir is In for a file the customer sent, Out for one staff attached
	// to a reply (kept under the customer, erased with them).
	Dir Direction
}

// MediaRef returns what a channel needs to fetch m again.
func (m Media) MediaRef() MediaRef {
	r := MediaRef{ID: m.Ref, MIME: m.MIME, Filename: m.FileName, Size: m.Size}
	if len(m.SHA256) == sha256.Size {
		r.SHA256 = hex.EncodeToString(m.SHA256)
	}
	return r
}

// NewMedia is the pending item to record for ref, received with stored
// message row messageID of the given kind (Inbound.Kind).
func NewMedia(messageID int64, kind MessageKind, ref MediaRef) Media {
	return Media{MessageID: messageID, Kind: kind, MIME: ref.MIME, FileName: ref.Filename,
		Size: max(ref.Size, 0), SHA256: ref.Digest(), Ref: ref.ID, State: MediaPending}
}

// Digest decodes SHA256 as the platforms write it: hex (64 digits) or
// base64 (standard or URL alphabet, padded or not). Anything else is nil:
// no hash to check against.
func (r MediaRef) Digest() []byte {
	s := strings.TrimSpace(r.SHA256)
	if len(s) == 2*sha256.Size {
		if b, err := hex.DecodeString(s); err == nil {
			return b
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sha256.Size {
			return b
		}
	}
	return nil
}

// MediaFetcher is implemented by channels that can download the media of
// inbound messages (whatsmeow's Download with the message's media keys; the
// Cloud API's media URL with the bearer token).
type MediaFetcher interface {
	// FetchMedia downloads the file ref names, reading at most limit
	// bytes: a larger file is an error wrapping ErrTooLarge, without
	// reading the rest. An attachment the platform no longer has (expired,
	// deleted) is an error wrapping ErrNotFound and is not retried; other
	// errors are retried later.
	FetchMedia(ctx context.Context, ref MediaRef, limit int64) ([]byte, error)
}

// MediaContent is what the router learnt about a fetched file before it is
// kept: the checked type and, for images, a preview.
type MediaContent struct {
	MIME  string // the type the bytes were checked to be
	Thumb []byte // JPEG preview, nil if none
	// Transcript is a voice note's text, kept with the bytes in one step:
	// an item is never seen fetched while its transcript is still coming.
	Transcript string
}

// MediaStore keeps attachments, sealed with the subject's key. It is the
// store seam the router's media worker uses; *store.DB implements it.
type MediaStore interface {
	// CreateMedia records a pending attachment of a stored message and
	// returns its id. The message need not wait for the bytes.
	CreateMedia(ctx context.Context, m Media) (int64, error)
	// SaveMediaBytes seals the bytes read from r (at most limit) and marks
	// the item fetched. It returns ErrNotFound if the item is gone (the
	// person was erased meanwhile); then nothing stays on disk.
	SaveMediaBytes(ctx context.Context, id int64, c MediaContent, r io.Reader, limit int64) error
	// OpenMedia returns a reader of the decrypted bytes of a fetched item;
	// it fails on the first chunk that does not authenticate. The caller
	// closes it.
	OpenMedia(ctx context.Context, id int64) (io.ReadCloser, error)
	// FindMedia returns one item (without its bytes).
	FindMedia(ctx context.Context, id int64) (Media, error)
	// MediaOfMessage returns the attachments of a message row.
	MediaOfMessage(ctx context.Context, messageID int64) ([]Media, error)
	// DueMediaFetches returns pending items whose NextAttempt is not after
	// now, oldest first.
	DueMediaFetches(ctx context.Context, now time.Time, limit int) ([]Media, error)
	// MarkMediaFailed records a failed fetch with a plain-words note: with
	// a non-zero retry time the item stays pending until then, with a zero
	// one it is failed for good.
	MarkMediaFailed(ctx context.Context, id int64, note string, retry time.Time) error
	// SetMediaTranscript stores a voice note's transcript.
	SetMediaTranscript(ctx context.Context, id int64, text string) error
	// DraftOfMessage returns the id of the draft answering the stored
	// message, or ErrNotFound if it has none (yet).
	DraftOfMessage(ctx context.Context, messageID int64) (int64, error)
	// AttachToDraft keeps data (checked as c) sealed under the draft's
	// customer as the file that goes with the draft's reply (m gives its
	// kind, name and size; Dir Out), replacing an earlier one, and returns
	// its id. ErrDecided if the draft was decided meanwhile, ErrNotFound if
	// it is gone. LoadDraft's DraftView.Attachment shows it.
	AttachToDraft(ctx context.Context, draftID int64, m Media, c MediaContent, data []byte) (int64, error)
}

// IsMediaKind reports whether messages of kind carry a file the channels
// can fetch.
func IsMediaKind(k MessageKind) bool {
	switch k {
	case KindImage, KindVoice, KindAudio, KindVideo, KindDocument, KindSticker:
		return true
	}
	return false
}

// Spoken reports whether kind is audio a Transcriber turns into text.
func (k MessageKind) Spoken() bool { return k == KindVoice || k == KindAudio }
