package bot

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// How attachments move through the router:
//
//  1. Deliver stores the message with its attachment as a pending media
//     item in one transaction (Message.Media); a store that ignores
//     Message.Media gets the item right after (CreateMedia), and the
//     message never waits for the bytes. The worker is woken.
//  2. The start lane posts the card as usual; it shows "downloading".
//  3. The first draft of a voice note waits for its transcript (a photo,
//     for an ImageDrafter that wants it: for its bytes), at most
//     MediaWait and within the one DraftDeadline, then drafts with it.
//     If the item is not settled by then, the draft is made without it,
//     marked AwaitingMedia, and made again once the item settles.
//  4. Each settled item (fetched, transcribed, or refused with a note)
//     brings the card up to date: preview, transcript, name, type, size.

// ImageDrafter is implemented by drafters that can look at photos (a
// vision model). The router then waits for a photo's bytes before the first
// draft and passes them in DraftRequest.Images; never for a subject who
// objected to AI.
type ImageDrafter interface {
	// WantsImages reports whether the drafter wants photos now (the
	// business turned its vision switch on).
	WantsImages() bool
}

// DraftImage is one photo for an ImageDrafter, in memory only.
type DraftImage struct {
	MIME string
	Data []byte
}

// maxDraftImage bounds a photo handed to an ImageDrafter.
const maxDraftImage = 8 << 20

// Bounds of a platform's media handle kept with a message; past them the
// field is dropped (a name, a type) or the handle is (an absurd id), so the
// message itself is always stored.
const (
	maxRefID   = 32 << 10
	maxRefName = 1000
	maxRefMIME = 255
)

// cleanMediaRef bounds what a channel said about an attachment.
func cleanMediaRef(ref *MediaRef) *MediaRef {
	if ref == nil || ref.ID == "" || len(ref.ID) > maxRefID {
		return nil
	}
	out := *ref
	if len(out.MIME) > maxRefMIME || !utf8.ValidString(out.MIME) {
		out.MIME = ""
	}
	out.Filename = cutUTF8(strings.ToValidUTF8(out.Filename, ""), maxRefName)
	if len(out.SHA256) > 128 {
		out.SHA256 = ""
	}
	out.Size = max(out.Size, 0)
	return &out
}

// mediaStored makes sure the stored message m has its pending item (a store
// that does not record Message.Media gets it now) and wakes the worker.
func (r *Router) mediaStored(ctx context.Context, log zerolog.Logger, m Message) {
	items, err := r.mediaStore.MediaOfMessage(ctx, m.ID)
	if err == nil && len(items) == 0 {
		// The message is stored; a crash before this line loses only the
		// download (staff see the placeholder and can ask again).
		_, err = r.mediaStore.CreateMedia(ctx, NewMedia(m.ID, m.Kind, *m.Media))
	}
	if err != nil {
		r.metrics.Failure("media")
		log.Warn().Err(err).Msg("attachment not recorded; staff see its placeholder")
		return
	}
	r.media.Wake()
}

// wantsImages reports whether the drafter looks at photos now.
func (r *Router) wantsImages() bool {
	d, ok := r.drafter.(ImageDrafter)
	return ok && d.WantsImages()
}

// awaited reports whether a first draft should wait for item m: a voice
// note to transcribe, or a photo for a drafter that looks at them, that is
// still on its first download (an item waiting for a retry is not waited
// for).
func (r *Router) awaited(m Media) bool {
	if m.State != MediaPending || m.Attempts > 0 {
		return false
	}
	return (m.Kind.Spoken() && r.media.Transcribes()) || (m.Kind == KindImage && r.wantsImages())
}

func (r *Router) awaitsAny(ms []Media) bool {
	for _, m := range ms {
		if r.awaited(m) {
			return true
		}
	}
	return false
}

