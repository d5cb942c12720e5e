package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/teams"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/drafts"
	"github.com/switchboard/switchboard/privacy"
	"github.com/switchboard/switchboard/store"
)

// App is what serve hands to the constructors of the channels and the
// router: the shared logger, store, metrics, health registry and HTTP mux.
type App struct {
	Config Config
	Log    zerolog.Logger
	// Store is the open store (openStore); it also serves the privacy
	// engine, the media worker and the channels' extra needs.
	Store   appStore
	Metrics *Metrics
	// Health takes component readiness for /readyz. A channel registers its
	// component (Health.Register("whatsapp")) when it is built and reports
	// with Health.SetState("whatsapp", ready, "connected").
	Health *Health
	// Mux serves the listen address; channels mount their endpoints here,
	// e.g. Mux.Handle("POST /api/messages", teamsHandler).
	Mux *http.ServeMux
	// Drafter proposes replies; set by the channel builder when an LLM is
	// configured (a drafter set before buildChannels is kept when none
	// is). If nil, bot.ManualDrafter.
	Drafter bot.Drafter
	// Notifier posts draft cards to staff; the Teams channel sets it. If
	// nil, drafts wait uncarded until a router with a notifier starts.
	Notifier bot.Notifier
	// Commands runs data-rights and admin commands; the privacy package
	// sets it. If nil, the router knows only /help.
	Commands bot.Commands
	// Hours are the opening hours of the business profile, for the
	// closed-hours reply; the channel builder sets them. If nil, none is
	// sent.
	Hours *openingHours
	// Tasks run in the background from when the router starts until
	// shutdown (before the router drains and the store closes): admin
	// alerts, the daily maintenance. Each returns when its context is done.
	Tasks []func(ctx context.Context)
	// ListenAddr is the bound HTTP address.
	ListenAddr string
	// Stdout is where the WhatsApp pairing QR code is printed. If nil,
	// os.Stdout.
	Stdout io.Writer
	// Now is the clock of the router and the channels. If nil, time.Now.
	Now func() time.Time
	// Media fetches, keeps and transcribes attachments; buildChannels sets
	// it (buildMedia) and newRouter hands it to the router. If nil,
	// attachments show as their placeholder.
	Media *bot.MediaWorker
	// mediaViews answers the Teams channel's View clicks once the router
	// exists (newRouter sets it); nil without Teams.
	mediaViews *mediaViews
}

// stdout returns Stdout or os.Stdout.
func (a *App) stdout() io.Writer {
	if a.Stdout == nil {
		return os.Stdout
	}
	return a.Stdout
}

// channelBuilder builds the channels over app and may set app.Drafter,
// app.Notifier, app.Commands and app.Tasks. serve calls it once, after the
// store is open.
type channelBuilder func(app *App) ([]bot.Channel, error)

// Files in the data directory besides the databases.
const (
	profileFile = "profile.json"
	exportsDir  = "exports"
)

