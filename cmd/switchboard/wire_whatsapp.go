package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
)

// webhookPath is where Meta posts the WhatsApp Business Platform's webhooks.
const webhookPath = "/webhooks/whatsapp"

// cloudProcessor is how the privacy notice names Meta when it runs the
// business's WhatsApp account.
const cloudProcessor = "Meta Platforms (WhatsApp Business Platform)"

// Replies of /disconnect whatsapp when there is nothing to unlink.
const msgCloudDisconnect = "WhatsApp runs on the WhatsApp Business Platform here: to disconnect it, remove the webhook or the phone number in Meta's WhatsApp Manager, then unset " + envCloudPhoneNumberID + " and restart."

// waParts is what the WhatsApp transport gives the rest of the wiring.
// Fields an implementation has no use for stay nil (never a typed nil).
type waParts struct {
	ch     bot.Channel
	forget bot.Forgetter // nil: it keeps nothing about people
	// resolve knows identities of a person its messages did not carry
	// (whatsmeow's LID map); nil: every pairing arrives in the messages
	// (the Cloud API sends wa_id and user_id together).
	resolve bot.IdentityResolver
	unlink  unlinker    // nil: /disconnect whatsapp explains what to do instead
	stale   staleBuffer // nil: nothing to purge
	// processor names Meta for the privacy notice when it processes the
	// business's messages; "" when WhatsApp only carries them.
	processor string
	// noUnlink is the /disconnect whatsapp reply when unlink is nil.
	noUnlink string
}

// buildWhatsApp builds the one WhatsApp transport the configuration
// selects: the linked device, or the WhatsApp Business Platform. The router
// takes one channel per platform, so both at once cannot run.
func buildWhatsApp(app *App, alerts *alerter) (waParts, error) {
	switch t := app.Config.WhatsAppTransport(); t {
	case transportLinked:
		return buildLinkedDevice(app, alerts)
	case transportCloud:
		return buildCloud(app, alerts)
	default:
		return waParts{}, fmt.Errorf("whatsapp transport %q: want %s or %s", t, transportLinked, transportCloud)
	}
}

// buildLinkedDevice builds the whatsmeow channel.
func buildLinkedDevice(app *App, alerts *alerter) (waParts, error) {
	cfg := app.Config
	app.Health.Register(compWhatsApp)
	wa, err := whatsapp.New(whatsapp.Options{
		Log:            app.Log,
		WhatsmeowLevel: max(zerolog.WarnLevel, app.Log.GetLevel()),
		Dir:            cfg.DataDir,
		PairPhone:      cfg.WhatsAppPairPhone,
		QR:             app.stdout(),
		Retry:          app.Store,
		OnState:        whatsAppStateReporter(app.Health, app.Metrics, alerts),
	})
	if err != nil {
		return waParts{}, fmt.Errorf("whatsapp: %w", err)
	}
	return waParts{ch: wa, forget: wa, resolve: wa, unlink: wa, stale: wa}, nil
}

// linkedLeftovers forgets people in the linked device's whatsapp.db when
// WhatsApp runs on the Business Platform or not at all: a session an
// earlier linked-device deployment left in the data directory still holds
// whatsmeow's rows about people (contacts, LID pairs, Signal sessions),
// and an erasure that deployment did not finish still owes them a Forget
// (its forget record names "whatsapp-linked"). It never connects; without
// whatsapp.db it does nothing and succeeds. It has no Platform, so the
// erasure's confirmation names only the channels that run.
type linkedLeftovers struct{ ch *whatsapp.Channel }

// newLinkedLeftovers builds the linked-device channel as a forgetter of
// the data directory's whatsapp.db. It does no I/O.
func newLinkedLeftovers(app *App) (linkedLeftovers, error) {
	ch, err := whatsapp.New(whatsapp.Options{
		Log:            app.Log,
		WhatsmeowLevel: max(zerolog.WarnLevel, app.Log.GetLevel()),
		Dir:            app.Config.DataDir,
	})
	if err != nil {
		return linkedLeftovers{}, fmt.Errorf("whatsapp leftovers: %w", err)
	}
	return linkedLeftovers{ch}, nil
}

// Forget removes whatsmeow's rows about the person from whatsapp.db.
func (l linkedLeftovers) Forget(ctx context.Context, subject bot.SubjectID, ids []bot.Identity) error {
	return l.ch.Forget(ctx, subject, ids)
}