// awaitMedia waits, at most MediaWait, until no attachment of the draft's
// message is awaited, and returns the draft as it then stands and how long
// it waited. Items that settle wake it (mediaSettled).
func (r *Router) awaitMedia(ctx context.Context, log zerolog.Logger, view DraftView) (DraftView, time.Duration) {
	if r.media == nil || view.Message.ID == 0 || !r.awaitsAny(view.Media) {
		return view, 0
	}
	start := time.Now()
	id := view.Message.ID
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.mediaWaiters[id] = append(r.mediaWaiters[id], ch)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		ws := r.mediaWaiters[id]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(r.mediaWaiters, id)
		} else {
			r.mediaWaiters[id] = ws
		}
		r.mu.Unlock()
	}()
	timer := time.NewTimer(r.mediaWait)
	defer timer.Stop()
	for {
		// Read after registering, so a settle in between is not missed.
		v, err := r.store.LoadDraft(ctx, view.Draft.ID)
		if err != nil {
			return view, time.Since(start)
		}
		view = v
		if !r.awaitsAny(view.Media) {
			log.Debug().Dur("waited", time.Since(start)).Msg("attachment ready for the draft")
			return view, time.Since(start)
		}
		select {
		case <-ch:
		case <-timer.C:
			log.Info().Dur("waited", time.Since(start)).Msg("attachment not ready in time; drafting without it")
			return view, time.Since(start)
		case <-ctx.Done():
			return view, time.Since(start)
		}
	}
}