// buildChannels is the production channelBuilder. It builds WhatsApp (unless
// --no-whatsapp), Teams (when MICROSOFT_APP_ID or --teams-dev is set; it
// becomes the notifier), the drafter (when an LLM is configured; else
// staff write replies by hand), the privacy service with the admin commands
// in front of it, and the daily maintenance task.
func buildChannels(app *App) ([]bot.Channel, error) {
	cfg := app.Config
	var (
		channels   []bot.Channel
		forgetters []bot.Forgetter
		resolvers  []bot.IdentityResolver
		senders    = map[bot.Platform]bot.Channel{}
		wa         waParts
		tm         *teams.Channel
	)
	alerts := newAlerter(app)
	app.Tasks = append(app.Tasks, alerts.run)

	if !cfg.NoWhatsApp {
		var err error
		if wa, err = buildWhatsApp(app, alerts); err != nil {
			return nil, err
		}
		channels = append(channels, wa.ch)
		if wa.forget != nil {
			forgetters = append(forgetters, wa.forget)
		}
		if wa.resolve != nil {
			resolvers = append(resolvers, wa.resolve)
		}
		senders[bot.WhatsApp] = wa.ch
	}
	if _, linked := wa.forget.(*whatsapp.Channel); !linked {
		lf, err := newLinkedLeftovers(app)
		if err != nil {
			return nil, err
		}
		forgetters = append(forgetters, lf)
	}

	// The privacy service needs the channels (forgetters, senders) and the
	// Teams channel needs the privacy service's card index: Teams gets a
	// forwarding index, pointed at the service once it exists.
	policy := privacy.Policy{RetentionMonths: cfg.RetentionMonths, LLMProvider: cfg.LLM.Provider(), NoAI: cfg.LLM == nil, WhatsAppProcessor: wa.processor}
	exportURL := ""
	if cfg.PublicURL != "" {
		exportURL = strings.TrimRight(cfg.PublicURL, "/") + "/exports/"
	}
	// The admin commands own the business profile; the privacy notice
	// names the controller from it as it is at each use.
	cmds := &adminCommands{
		store:       app.Store,
		log:         app.Log.With().Str("component", "admin").Logger(),
		profilePath: filepath.Join(cfg.DataDir, profileFile),
	}
	popts := privacy.Options{
		Log:        app.Log.With().Str("component", "privacy").Logger(),
		Store:      app.Store,
		Senders:    senders,
		DefaultCC:  cfg.DefaultCC,
		ExportDir:  filepath.Join(cfg.DataDir, exportsDir),
		ExportURL:  exportURL,
		Policy:     policy,
		Controller: cmds.controller,
		AdminHelp:  adminHelp,
	}
	var fw *forwardCards

	if cfg.MicrosoftAppID != "" || cfg.TeamsDev {
		app.Health.Register(compTeams)
		state, err := teams.OpenFileState(filepath.Join(cfg.DataDir, teams.StateFile))
		if err != nil {
			return nil, fmt.Errorf("teams state: %w", err)
		}
		fw = &forwardCards{fallback: app.Store} // the store's index until the service exists
		app.mediaViews = &mediaViews{store: app.Store}
		tm, err = teams.New(teams.Options{
			Log:          app.Log,
			AppID:        cfg.MicrosoftAppID,
			AppPassword:  cfg.MicrosoftAppPassword.Value(),
			TenantID:     cfg.MicrosoftAppTenantID,
			StaffTenants: cfg.StaffTenants,
			Admins:       cfg.Admins,
			State:        state,
			Cards:        fw,
			Dev:          cfg.TeamsDev,
			ListenAddr:   app.ListenAddr,
			Media:        app.mediaViews,
			PublicURL:    cfg.PublicURL,
		})
		if err != nil {
			return nil, fmt.Errorf("teams: %w", err)
		}
		if cfg.MicrosoftAppTenantID == "" && len(cfg.StaffTenants) == 0 {
			app.Log.Warn().Msg("no MICROSOFT_APP_TENANT_ID or SWITCHBOARD_STAFF_TENANTS: nobody in Teams counts as staff")
		}
		if len(cfg.Admins) == 0 {
			app.Log.Warn().Msg("no SWITCHBOARD_ADMINS: nobody in Teams is an admin (/here, /profile, admin data-rights commands)")
		}
		app.Mux.Handle("POST /api/messages", tm.Handler())
		if cfg.PublicURL != "" {
			app.Mux.Handle("GET "+teams.MediaPath, tm.MediaHandler())
		}
		app.Notifier = tm
		channels = append(channels, readyOnRun{Channel: tm, health: app.Health, comp: compTeams})
		forgetters = append(forgetters, tm)
		senders[bot.Teams] = tm
	}
	if tm == nil {
		app.Log.Warn().Msg("Teams is off (no MICROSOFT_APP_ID, no --teams-dev): drafts are stored but no staff see them until Teams is configured")
	}
	popts.Forgetters = forgetters
	popts.Resolvers = resolvers
	svc, err := privacy.New(popts)
	if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	if fw != nil {
		fw.set(svc.Cards())
	}
	if exportURL != "" {
		app.Mux.Handle("GET /exports/", svc.ExportHandler())
	}
	// Leftover export files go at start-up; links expire on their timers.
	app.Tasks = append(app.Tasks, svc.Run)

	cmds.privacy = svc
	if wa.unlink != nil {
		cmds.whatsapp = wa.unlink
	}
	cmds.noWhatsApp = wa.noUnlink
	if cfg.LLM != nil {
		d, err := newDrafter(app, cmds.profilePath)
		if err != nil {
			return nil, err
		}
		app.Drafter = d
		cmds.drafter = d
	} else if app.Drafter == nil { // a drafter the caller set (the demo's canned one) stays
		app.Drafter = bot.ManualDrafter{}
		app.Log.Info().Msg("no LLM configured: staff write every reply by hand (set OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_ENDPOINT for AI drafts)")
	}
	app.Commands = cmds
	app.Hours = &openingHours{}
	cmds.hours = app.Hours
	if p, err := cmds.current(); err == nil {
		app.Hours.set(p)
		app.Hours.logState(app.Log, p)
	} else {
		app.Log.Warn().Err(err).Msg("profile unreadable: no closed-hours replies until it is saved again")
	}
	if c := cmds.controller(); c.LegalName == "" || c.Contact == "" {
		app.Log.Warn().Bool("legal_name", c.LegalName != "").Bool("privacy_contact", c.Contact != "").
			Msg("the business profile does not name the controller yet: /privacy and exports say so; an admin sets it in Teams with /profile set legal-name <name> and /profile set privacy-contact <e-mail or address> (and /profile set ico <number> if registered)")
	}

	m := &maintenance{log: app.Log.With().Str("component", "maintenance").Logger(), privacy: svc, media: app.Store, alerts: alerts}
	if wa.stale != nil {
		m.whatsapp = wa.stale
	}
	app.Tasks = append(app.Tasks, m.run)
	if err := buildMedia(app, channels); err != nil {
		return nil, err
	}
	return channels, nil
}

