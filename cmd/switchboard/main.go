// Command switchboard runs the Switchboard bot: customers' WhatsApp chats on
// one side, staff's Microsoft Teams on the other, with AI drafts that staff
// approve. It is the only package that names concrete types: it reads the
// configuration, builds the store, channels and router, serves /healthz,
// /readyz and /metrics, and shuts everything down in order.
//
// Usage:
//
//	switchboard [run] [flags]            run the bot (the default)
//	switchboard demo [--data DIR] [--listen ADDR]
//	                                     run the bot with a simulated WhatsApp customer
//	switchboard backup --out DIR [flags] back up the SQLite store's two databases with VACUUM INTO
//	switchboard whatsapp logout [--data DIR]
//	                                     unlink WhatsApp, delete its session keys
//	switchboard teams-manifest --out switchboard.zip [--app-id ID] --privacy-url URL --terms-url URL
//	                                     write the Teams app package
//	switchboard version                  print the version
//	switchboard help                     print the flags and environment
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
)

// Shutdown deadlines, each fresh: a stage that overruns does not eat the
// next stage's time.
const (
	httpShutdownTimeout  = 10 * time.Second
	channelStopTimeout   = 10 * time.Second
	routerDrainTimeout   = 30 * time.Second // the router drains within 10 s itself
	storeCloseTimeout    = 10 * time.Second
	exitCodeUsage        = 2
	exitCodeRuntimeError = 1
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		var ue *usageError
		if errors.As(err, &ue) {
			os.Exit(exitCodeUsage)
		}
		os.Exit(exitCodeRuntimeError)
	}
}

// usageError marks a bad command line or configuration (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// run dispatches a subcommand. args excludes the program name; the default
// subcommand is "run". It returns when the subcommand is done: for "run",
// after ctx is cancelled and everything has shut down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		cfg, err := Load(args, getenv)
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return nil
		}
		if err != nil {
			return &usageError{err}
		}
		return serve(ctx, cfg, stderr, func(app *App) ([]bot.Channel, error) {
			app.Stdout = stdout // the WhatsApp pairing QR code
			return buildChannels(app)
		})
	case "demo":
		return demoCmd(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backup(ctx, args, getenv, stdout, stderr)
	case "whatsapp":
		return whatsappCmd(ctx, args, getenv, stdout)
	case "teams-manifest":
		return teamsManifest(args, getenv, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help":
		usage(stdout)
		return nil
	default:
		usage(stderr)
		return &usageError{fmt.Errorf("unknown command %q", clip(cmd, 40))}
	}
}

// versionString reports the module version and VCS revision from build info.
func versionString() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	s := "switchboard " + v + " " + runtime.Version()
	if rev != "" {
		s += " " + clip(rev, 12)
		if dirty {
			s += "-dirty"
		}
	}
	return s
}

