package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// MediaInspector checks a downloaded file before it is kept and makes its
// preview; media.Inspector implements it.
type MediaInspector interface {
	// Limit returns the size cap for files of kind, in bytes.
	Limit(kind MessageKind) int64
	// Inspect checks data, fetched for m (its kind and what the platform
	// declared: type, size if known, hash), and returns what to keep. A
	// refusal (empty, over the cap, cut off, wrongly typed, a
	// decompression bomb) is an error with a Note() string for staff.
	Inspect(m Media, data []byte) (MediaContent, error)
}

// Transcriber turns a voice note into text; drafts.Transcriber implements
// it. It returns an error wrapping ErrAIObjected for a subject who said
// /stop, without sending anything.
type Transcriber interface {
	Transcribe(ctx context.Context, subject SubjectID, mime string, audio []byte) (string, error)
}

// MediaWorkerOptions configure a MediaWorker.
type MediaWorkerOptions struct {
	// Log receives media ids, subject ids, kinds, sizes and outcomes only.
	Log zerolog.Logger
	// Store keeps the items; required.
	Store MediaStore
	// Fetchers download media per platform: the channels that implement
	// MediaFetcher. An item of a platform with none fails with a note.
	Fetchers map[Platform]MediaFetcher
	// Inspector checks downloads; required.
	Inspector MediaInspector
	// Transcriber, if set, transcribes voice notes and audio files once
	// they are kept. If nil, nothing is transcribed.
	Transcriber Transcriber
	// OnSettled, if set, is called after an item is fetched (and
	// transcribed) or failed for good, so the staff card can show it.
	OnSettled func(ctx context.Context, m Media)
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Backoff gives the wait before retry number n (1-based). If nil,
	// 1 min, 5 min, 15 min, 1 h, 3 h, 6 h, 12 h.
	Backoff func(n int) time.Duration
	// MaxAttempts is how many fetches are tried before giving up. If 0, 8.
	MaxAttempts int
	// Poll is how often due items are looked for when not woken. If 0,
	// 30 seconds.
	Poll time.Duration
	// Batch is how many due items one round takes. If 0, 20.
	Batch int
}

// MediaWorker downloads, checks, keeps and transcribes the media of stored
// messages, outside the path that stores the message: a message is never
// held back by its attachment. Items are retried with backoff; a refused
// or lost file fails with a plain-words note. It is safe for concurrent
// use; Run it once.
type MediaWorker struct {
	o    MediaWorkerOptions
	wake chan struct{}
}

// defaultMediaBackoff is the retry schedule: about a day in all, within
// the days the Cloud API keeps a received media id (about 7).
var defaultMediaBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour}

