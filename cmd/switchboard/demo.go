package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
	"github.com/switchboard/switchboard/drafts"
	"github.com/switchboard/switchboard/internal/demo"
)

// The Microsoft 365 Agents Playground's world, which the demo makes staff
// and admin: its tenant and its user's Entra object id (Alex Wilber).
const (
	demoTenant = "00000000-0000-0000-0000-0000000000001"
	demoAdmin  = "00000000-0000-0000-0000-0000000000020"
	// demoPlayground is the playground version the demo is tested with
	// (channels/teams/playground.sh pins the same).
	demoPlayground = "@microsoft/m365agentsplayground@0.2.28"
	// demoPhoneNumberID is the made-up Phone number ID of the demo's
	// business on the simulated WhatsApp Business Platform.
	demoPhoneNumberID = "100000000000001"
	// demoListen is the demo's default address: the playground's usual
	// bot port.
	demoListen = "127.0.0.1:3978"
	// demoMarkerFile marks a data directory made by the demo.
	demoMarkerFile = "switchboard-demo.json"
	demoCreatedBy  = "switchboard demo"
)

// demoMarker is the marker file: who made the directory, and the demo's
// made-up Meta credentials, kept so a reused demo directory keeps working
// (the channel's media list is keyed with the app secret).
type demoMarker struct {
	CreatedBy   string    `json:"created_by"`
	Note        string    `json:"note"`
	Created     time.Time `json:"created"`
	AccessToken string    `json:"access_token"`
	AppSecret   string    `json:"app_secret"`
	VerifyToken string    `json:"verify_token"`
	// MasterKey seals the demo's data (64 hex digits); here, beside the
	// data, because nothing in a demo directory is worth protecting.
	MasterKey string `json:"master_key"`
}

// errRealData refuses a data directory the demo did not make.
var errRealData = errors.New("holds data the demo did not make: the demo never runs on a real business's data. Leave out --data for a fresh temporary directory, or name a new or empty one")

// demoCmd runs "switchboard demo [--data DIR] [--listen ADDR]": the bot
// with its real router, store, privacy engine, Teams channel (dev mode)
// and WhatsApp Business Platform channel, whose Graph API and webhooks are
// played by the customer simulator on the same loopback address. It
// prints what to open, and runs until ctx is done.
func demoCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var dataDir, listen, logLevel, logFormat string
	fs := flag.NewFlagSet("switchboard demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&dataDir, "data", "", "data directory made by a demo (created if missing); empty: a fresh temporary one, deleted on exit")
	fs.StringVar(&listen, "listen", demoListen, "loopback address for the bot, the simulator page and the playground's endpoint")
	fs.StringVar(&logLevel, "log-level", or(getenv(envLogLevel), "info"), "trace, debug, info, warn or error (env "+envLogLevel+")")
	fs.StringVar(&logFormat, "log-format", getenv(envLogFormat), "json or console; empty: console on a terminal, else json (env "+envLogFormat+")")
	fs.Usage = func() { demoUsage(stdout, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{fmt.Errorf("parse flags: %w", err)}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q (flags start with --)", clip(fs.Arg(0), 40))}
	}
	if host, _, err := net.SplitHostPort(listen); err != nil || !isLoopback(host) {
		return &usageError{&FieldError{Field: "--listen", Msg: "the demo runs only on a loopback address, such as " + demoListen}}
	}

	dir, marker, cleanup, err := prepareDemoDir(dataDir, time.Now())
	if err != nil {
		return &usageError{err}
	}
	defer func() {
		if cerr := cleanup(); cerr != nil {
			fmt.Fprintln(stderr, "switchboard demo: could not delete the demo's data directory:", cerr)
		}
	}()
	cfg, err := demoConfig(dir, listen, logLevel, logFormat, marker, getenv)
	if err != nil {
		return &usageError{err}
	}
	if err := writeDemoProfile(filepath.Join(dir, profileFile)); err != nil {
		return err
	}
	temporary := dataDir == ""
	err = serve(ctx, cfg, stderr, func(app *App) ([]bot.Channel, error) {
		return buildDemo(app, marker, temporary, stdout)
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: another program (Switchboard itself?) uses %s; start the demo with --listen 127.0.0.1:3979, and give the playground that port", err, listen)
	}
	return err
}

// demoUsage is the help of the demo subcommand.
func demoUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "Usage: switchboard demo [--data DIR] [--listen "+demoListen+"]")
	fmt.Fprintln(w, "\nRuns Switchboard with a customer simulator: a page on loopback where you write as a")
	fmt.Fprintln(w, "WhatsApp customer, while staff answer in the Microsoft 365 Agents Playground. The real")
	fmt.Fprintln(w, "router, store, Teams channel (dev mode) and WhatsApp Business Platform channel run; the")
	fmt.Fprintln(w, "simulator plays Meta. It reads no other settings from the environment than the AI")
	fmt.Fprintln(w, "drafter's (OPENAI_*, AZURE_OPENAI_*) and the log's; without them, replies come from")
	fmt.Fprintln(w, "the \""+demo.DrafterName+"\".")
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
}