// serve runs the bot, with the channels build makes, until ctx is done, then shuts down: HTTP (and with it
// the channels' webhooks) stops taking input, the router drains its queues,
// and the store closes last. Each stage gets a fresh deadline.
func serve(ctx context.Context, cfg Config, stderr io.Writer, build channelBuilder) (err error) {
	log, err := newLogger(stderr, cfg.LogLevel, resolveLogFormat(cfg.LogFormat, stderr))
	if err != nil {
		return &usageError{err}
	}
	log.Info().Str("version", versionString()).Stringer("config", cfg).Msg("starting")
	defer func() {
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = nil // stopped by a signal while starting: a clean stop
		}
		if err != nil {
			log.Error().Err(err).Msg("stopped with an error")
		} else {
			log.Info().Msg("stopped")
		}
	}()

	if err := prepareDataDir(cfg.DataDir, log); err != nil {
		return err
	}
	key, src, err := LoadMasterKey(cfg, log, rand.Reader)
	if err != nil {
		return err
	}
	log.Info().Str("source", string(src)).Msg("master key loaded")

	metrics := NewMetrics()
	healthChanged := make(chan struct{}, 1)
	health := NewHealth(nil, func(component string, ready bool) {
		metrics.ComponentReady(component, ready)
		select {
		case healthChanged <- struct{}{}:
		default:
		}
	})
	health.Register(compStore)
	health.Register(compRouter)

	// Listen first: a taken port fails before any data is touched, and
	// /healthz and /readyz answer while the store opens.
	srv := newHTTPServer(log, health, metrics)
	addr, err := srv.Listen(ctx, cfg.Listen)
	if err != nil {
		return err
	}
	log.Info().Str("addr", addr.String()).Msg("http listening")
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve() }()
	stopHTTP := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-httpDone; err == nil {
			err = serr
		}
		return err
	}

	db, err := openStore(ctx, cfg, key, log, health)
	clear(key)
	if err != nil {
		return errors.Join(err, stopHTTP())
	}
	closeStore := func() error {
		health.SetState(compStore, false, StateStopping)
		done := make(chan error, 1)
		go func() { done <- db.Close() }()
		t := time.NewTimer(storeCloseTimeout)
		defer t.Stop()
		select {
		case err := <-done:
			if err != nil {
				health.SetState(compStore, false, StateFailed)
				return fmt.Errorf("close store: %w", err)
			}
			health.SetState(compStore, false, StateStopped)
			return nil
		case <-t.C:
			return fmt.Errorf("close store: still busy after %s", storeCloseTimeout)
		}
	}

	app := &App{Config: cfg, Log: log, Store: db, Metrics: metrics, Health: health, Mux: srv.Mux, ListenAddr: addr.String()}
	channels, err := build(app)
	if err != nil {
		return errors.Join(fmt.Errorf("build channels: %w", err), stopHTTP(), closeStore())
	}
	r, err := newRouter(app, channels)
	if err != nil {
		return errors.Join(err, stopHTTP(), closeStore())
	}

	// The router runs on its own context, cancelled only after the channels
	// and HTTP stopped taking input, so its drain sees no new work.
	rctx, cancelRouter := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRouter()
	routerDone := make(chan error, 1)
	go func() { routerDone <- r.Run(rctx) }()
	// The router is ready once it has resumed earlier work and started its
	// workers.
	stopWatch, watchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-r.Ready():
			health.SetState(compRouter, true, "running")
		case <-stopWatch:
		}
	}()
	cctx, cancelChannels := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelChannels()
	waitChannels := runChannels(cctx, app, channels, roleSync{Sink: r, db: app.Store, log: log})
	// Background tasks (admin alerts, daily maintenance) use the store: they
	// stop with the channels, before the router drains and the store closes.
	waitTasks := runTasks(cctx, "background tasks", app.Tasks)
	log.Info().Int("channels", len(channels)).Msg("started")
	// "ready" is logged when /readyz turns 200, and "not ready" (with the
	// components that are not) whenever it turns 503, so the log and the
	// probe never disagree.
	readyCtx, stopReadyLog := context.WithCancel(cctx)
	readyLogDone := make(chan struct{})
	go func() {
		defer close(readyLogDone)
		logReadiness(readyCtx, log, health, healthChanged)
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case err := <-routerDone:
		routerDone <- err // read again below
		runErr = fmt.Errorf("router stopped: %w", errOrUnexpected(err))
	case err := <-httpDone:
		httpDone <- err
		runErr = errOrUnexpected(err)
	}

	// 1. Stop taking input: channels and HTTP (the Teams webhook).
	stopReadyLog()
	<-readyLogDone
	close(stopWatch)
	<-watchDone
	health.SetState(compRouter, false, StateStopping)
	cancelChannels()
	httpErr := stopHTTP()
	if httpErr != nil {
		log.Error().Err(httpErr).Msg("http shutdown")
	}
	chanErr := waitChannels(channelStopTimeout)
	if chanErr != nil {
		log.Error().Err(chanErr).Msg("channel shutdown")
	}
	if err := waitTasks(channelStopTimeout); err != nil {
		log.Error().Err(err).Msg("background task shutdown")
		chanErr = errors.Join(chanErr, err)
	}
	// 2. Drain the router: it finishes queued drafts and due replies within
	// its own deadline; what is cut off stays in the store for next time.
	cancelRouter()
	routerErr := waitRouter(routerDone)
	if routerErr != nil {
		health.SetState(compRouter, false, StateFailed)
		log.Error().Err(routerErr).Msg("router drain")
	} else {
		health.SetState(compRouter, false, StateStopped)
	}
	// 3. Close the store last.
	storeErr := closeStore()
	return errors.Join(runErr, httpErr, chanErr, routerErr, storeErr)
}

// logReadiness logs each change of the process's readiness, as /readyz
// answers it: "ready" when every component is, "not ready" naming the
// components that are not and their states. It starts with the current
// readiness and returns when ctx is done.
func logReadiness(ctx context.Context, log zerolog.Logger, health *Health, changed <-chan struct{}) {
	first, was := true, false
	for {
		ready, comps := health.Snapshot()
		if first || ready != was {
			if ready {
				log.Info().Msg("ready")
			} else {
				var waiting []string
				for _, name := range slices.Sorted(maps.Keys(comps)) {
					if s := comps[name]; !s.Ready {
						waiting = append(waiting, name+": "+s.State)
					}
				}
				ev := log.Warn()
				if first {
					ev = log.Info() // still starting
				}
				ev.Strs("not_ready", waiting).Msg("not ready: /readyz answers 503 until these are")
			}
			first, was = false, ready
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// waitRouter waits for the router's Run to return, up to routerDrainTimeout.
func waitRouter(done <-chan error) error {
	t := time.NewTimer(routerDrainTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("router: %w", err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("router: still draining after %s", routerDrainTimeout)
	}
}

// errOrUnexpected turns a nil error from something that should have kept
// running into an error.
func errOrUnexpected(err error) error {
	if err == nil {
		return errors.New("stopped unexpectedly")
	}
	return err
}

// prepareDataDir creates the data dir (0700) and warns when an existing one
// is open to other users.
func prepareDataDir(dir string, log zerolog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat data dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data dir %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		log.Warn().Str("path", dir).Str("mode", st.Mode().Perm().String()).
			Msg("the data dir is open to other users: chmod 700 it")
	}
	return nil
}