// mediaSettled is the worker's report that item m settled (kept, with its
// transcript, or refused with a note). It wakes a first draft waiting for
// it, brings the card up to date, and drafts again a draft that was made
// without the item.
func (r *Router) mediaSettled(ctx context.Context, m Media) {
	r.mu.Lock()
	for _, ch := range r.mediaWaiters[m.MessageID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
	log := r.log.With().Int64("media", m.ID).Str("subject", string(m.Subject)).Logger()
	id, err := r.mediaStore.DraftOfMessage(ctx, m.MessageID)
	if errors.Is(err, ErrNotFound) {
		return // the start lane renders the card with the item as it stands
	}
	if err != nil {
		log.Warn().Err(err).Msg("draft of settled media not found")
		return
	}
	r.refreshCard(ctx, id)
	view, err := r.store.LoadDraft(ctx, id)
	if err != nil {
		return
	}
	res := view.Draft.Result
	if view.Draft.Status != DraftPending || res == nil || !res.AwaitingMedia || r.awaitsAny(view.Media) {
		return
	}
	if err := r.drafting.push(chatKey(view.Draft.Platform, view.Draft.Chat), job{draftID: id, fresh: true}); err != nil && !errors.Is(err, ErrStopped) {
		log.Warn().Err(err).Msg("draft made without its attachment not queued again")
		return
	}
	log.Info().Int64("draft", id).Msg("attachment settled after the draft: drafting again with it")
}

// draftInputs adds to req what the drafter may use of the message's
// attachments: their descriptions, a voice note's transcript as the
// message text, and (for an ImageDrafter that wants them) the photos'
// bytes; and the transcripts of earlier voice notes in the history. It
// reports whether an awaited item was not ready. The caller checked that
// the subject did not object to AI.
func (r *Router) draftInputs(ctx context.Context, log zerolog.Logger, req *DraftRequest) (awaiting bool) {
	if r.mediaStore == nil {
		return false
	}
	if IsMediaKind(req.Message.Kind) && req.Message.ID != 0 {
		items, err := r.mediaStore.MediaOfMessage(ctx, req.Message.ID)
		if err != nil {
			log.Warn().Err(err).Msg("attachments unavailable; drafting from the placeholder")
		}
		req.Media = items
		for _, it := range items {
			if r.awaited(it) {
				awaiting = true
			}
			if it.Kind.Spoken() && it.Transcript != "" && !it.AIRestricted {
				req.Message.Text = strings.TrimSpace(it.Transcript + "\n" + req.Message.Text)
			}
			if it.Kind == KindImage && it.State == MediaFetched && !it.AIRestricted && r.wantsImages() && it.Size <= maxDraftImage {
				if data, err := r.readMedia(ctx, it.ID, maxDraftImage); err == nil {
					req.Images = append(req.Images, DraftImage{MIME: it.MIME, Data: data})
				} else {
					log.Warn().Err(err).Int64("media", it.ID).Msg("photo not read for the drafter")
				}
			}
		}
	}
	for i, h := range req.History {
		if !h.Kind.Spoken() || h.Text != "" || h.AIRestricted {
			continue
		}
		items, err := r.mediaStore.MediaOfMessage(ctx, h.ID)
		if err != nil {
			continue
		}
		for _, it := range items {
			if it.Transcript != "" && !it.AIRestricted {
				req.History[i].Text = it.Transcript
			}
		}
	}
	return awaiting
}

// readMedia reads a kept item's bytes, at most limit.
func (r *Router) readMedia(ctx context.Context, id int64, limit int64) ([]byte, error) {
	rc, err := r.mediaStore.OpenMedia(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		clear(b)
		return nil, ErrTooLarge
	}
	return b, nil
}

// Card notes about attachments.
const (
	noteMediaDownloading = "being downloaded…"
	noteNoTranscriptAI   = "Not transcribed: AI is off at the customer's request."
	noteNoTranscriber    = "Not transcribed: no AI model is set up for voice notes."
	noteNoTranscript     = "No transcript: it could not be made, or nothing was said."
	// NoteAwaitingMedia is the card note of a draft made before its voice
	// note was transcribed (or its photo kept).
	NoteAwaitingMedia = "Drafted before the voice note was transcribed: it is drafted again once the transcript is in."
)

// cardMedia is what the card shows of the message's attachments.
func (r *Router) cardMedia(v DraftView) []CardMedia {
	var out []CardMedia
	for _, m := range v.Media {
		c := CardMedia{ID: m.ID, Kind: m.Kind, State: m.State, MIME: m.MIME, Size: m.Size, FileName: m.FileName,
			Thumb: m.Thumb, Transcript: m.Transcript, Note: m.Note}
		switch m.State {
		case MediaPending:
			if c.Note == "" {
				c.Note = "The " + m.Kind.Words() + " is " + noteMediaDownloading
			}
		case MediaFetched:
			if m.Kind.Spoken() && m.Transcript == "" {
				switch {
				case m.AIRestricted:
					c.Note = noteNoTranscriptAI
				case r.media == nil || !r.media.Transcribes():
					c.Note = noteNoTranscriber
				default:
					c.Note = noteNoTranscript
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// MediaView checks a staff member's View click on a card and returns the
// attachment and the draft's card as it stands: the draft exists, token is
// its card's action token, the item is an attachment of the draft's message
// and its bytes are kept. Any mismatch is an error wrapping ErrNotFound,
// with no hint which (the channel has checked the clicker is staff).
func (r *Router) MediaView(ctx context.Context, draftID int64, token string, mediaID int64) (Media, Card, error) {
	if r.mediaStore == nil {
		return Media{}, Card{}, fmt.Errorf("media view: %w", ErrNotFound)
	}
	view, err := r.store.LoadDraft(ctx, draftID)
	if err != nil {
		return Media{}, Card{}, fmt.Errorf("media view: %w", err)
	}
	if view.Draft.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(view.Draft.Token)) != 1 {
		return Media{}, Card{}, fmt.Errorf("media view: %w", ErrNotFound)
	}
	for _, m := range view.Media {
		if m.ID == mediaID && m.State == MediaFetched {
			r.log.Info().Int64("draft", draftID).Int64("media", mediaID).Str("subject", string(view.Draft.Subject)).Msg("attachment opened by staff")
			return m, r.cardFor(view), nil
		}
	}
	return Media{}, Card{}, fmt.Errorf("media view: %w", ErrNotFound)
}
