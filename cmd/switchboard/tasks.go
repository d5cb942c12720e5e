package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/privacy"
)

// Timing of the background tasks.
const (
	alertTimeout          = 30 * time.Second
	alertQueue            = 16
	maintenanceFirstDelay = 2 * time.Minute
	maintenanceEvery      = 24 * time.Hour
	maintenanceTimeout    = 30 * time.Minute
	// staleEventAge is how long whatsmeow's event buffer may hold the
	// plaintext of a message the sink never stored.
	staleEventAge = 7 * 24 * time.Hour
)

// alerter posts operational alerts (no personal data) to the admins through
// app.Notifier, off the caller's goroutine: callers such as the WhatsApp
// channel's state callback must not block. Without a notifier, alerts are
// logged only.
type alerter struct {
	app *App
	log zerolog.Logger
	ch  chan string
}

func newAlerter(app *App) *alerter {
	return &alerter{app: app, log: app.Log.With().Str("component", "alerts").Logger(), ch: make(chan string, alertQueue)}
}

// send queues text; a full queue drops it with a log line.
func (a *alerter) send(text string) {
	select {
	case a.ch <- text:
	default:
		a.log.Warn().Msg("admin alert dropped: too many at once")
	}
}

// run posts queued alerts until ctx is done.
func (a *alerter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case text := <-a.ch:
			a.post(ctx, text)
		}
	}
}

func (a *alerter) post(ctx context.Context, text string) {
	// The text is operator-safe by contract (Notifier.Alert carries no
	// personal data), so it may be logged too.
	a.log.Warn().Str("alert", text).Msg("admin alert")
	n := a.app.Notifier
	if n == nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, alertTimeout)
	defer cancel()
	if err := n.Alert(actx, text); err != nil {
		a.log.Error().Err(err).Msg("admin alert not delivered")
	}
}

// staleBuffer is the WhatsApp channel's retention hook.
type staleBuffer interface {
	PurgeStale(ctx context.Context, maxAge time.Duration) (int, error)
}

// mediaSweeper removes media files no row points at (store.DB.SweepMedia).
type mediaSweeper interface {
	SweepMedia(ctx context.Context) (int, error)
}

// maintenance is the daily job: the retention purge, whatsmeow's stale
// plaintext, and reminders of data-rights requests coming due.
type maintenance struct {
	log      zerolog.Logger
	privacy  *privacy.Service
	whatsapp staleBuffer  // nil with --no-whatsapp
	media    mediaSweeper // nil in tests that do not need it
	alerts   *alerter
	now      func() time.Time
}

// run waits maintenanceFirstDelay, then runs once a day until ctx is done.
func (m *maintenance) run(ctx context.Context) {
	t := time.NewTimer(maintenanceFirstDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.once(ctx)
			t.Reset(maintenanceEvery)
		}
	}
}

// once runs every step; a failing step does not stop the others.
func (m *maintenance) once(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, maintenanceTimeout)
	defer cancel()
	now := time.Now
	if m.now != nil {
		now = m.now
	}
	at := now()
	start := time.Now()
	failed := 0
	fail := func(err error, msg string) {
		failed++
		lvl := zerolog.ErrorLevel
		if ctx.Err() != nil {
			lvl = zerolog.WarnLevel // cut off by shutdown; the next run resumes
		}
		m.log.WithLevel(lvl).Err(err).Msg(msg)
	}
	if err := m.privacy.Purge(ctx, at); err != nil {
		fail(err, "retention purge failed")
	}
	if m.whatsapp != nil {
		n, err := m.whatsapp.PurgeStale(ctx, staleEventAge)
		if err != nil {
			fail(err, "whatsapp stale buffer purge failed")
		} else if n > 0 {
			m.log.Info().Int("rows", n).Msg("whatsapp stale buffer purged")
		}
	}
	if m.media != nil {
		if _, err := m.media.SweepMedia(ctx); err != nil {
			fail(err, "media sweep failed")
		}
	}
	reqs, err := m.privacy.Reminders(ctx, at)
	if err != nil {
		fail(err, "request reminders failed")
	} else if text := privacy.ReminderText(reqs, at); text != "" {
		m.alerts.send(text)
	}
	if ctx.Err() != nil {
		m.log.Warn().Int("failed_steps", failed).Dur("took", time.Since(start)).Msg("daily maintenance cut short")
		return
	}
	m.log.Info().Int("failed_steps", failed).Int("reminders", len(reqs)).Dur("took", time.Since(start)).Msg("daily maintenance done")
}