// ForgetterName is the linked device's: the forgets it owes are the same.
func (l linkedLeftovers) ForgetterName() string { return l.ch.ForgetterName() }

// buildCloud builds the WhatsApp Business Platform channel and mounts its
// webhook. A linked-device session left in the data directory is not used;
// the log says how to unlink it.
func buildCloud(app *App, alerts *alerter) (waParts, error) {
	cfg := app.Config
	app.Health.Register(compWhatsApp)
	db := app.Store
	var reload func() (string, error)
	if file := cfg.CloudAccessTokenFile; file != "" {
		reload = func() (string, error) {
			tok, err := readSecretFile(file)
			if err != nil {
				return "", fmt.Errorf("%s: %w", envCloudAccessToken+"_FILE", err)
			}
			return tok, nil
		}
	}
	ch, err := whatsappcloud.New(whatsappcloud.Options{
		Log:           app.Log,
		PhoneNumberID: cfg.CloudPhoneNumberID,
		AccessToken:   cfg.CloudAccessToken.Value(),
		ReloadToken:   reload,
		AppSecret:     cfg.CloudAppSecret.Value(),
		VerifyToken:   cfg.CloudVerifyToken.Value(),
		GraphURL:      cfg.CloudGraphURL,
		Template:      bot.Template{Name: cfg.CloudTemplate, Language: cfg.CloudTemplateLanguage, FirstName: cfg.CloudTemplateParams == templateParamsFirstName},
		Now:           app.Now,
		OnState:       cloudStateReporter(app.Health, app.Metrics, alerts),
		LastInbound: func(ctx context.Context, chat bot.ChatID) (time.Time, error) {
			return db.LastInbound(ctx, bot.WhatsApp, chat)
		},
		StateDir: cfg.DataDir,
	})
	if err != nil {
		return waParts{}, fmt.Errorf("whatsapp cloud api: %w", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "whatsapp.db")); err == nil {
		app.Log.Warn().Msg("a linked-device WhatsApp session (whatsapp.db) is in the data directory but WhatsApp runs on the WhatsApp Business Platform: it is not used; stop Switchboard and run `switchboard whatsapp logout` to unlink it")
	} else if !errors.Is(err, fs.ErrNotExist) {
		app.Log.Debug().Err(err).Msg("could not look for a linked-device session")
	}
	app.Mux.Handle(webhookPath, ch.Handler())
	if reload != nil {
		app.Tasks = append(app.Tasks, func(ctx context.Context) { reloadTokenOnHUP(ctx, app.Log, ch) })
	}
	app.Log.Info().Str("path", webhookPath).Bool("template", cfg.CloudTemplate != "").Msg("WhatsApp on the WhatsApp Business Platform (Cloud API)")
	return waParts{ch: ch, forget: ch, processor: cloudProcessor, noUnlink: msgCloudDisconnect}, nil
}

// reloadTokenOnHUP reads the Cloud API's access token file again on every
// SIGHUP until ctx is done, so an operator who rotated the system-user
// token can apply it at once (it is also read again when Meta refuses the
// old one).
func reloadTokenOnHUP(ctx context.Context, log zerolog.Logger, ch *whatsappcloud.Channel) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			changed, err := ch.ReloadToken(ctx)
			if err != nil {
				log.Warn().Err(err).Msg("SIGHUP: WhatsApp access token file not read; the token in use stays")
				continue
			}
			log.Info().Bool("changed", changed).Msg("SIGHUP: WhatsApp access token file read")
		}
	}
}

// cloudStateReporter turns the Cloud API channel's health into /readyz
// states and metrics and, for states that need a person (a token, a
// permission, a blocked account), one admin alert per change. It never
// blocks.
func cloudStateReporter(health *Health, metrics *Metrics, alerts *alerter) func(whatsappcloud.Health) {
	var mu sync.Mutex
	var last whatsappcloud.State
	return func(h whatsappcloud.Health) {
		health.SetState(compWhatsApp, h.Ready(), string(h.State))
		metrics.WhatsAppState(string(h.State), 0)
		mu.Lock()
		changed := h.State != last
		last = h.State
		mu.Unlock()
		if changed && h.NeedsPerson() {
			alerts.send(h.String() + ". Replies wait in the outbox and go out once this is fixed.")
		}
	}
}