// NewMediaWorker validates opts. It does no I/O.
func NewMediaWorker(opts MediaWorkerOptions) (*MediaWorker, error) {
	if opts.Store == nil || opts.Inspector == nil {
		return nil, errors.New("media worker: Store and Inspector are required")
	}
	if opts.MaxAttempts < 0 || opts.Poll < 0 || opts.Batch < 0 {
		return nil, errors.New("media worker: MaxAttempts, Poll and Batch must not be negative")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Backoff == nil {
		opts.Backoff = func(n int) time.Duration { return defaultMediaBackoff[min(max(n, 1), len(defaultMediaBackoff))-1] }
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 8
	}
	if opts.Poll == 0 {
		opts.Poll = 30 * time.Second
	}
	if opts.Batch == 0 {
		opts.Batch = 20
	}
	return &MediaWorker{o: opts, wake: make(chan struct{}, 1)}, nil
}

// Wake makes Run look for due items now (after CreateMedia). It never
// blocks.
func (w *MediaWorker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run processes due items until ctx is done, when woken and every Poll.
func (w *MediaWorker) Run(ctx context.Context) error {
	t := time.NewTicker(w.o.Poll)
	defer t.Stop()
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.o.Log.Warn().Err(err).Msg("media round failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-t.C:
		}
	}
}

// RunOnce processes the items due now, one at a time (a download can be
// 100 MB), and returns how many it settled or rescheduled.
func (w *MediaWorker) RunOnce(ctx context.Context) (int, error) {
	due, err := w.o.Store.DueMediaFetches(ctx, w.o.Now(), w.o.Batch)
	if err != nil {
		return 0, fmt.Errorf("media round: %w", err)
	}
	n := 0
	for _, m := range due {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if w.process(ctx, m) {
			n++
		}
	}
	return n, nil
}

// noter is an error with words for staff (media.Error).
type noter interface{ Note() string }

// process handles one due item; false means it was left due (the channel
// is reconnecting).
func (w *MediaWorker) process(ctx context.Context, m Media) bool {
	log := w.o.Log.With().Int64("media", m.ID).Str("subject", string(m.Subject)).Str("kind", string(m.Kind)).Logger()
	what := m.Kind.Words()
	f := w.o.Fetchers[m.Platform]
	if f == nil {
		w.fail(ctx, log, m, fmt.Sprintf("The %s cannot be downloaded from this chat, so it was not kept.", what))
		return true
	}
	data, err := f.FetchMedia(ctx, m.MediaRef(), w.o.Inspector.Limit(m.Kind))
	switch {
	case err == nil:
	case errors.Is(err, ErrUnavailable):
		log.Info().Msg("media fetch waits for the channel")
		return false
	case errors.Is(err, ErrTooLarge):
		w.fail(ctx, log, m, fmt.Sprintf("The %s is over the size limit for %s, so it was not kept.", what, withArticle(what)))
		return true
	case errors.Is(err, ErrNotFound):
		w.fail(ctx, log, m, fmt.Sprintf("The %s is no longer available to download, so it was not kept. Ask the customer to send it again.", what))
		return true
	default:
		if ctx.Err() != nil {
			return false
		}
		log.Warn().Err(err).Int("attempt", m.Attempts+1).Msg("media fetch failed")
		if m.Attempts+1 >= w.o.MaxAttempts {
			w.fail(ctx, log, m, fmt.Sprintf("The %s could not be downloaded after %d tries, so it was not kept. Ask the customer to send it again.", what, m.Attempts+1))
			return true
		}
		w.retry(ctx, log, m, fmt.Sprintf("The %s has not downloaded yet; we will try again.", what))
		return true
	}
	content, err := w.o.Inspector.Inspect(m, data)
	if err != nil {
		note := fmt.Sprintf("The %s could not be kept.", what)
		var n noter
		if errors.As(err, &n) {
			note = n.Note()
		}
		log.Info().Err(err).Msg("media refused")
		w.fail(ctx, log, m, note)
		return true
	}
	if err := w.o.Store.SaveMediaBytes(ctx, m.ID, content, bytes.NewReader(data), int64(len(data))); err != nil {
		if errors.Is(err, ErrNotFound) {
			log.Info().Msg("media gone before it was kept (erased or revoked)")
			return true
		}
		log.Warn().Err(err).Msg("media not saved")
		w.retry(ctx, log, m, fmt.Sprintf("The %s has not been saved yet; we will try again.", what))
		return true
	}
	log.Info().Int("bytes", len(data)).Str("mime", content.MIME).Bool("thumb", content.Thumb != nil).Msg("media kept")
	if (m.Kind == KindVoice || m.Kind == KindAudio) && w.o.Transcriber != nil {
		w.transcribe(ctx, log, m, content.MIME, data)
	}
	clear(data)
	w.settled(ctx, log, m.ID)
	return true
}

// transcribe stores a voice note's transcript; a failure leaves the note
// kept without one (staff can still play it).
func (w *MediaWorker) transcribe(ctx context.Context, log zerolog.Logger, m Media, mime string, data []byte) {
	text, err := w.o.Transcriber.Transcribe(ctx, m.Subject, mime, data)
	switch {
	case errors.Is(err, ErrAIObjected):
		log.Info().Msg("no transcript: the subject objected to AI")
		return
	case err != nil:
		log.Warn().Err(err).Msg("transcription failed")
		return
	}
	if err := w.o.Store.SetMediaTranscript(ctx, m.ID, text); err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn().Err(err).Msg("transcript not saved")
	}
}

func (w *MediaWorker) retry(ctx context.Context, log zerolog.Logger, m Media, note string) {
	at := w.o.Now().Add(w.o.Backoff(m.Attempts + 1))
	if err := w.o.Store.MarkMediaFailed(ctx, m.ID, note, at); err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn().Err(err).Msg("media retry not recorded")
	}
}

func (w *MediaWorker) fail(ctx context.Context, log zerolog.Logger, m Media, note string) {
	if err := w.o.Store.MarkMediaFailed(ctx, m.ID, note, time.Time{}); err != nil {
		if !errors.Is(err, ErrNotFound) {
			log.Warn().Err(err).Msg("media failure not recorded")
		}
		return
	}
	w.settled(ctx, log, m.ID)
}

// settled hands the item as it now stands to OnSettled.
func (w *MediaWorker) settled(ctx context.Context, log zerolog.Logger, id int64) {
	if w.o.OnSettled == nil {
		return
	}
	m, err := w.o.Store.FindMedia(ctx, id)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			log.Warn().Err(err).Msg("settled media not reloaded")
		}
		return
	}
	w.o.OnSettled(ctx, m)
}

// withArticle puts "a" or "an" before a kind's words.
func withArticle(w string) string {
	if w != "" && (w[0] == 'a' || w[0] == 'e' || w[0] == 'i' || w[0] == 'o' || w[0] == 'u') {
		return "an " + w
	}
	return "a " + w
}
