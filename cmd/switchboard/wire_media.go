package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/drafts"
	"github.com/switchboard/switchboard/media"
)

// buildMedia builds the media worker over the store: it fetches
// attachments through the channels that can (bot.MediaFetcher), checks
// them against the configured caps (media.Inspector), keeps them sealed,
// and, with an LLM configured and transcription on, transcribes voice
// notes. It runs as a background task; the router wakes it (newRouter).
func buildMedia(app *App, channels []bot.Channel) error {
	cfg := app.Config
	fetchers := map[bot.Platform]bot.MediaFetcher{}
	for _, ch := range channels {
		if f, ok := unwrapChannel(ch).(bot.MediaFetcher); ok {
			fetchers[ch.Platform()] = f
		}
	}
	opts := bot.MediaWorkerOptions{
		Log:      app.Log.With().Str("component", "media").Logger(),
		Store:    app.Store,
		Fetchers: fetchers,
		Inspector: media.Inspector{Limits: media.Limits{
			Media: cfg.MediaMaxBytes, Document: cfg.DocumentMaxBytes, MaxPixels: cfg.MediaMaxPixels,
		}},
		Now: app.Now,
	}
	if cfg.LLM != nil && cfg.TranscribeModel != transcribeOff {
		tr, err := newTranscriber(app)
		if err != nil {
			return err
		}
		opts.Transcriber = tr
	}
	w, err := bot.NewMediaWorker(opts)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	app.Media = w
	app.Tasks = append(app.Tasks, func(ctx context.Context) { _ = w.Run(ctx) })
	app.Log.Info().Int("fetchers", len(fetchers)).Bool("transcripts", opts.Transcriber != nil).
		Int64("media_max_bytes", cfg.MediaMaxBytes).Int64("document_max_bytes", cfg.DocumentMaxBytes).
		Msg("attachments are kept sealed; photos get a preview on the card")
	return nil
}

// newTranscriber builds the voice-note transcriber on the drafter's
// endpoint, key and objection gate, with the configured model (with Azure:
// the Whisper deployment of that name).
func newTranscriber(app *App) (*drafts.Transcriber, error) {
	o := app.Config.LLM.Options()
	o.Log = app.Log.With().Str("component", "transcribe").Logger()
	store := app.Store
	o.Restricted = func(ctx context.Context, subject bot.SubjectID) (bool, error) {
		s, err := store.FindSubject(ctx, subject)
		if err != nil {
			return false, fmt.Errorf("restricted: %w", err)
		}
		return s.AIRestricted, nil
	}
	to := drafts.TranscriberOptionsFrom(o, app.Config.TranscribeModel)
	if o.Azure != nil {
		az := *o.Azure
		az.Deployment = app.Config.TranscribeModel
		to.Azure, to.Model = &az, ""
	}
	tr, err := drafts.NewTranscriber(to)
	if err != nil {
		return nil, fmt.Errorf("transcriber: %w", err)
	}
	app.Log.Info().Str("model", app.Config.TranscribeModel).Msg("voice notes are transcribed for the cards and the drafts")
	return tr, nil
}

// unwrapChannel returns the channel inside the wiring's wrappers.
func unwrapChannel(ch bot.Channel) bot.Channel {
	for {
		r, ok := ch.(readyOnRun)
		if !ok {
			return ch
		}
		ch = r.Channel
	}
}

// mediaViews is the Teams channel's way to the router's View checks and
// the store's files. The Teams channel is built before the router, so the
// router is set once it exists; before that, nothing is found.
type mediaViews struct {
	store interface {
		OpenMedia(ctx context.Context, id int64) (io.ReadCloser, error)
	}
	mu     sync.Mutex
	router *bot.Router
}

func (m *mediaViews) set(r *bot.Router) {
	m.mu.Lock()
	m.router = r
	m.mu.Unlock()
}

// ViewMedia implements teams.MediaSource.
func (m *mediaViews) ViewMedia(ctx context.Context, draftID int64, token string, mediaID int64) (bot.Media, bot.Card, error) {
	m.mu.Lock()
	r := m.router
	m.mu.Unlock()
	if r == nil {
		return bot.Media{}, bot.Card{}, fmt.Errorf("view media: starting: %w", bot.ErrNotFound)
	}
	return r.MediaView(ctx, draftID, token, mediaID)
}

// OpenMedia implements teams.MediaSource.
func (m *mediaViews) OpenMedia(ctx context.Context, id int64) (io.ReadCloser, error) {
	rc, err := m.store.OpenMedia(ctx, id)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return nil, fmt.Errorf("open media: %w", err)
	}
	return rc, err
}
