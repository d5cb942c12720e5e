package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
)

// App is what serve hands to the constructors of the channels and the
// router: the shared logger, store, metrics, health registry and HTTP mux.
type App struct {
	Config Config
	Log    zerolog.Logger
	// Store is the open SQLite store; it also serves the privacy engine
	// and channels' extra needs.
	Store   *store.DB
	Metrics *Metrics
	// Health takes component readiness for /readyz. A channel registers its
	// component (Health.Register("whatsapp")) when it is built and reports
	// with Health.SetState("whatsapp", ready, "connected").
	Health *Health
	// Mux serves the listen address; channels mount their endpoints here,
	// e.g. Mux.Handle("POST /api/messages", teamsHandler).
	Mux *http.ServeMux
	// Drafter proposes replies; set by the channel builder when an LLM is
	// configured. If nil, bot.ManualDrafter.
	Drafter bot.Drafter
	// Notifier posts draft cards to staff; the Teams channel sets it. If
	// nil, drafts wait uncarded until a router with a notifier starts.
	Notifier bot.Notifier
	// Commands runs data-rights and admin commands; the privacy package
	// sets it. If nil, the router knows only /help.
	Commands bot.Commands
}

// channelBuilder builds the channels over app and may set app.Drafter,
// app.Notifier and app.Commands. serve calls it once, after the store is open.
type channelBuilder func(app *App) ([]bot.Channel, error)

// buildChannels is the production channelBuilder: it builds the chat
// channels the configuration enables. WhatsApp (unless --no-whatsapp) and
// Teams (when MICROSOFT_APP_ID or --teams-dev is set) are added here by their
// issues: each registers its health component on app.Health, Teams mounts
// its handler on app.Mux and sets app.Notifier, and the drafts package sets
// app.Drafter when an LLM is configured.
func buildChannels(app *App) ([]bot.Channel, error) {
	_ = app
	return nil, nil
}

// openStore builds and opens the SQLite store in the data dir and reports it
// on health.
func openStore(ctx context.Context, cfg Config, key []byte, log zerolog.Logger, health *Health) (*store.DB, error) {
	db, err := store.New(store.Options{
		Dir:       cfg.DataDir,
		MasterKey: append([]byte(nil), key...),
		Log:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	health.SetState(compStore, false, "opening")
	if err := db.Open(ctx); err != nil {
		health.SetState(compStore, false, StateFailed)
		return nil, fmt.Errorf("open store: %w", err)
	}
	health.SetState(compStore, true, "open")
	return db, nil
}

// newRouter builds the router over the store, channels, drafter and
// notifier in app.
func newRouter(app *App, channels []bot.Channel) (*bot.Router, error) {
	drafter := app.Drafter
	if drafter == nil {
		drafter = bot.ManualDrafter{}
	}
	r, err := bot.NewRouter(bot.Options{
		Log:      app.Log,
		Store:    app.Store,
		Drafter:  drafter,
		Notifier: app.Notifier,
		Commands: app.Commands,
		Channels: channels,
		Metrics:  app.Metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	return r, nil
}

// runChannels runs each channel, feeding sink, until ctx is done. A channel
// that fails for good is logged and marked failed on /readyz; the process
// keeps running for the others (and for /readyz to tell). The returned
// function waits until every channel's Run has returned, up to timeout.
func runChannels(ctx context.Context, app *App, channels []bot.Channel, sink bot.Sink) func(timeout time.Duration) error {
	var wg sync.WaitGroup
	for _, ch := range channels {
		comp := string(ch.Platform())
		wg.Go(func() {
			err := ch.Run(ctx, sink)
			switch {
			case err != nil && ctx.Err() == nil:
				app.Log.Error().Err(err).Str("platform", comp).Msg("channel stopped")
				app.Health.SetState(comp, false, StateFailed)
				app.Metrics.Failure("channel")
			case err != nil && !errors.Is(err, context.Canceled):
				app.Log.Warn().Err(err).Str("platform", comp).Msg("channel stopped with an error while shutting down")
				app.Health.SetState(comp, false, StateStopped)
			default:
				app.Health.SetState(comp, false, StateStopped)
			}
		})
	}
	return func(timeout time.Duration) error {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-done:
			return nil
		case <-t.C:
			return fmt.Errorf("channels: still running after %s", timeout)
		}
	}
}