// or returns v, or def when v is empty.
func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// demoEnv passes on only the environment the demo reads: the AI drafter's
// settings and the log's. A real business's data directory, master key,
// Teams registration and Meta credentials in the environment are ignored.
func demoEnv(getenv func(string) string) func(string) string {
	return func(key string) string {
		switch {
		case strings.HasPrefix(key, "OPENAI_"), strings.HasPrefix(key, "AZURE_OPENAI_"), key == envLogLevel, key == envLogFormat:
			return getenv(key)
		}
		return ""
	}
}

// demoConfig is the bot's configuration in the demo: Teams in dev mode
// with the playground's user as staff and admin, WhatsApp on the Business
// Platform with the demo's made-up credentials (the Graph URL is set once
// the address is bound), the AI drafter only if configured.
func demoConfig(dir, listen, logLevel, logFormat string, m demoMarker, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if err := cfg.fromEnv(demoEnv(getenv)); err != nil {
		return Config{}, err
	}
	cfg.DataDir, cfg.Listen, cfg.LogLevel, cfg.LogFormat = dir, listen, logLevel, logFormat
	cfg.MasterKey = NewSecret(m.MasterKey)
	cfg.TeamsDev, cfg.MicrosoftAppTenantID, cfg.Admins = true, demoTenant, []string{demoAdmin}
	cfg.CloudPhoneNumberID = demoPhoneNumberID
	cfg.CloudAccessToken, cfg.CloudAppSecret, cfg.CloudVerifyToken = NewSecret(m.AccessToken), NewSecret(m.AppSecret), NewSecret(m.VerifyToken)
	cfg.CloudGraphURL = "http://" + listen + "/graph/" + path.Base(whatsappcloud.DefaultGraphURL)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// prepareDemoDir returns the demo's data directory: a fresh temporary one
// (deleted by cleanup) when dir is empty; else dir, made if missing, when
// it is empty or was made by a demo. Any other directory is refused.
func prepareDemoDir(dir string, now time.Time) (string, demoMarker, func() error, error) {
	nothing := func() error { return nil }
	if dir == "" {
		tmp, err := os.MkdirTemp("", "switchboard-demo-")
		if err != nil {
			return "", demoMarker{}, nothing, fmt.Errorf("demo data dir: %w", err)
		}
		m, err := writeDemoMarker(tmp, now)
		if err != nil {
			_ = os.RemoveAll(tmp)
			return "", demoMarker{}, nothing, err
		}
		return tmp, m, func() error { return os.RemoveAll(tmp) }, nil
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", demoMarker{}, nothing, fmt.Errorf("demo data dir: %w", err)
		}
	case err != nil:
		return "", demoMarker{}, nothing, &FieldError{Field: "--data", Msg: "cannot read " + dir, Err: err}
	case len(entries) > 0:
		b, err := os.ReadFile(filepath.Join(dir, demoMarkerFile))
		var m demoMarker
		if err != nil || json.Unmarshal(b, &m) != nil || m.CreatedBy != demoCreatedBy || m.AccessToken == "" || m.AppSecret == "" || m.VerifyToken == "" || m.MasterKey == "" {
			names := make([]string, 0, len(entries))
			for _, e := range entries {
				names = append(names, e.Name())
			}
			slices.Sort(names)
			if len(names) > 4 {
				names = append(names[:4], "…")
			}
			return "", demoMarker{}, nothing, &FieldError{Field: "--data", Msg: dir + " (" + strings.Join(names, ", ") + ") " + errRealData.Error()}
		}
		return dir, m, nothing, nil
	}
	m, err := writeDemoMarker(dir, now)
	return dir, m, nothing, err
}