// newDrafter builds the AI drafter with the business profile from
// profilePath; a missing profile is created with defaults for the admin to
// edit with /profile.
func newDrafter(app *App, profilePath string) (*drafts.Drafter, error) {
	profile, err := drafts.LoadProfile(profilePath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		profile = defaultProfile()
		if err := drafts.SaveProfile(profilePath, profile); err != nil {
			return nil, fmt.Errorf("save default profile: %w", err)
		}
		app.Log.Warn().Str("path", profilePath).
			Msg("no business profile yet: wrote a default one; an admin should set it with /profile in Teams (name, trade, hours, prices) before drafts are useful")
	case err != nil:
		return nil, fmt.Errorf("load profile %s: %w", profilePath, err)
	}
	opts := app.Config.LLM.Options()
	opts.Log = app.Log.With().Str("component", "drafts").Logger()
	opts.Profile = &profile
	store := app.Store
	opts.Restricted = func(ctx context.Context, subject bot.SubjectID) (bool, error) {
		s, err := store.FindSubject(ctx, subject)
		if err != nil {
			return false, fmt.Errorf("restricted: %w", err)
		}
		return s.AIRestricted, nil
	}
	d, err := drafts.New(opts)
	if err != nil {
		return nil, fmt.Errorf("drafts: %w", err)
	}
	app.Log.Info().Str("llm", app.Config.LLM.String()).Msg("AI drafts on")
	return d, nil
}

// defaultProfile is the profile written on the first start with an LLM.
func defaultProfile() drafts.Profile {
	return drafts.Profile{
		BusinessName: "Our business",
		Tone:         "friendly, short, plain English",
		VATRate:      2000,
		Currency:     "GBP",
		PriceList:    drafts.PriceList{Version: "1"},
	}
}

// forwardCards lets the Teams channel be built before the privacy service
// whose card index it uses.
type forwardCards struct {
	mu       sync.Mutex
	to       privacy.CardIndex
	fallback privacy.CardIndex
}

func (f *forwardCards) set(to privacy.CardIndex) {
	f.mu.Lock()
	f.to = to
	f.mu.Unlock()
}

func (f *forwardCards) CardsOf(ctx context.Context, subject bot.SubjectID) ([]bot.CardRef, error) {
	f.mu.Lock()
	to := f.to
	f.mu.Unlock()
	if to == nil {
		to = f.fallback
	}
	return to.CardsOf(ctx, subject)
}

// roleSync keeps the stored role of a Teams sender in step with what the
// Teams channel established for this very message (tenant and admin list,
// from the signed activity). The store never lowers a role by itself, so
// without this an admin removed from SWITCHBOARD_ADMINS or with /admin
// remove would keep admin rights in the privacy and admin commands, which
// read the stored role.
type roleSync struct {
	bot.Sink
	db  appStore
	log zerolog.Logger
}

// Deliver lowers a Teams sender's stored role to the channel's, then
// delivers.
func (s roleSync) Deliver(ctx context.Context, in bot.Inbound) error {
	if in.Platform == bot.Teams && (in.Role == bot.RoleStaff || in.Role == bot.RoleCustomer) && !in.Sender.IsZero() {
		ids, err := s.db.FindSubjects(ctx, in.Sender)
		if err != nil {
			return fmt.Errorf("deliver: role check: %w", err)
		}
		for _, id := range ids {
			subj, err := s.db.FindSubject(ctx, id)
			if errors.Is(err, bot.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("deliver: role check: %w", err)
			}
			if roleRank(subj.Role) > roleRank(in.Role) {
				if err := s.db.SetRole(ctx, id, in.Role); err != nil {
					return fmt.Errorf("deliver: lower role: %w", err)
				}
				s.log.Info().Str("subject", string(id)).Str("from", string(subj.Role)).Str("to", string(in.Role)).Msg("teams role lowered")
			}
		}
	}
	return s.Sink.Deliver(ctx, in)
}