// writeDemoMarker marks dir as the demo's, with fresh made-up credentials.
func writeDemoMarker(dir string, now time.Time) (demoMarker, error) {
	m := demoMarker{
		CreatedBy: demoCreatedBy,
		Note: "Made by `switchboard demo`: everything here is demo data, with made-up credentials for the demo's simulated Meta. " +
			"The demo runs only on directories with this file (or empty ones); `switchboard run` should not be pointed here.",
		Created:     now.UTC().Truncate(time.Second),
		AccessToken: "DEMO" + randomHex(16),
		AppSecret:   randomHex(16),
		VerifyToken: randomHex(8),
		MasterKey:   randomHex(32),
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return demoMarker{}, fmt.Errorf("demo marker: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, demoMarkerFile), append(b, '\n'), 0o600); err != nil {
		return demoMarker{}, fmt.Errorf("demo marker: %w", err)
	}
	return m, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeDemoProfile writes the made-up business's profile, unless the
// directory has one (an admin may have changed it with /profile).
func writeDemoProfile(p string) error {
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	b := demo.Business
	err := drafts.SaveProfile(p, drafts.Profile{
		BusinessName: b.Name, Trade: b.Trade, Tone: "friendly, short, plain English", OpeningHours: b.Hours, SignOff: b.SignOff,
		LegalName: b.LegalName, PrivacyContact: b.PrivacyContact, VATRate: 2000, Currency: "GBP",
		PriceList: drafts.PriceList{Version: "demo-1", Items: []drafts.Item{
			{ID: "callout", Name: "Call-out and first hour", UnitPrice: 7500, Unit: "visit"},
			{ID: "hour", Name: "Each further hour", UnitPrice: 5500, Unit: "hour"},
			{ID: "tap-washer", Name: "Replace a tap washer", UnitPrice: 4500, Unit: "tap"},
			{ID: "boiler-service", Name: "Annual boiler service", UnitPrice: 8000, Unit: "visit"},
		}},
	})
	if err != nil {
		return fmt.Errorf("demo profile: %w", err)
	}
	return nil
}

// buildDemo is the demo's channelBuilder: the customer simulator on the
// bound address, then the production channels over it, the canned drafter
// when no LLM is configured, and a task that prints what to open once the
// bot is ready.
func buildDemo(app *App, m demoMarker, temporary bool, stdout io.Writer) ([]bot.Channel, error) {
	base := "http://" + app.ListenAddr
	app.Config.CloudGraphURL = base + "/graph/" + path.Base(whatsappcloud.DefaultGraphURL)
	pgCmd := playgroundCommand(app.ListenAddr)
	sim, err := demo.New(demo.Options{
		Log:                app.Log,
		PhoneNumberID:      demoPhoneNumberID,
		DisplayPhoneNumber: demo.Business.Number,
		BusinessName:       demo.Business.Name,
		AccessToken:        m.AccessToken,
		AppSecret:          m.AppSecret,
		Webhook:            base + webhookPath,
		BusinessNumber:     demo.Business.NumberShown,
		StaffHint:          "answer in the Microsoft 365 Agents Playground, a local Teams. Start it in another terminal, say /here in its chat once, and approve the cards that appear:",
		StaffCommand:       pgCmd,
	})
	if err != nil {
		return nil, err
	}
	sim.Mount(app.Mux)
	app.Tasks = append(app.Tasks, sim.Run)
	app.Log.Info().Str("page", base+"/").Str("graph_url", app.Config.CloudGraphURL).Msg("demo: the customer simulator plays WhatsApp and Meta here")
	drafter := "AI drafts from " + app.Config.LLM.String()
	if app.Config.LLM == nil {
		app.Drafter = demo.Drafter{Log: app.Log.With().Str("component", "demo-drafter").Logger()}
		drafter = demo.DrafterName + ": ready-made replies (set OPENAI_API_KEY, or OPENAI_BASE_URL and OPENAI_MODEL, for AI drafts)"
		app.Log.Warn().Str("drafter", demo.DrafterName).
			Msg("drafts come from the demo drafter, which is not AI: it picks ready-made replies by keywords; every card says so")
	}
	chs, err := buildChannels(app)
	if err != nil {
		return nil, err
	}
	data := app.Config.DataDir + " (kept: start the demo again with the same --data to continue)"
	if temporary {
		data = app.Config.DataDir + " (a fresh one, deleted when the demo stops)"
	}
	banner := demoBanner(base, pgCmd, data, drafter)
	app.Tasks = append(app.Tasks, func(ctx context.Context) { printWhenReady(ctx, app.Health, stdout, banner) })
	return chs, nil
}

// playgroundCommand is the command that starts the staff side.
func playgroundCommand(addr string) string {
	return "npx " + demoPlayground + " --app-endpoint http://" + addr + "/api/messages -c msteams"
}

// demoBanner says what the demo runs and what to open.
func demoBanner(base, pgCmd, data, drafter string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nSwitchboard demo: the real bot, with a simulated WhatsApp customer. No real business's data is touched.\n\n")
	fmt.Fprintf(&b, "  Data      %s\n", data)
	fmt.Fprintf(&b, "  Drafts    %s\n", drafter)
	fmt.Fprintf(&b, "  WhatsApp  the WhatsApp Business Platform channel, talking to a simulator of Meta in this process\n\n")
	fmt.Fprintf(&b, "1. Be the customer: open %s/ and write a message.\n\n", base)
	fmt.Fprintf(&b, "2. Be the staff: in another terminal, start the Microsoft 365 Agents Playground (a local Teams):\n\n")
	fmt.Fprintf(&b, "     %s\n\n", pgCmd)
	fmt.Fprintf(&b, "   Its user (Alex Wilber, admin %s in tenant %s) is staff and admin here.\n", demoAdmin, demoTenant)
	fmt.Fprintf(&b, "   Say /here in its chat once, so draft cards come there; approve one, and watch the reply\n")
	fmt.Fprintf(&b, "   arrive in the simulator: ✓ sent, ✓✓ delivered, blue ✓✓ read.\n\n")
	fmt.Fprintf(&b, "Stop with Ctrl-C.\n")
	return b.String()
}

// printWhenReady prints banner once /readyz would answer 200 (or after
// 15 s, whatever it answers), unless ctx ends first.
func printWhenReady(ctx context.Context, health *Health, w io.Writer, banner string) {
	deadline := time.Now().Add(15 * time.Second)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if ready, _ := health.Snapshot(); ready || time.Now().After(deadline) {
			fmt.Fprint(w, banner)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