// roleRank orders roles: customer < staff < admin.
func roleRank(r bot.Role) int {
	switch r {
	case bot.RoleAdmin:
		return 2
	case bot.RoleStaff:
		return 1
	}
	return 0
}

// readyOnRun reports its channel ready on /readyz once Run starts (the
// Teams channel has no connection of its own to watch).
type readyOnRun struct {
	bot.Channel
	health *Health
	comp   string
}

func (r readyOnRun) Run(ctx context.Context, sink bot.Sink) error {
	r.health.SetState(r.comp, true, "running")
	return r.Channel.Run(ctx, sink)
}

// whatsAppStateReporter turns the WhatsApp channel's health changes into
// /readyz states and metrics and, for the states that need a person, one
// admin alert per change. It never blocks.
func whatsAppStateReporter(health *Health, metrics *Metrics, alerts *alerter) func(whatsapp.Health) {
	var mu sync.Mutex
	var last whatsapp.State
	return func(h whatsapp.Health) {
		health.SetState(compWhatsApp, h.Ready(), string(h.State))
		metrics.WhatsAppState(string(h.State), h.Undecryptable)
		mu.Lock()
		changed := h.State != last
		last = h.State
		mu.Unlock()
		if changed && needsPerson(h.State) {
			alerts.send(h.String())
		}
	}
}

// needsPerson reports whether a WhatsApp state is worth an admin alert.
func needsPerson(s whatsapp.State) bool {
	switch s {
	case whatsapp.StateLoggedOut, whatsapp.StateStreamReplaced, whatsapp.StateTempBanned, whatsapp.StateClientOutdated:
		return true
	}
	return false
}

// openStore builds and opens the store and reports it on health: the one
// place a store is chosen. Today that is SQLite in the data dir.
func openStore(ctx context.Context, cfg Config, key []byte, log zerolog.Logger, health *Health) (appStore, error) {
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
		if errors.Is(err, store.ErrWrongMasterKey) {
			return nil, fmt.Errorf("open store: %w. Start with the master key this data was written with (%s, %s, or %s in the data dir); "+
				"if that key is lost, the encrypted data cannot be read: move the data dir aside to start afresh", err,
				envMasterKey, envMasterKeyFile, masterKeyName)
		}
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
	var hours bot.OpeningHours
	if app.Hours != nil {
		hours = app.Hours
	}
	r, err := bot.NewRouter(bot.Options{
		Hours:    hours,
		Log:      app.Log,
		Store:    app.Store,
		Drafter:  drafter,
		Notifier: app.Notifier,
		Commands: app.Commands,
		Channels: channels,
		Metrics:  app.Metrics,
		Now:      app.Now,
		// Zero (a Config not from DefaultConfig) is the router's default.
		DraftDeadline: app.Config.DraftDeadline,
		Media:         app.Media,
	})
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	if app.mediaViews != nil {
		app.mediaViews.set(r)
	}
	return r, nil
}

// runTasks runs each task until ctx is done. The returned function waits
// until every task has returned, up to timeout; what names them in its error.
func runTasks(ctx context.Context, what string, tasks []func(context.Context)) func(timeout time.Duration) error {
	var wg sync.WaitGroup
	for _, task := range tasks {
		wg.Go(func() { task(ctx) })
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
			return fmt.Errorf("%s: still running after %s", what, timeout)
		}
	}
}

// runChannels runs each channel, feeding sink, until ctx is done. A channel
// that fails for good is logged and marked failed on /readyz; the process
// keeps running for the others (and for /readyz to tell). The returned
// function waits until every channel's Run has returned, up to timeout.
func runChannels(ctx context.Context, app *App, channels []bot.Channel, sink bot.Sink) func(timeout time.Duration) error {
	tasks := make([]func(context.Context), 0, len(channels))
	for _, ch := range channels {
		comp := string(ch.Platform())
		tasks = append(tasks, func(ctx context.Context) {
			err := ch.Run(ctx, sink)
			switch {
			case err != nil && ctx.Err() == nil:
				app.Log.Error().Err(err).Str("platform", comp).Msg("channel stopped")
				app.Health.SetState(comp, false, StateFailed)
				app.Metrics.Failure(stageChannel)
			case err != nil && !errors.Is(err, context.Canceled):
				app.Log.Warn().Err(err).Str("platform", comp).Msg("channel stopped with an error while shutting down")
				app.Health.SetState(comp, false, StateStopped)
			default:
				app.Health.SetState(comp, false, StateStopped)
			}
		})
	}
	return runTasks(ctx, "channels", tasks)
}
