package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard/switchboard/channels/teams"
	"github.com/switchboard/switchboard/channels/whatsapp"
)

// whatsAppDBFile is the WhatsApp channel's session database in the data dir.
const whatsAppDBFile = "whatsapp.db"

// whatsappCmd runs "switchboard whatsapp logout [--data DIR]": it unlinks the
// device on WhatsApp's side and deletes the session keys. The bot must be
// stopped (a running bot does the same with /disconnect whatsapp).
func whatsappCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "logout" {
		fmt.Fprintln(stdout, "Usage: switchboard whatsapp logout [--data DIR]")
		if len(args) == 0 {
			return &usageError{errors.New("whatsapp: name a subcommand (logout)")}
		}
		return &usageError{fmt.Errorf("whatsapp: unknown subcommand %q (want logout)", clip(args[0], 40))}
	}
	cfg, err := load(args[1:], getenv, nil)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "Usage: switchboard whatsapp logout [--data DIR]")
		return nil
	}
	if err != nil {
		return &usageError{err}
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, whatsAppDBFile)); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "No WhatsApp session in %s: nothing to log out.\n", cfg.DataDir)
		return nil
	}
	if err := whatsapp.Logout(ctx, cfg.DataDir); err != nil {
		return fmt.Errorf("%w (the local session keys are deleted; also remove \"Switchboard\" on the phone under Settings, Linked devices)", err)
	}
	fmt.Fprintln(stdout, "WhatsApp logged out: the device is unlinked and its session keys are deleted.")
	return nil
}

// Environment of teams-manifest: the business's links Teams shows.
const (
	envPrivacyURL = "SWITCHBOARD_PRIVACY_URL"
	envTermsURL   = "SWITCHBOARD_TERMS_URL"
	envWebsiteURL = "SWITCHBOARD_WEBSITE_URL"
)

// teamsManifest runs "switchboard teams-manifest --out switchboard.zip
// [--app-id ID] --privacy-url URL --terms-url URL": the Teams app package to
// upload under Apps, Manage your apps, Upload an app.
func teamsManifest(args []string, getenv func(string) string, stdout io.Writer) error {
	var out, appID string
	var m teams.Manifest
	fs := flag.NewFlagSet("switchboard teams-manifest", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&out, "out", "", "file to write the app package (a zip) to")
	fs.StringVar(&appID, "app-id", getenv(envAppID), "the bot's Microsoft App ID (env "+envAppID+")")
	fs.StringVar(&m.Name, "name", "", "app name shown in Teams (at most 30 characters; default Switchboard)")
	fs.StringVar(&m.Version, "version", "", "package version; raise it for each upload that replaces an installed one (default 1.0.0)")
	fs.StringVar(&m.Developer, "developer", "", "publisher name (default: the app name)")
	fs.StringVar(&m.PrivacyURL, "privacy-url", getenv(envPrivacyURL), "https link to the business's privacy notice; required (env "+envPrivacyURL+")")
	fs.StringVar(&m.TermsURL, "terms-url", getenv(envTermsURL), "https link to the business's terms of use; required (env "+envTermsURL+")")
	fs.StringVar(&m.WebsiteURL, "website-url", getenv(envWebsiteURL), "https link Teams shows as the website; default: the privacy notice's site (env "+envWebsiteURL+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{fmt.Errorf("parse flags: %w", err)}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q (flags start with --)", clip(fs.Arg(0), 40))}
	}
	if strings.TrimSpace(out) == "" {
		return &usageError{&FieldError{Field: "--out", Msg: "name the file to write, such as switchboard.zip"}}
	}
	appID = strings.TrimSpace(appID)
	if appID == "" {
		return &usageError{&FieldError{Field: "--app-id", Msg: "the bot's Microsoft App ID is required (--app-id or " + envAppID + ")"}}
	}
	if strings.TrimSpace(m.PrivacyURL) == "" || strings.TrimSpace(m.TermsURL) == "" {
		return &usageError{&FieldError{Field: "--privacy-url and --terms-url", Msg: "Teams shows the business's privacy notice and terms of use with the app: give their https links (or " + envPrivacyURL + " and " + envTermsURL + ")"}}
	}
	m.PrivacyURL, m.TermsURL, m.WebsiteURL = strings.TrimSpace(m.PrivacyURL), strings.TrimSpace(m.TermsURL), strings.TrimSpace(m.WebsiteURL)
	var buf bytes.Buffer
	if err := teams.WriteManifest(&buf, appID, m); err != nil {
		return &usageError{err}
	}
	if err := writeFileAtomic(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("teams-manifest: %w", err)
	}
	fmt.Fprintf(stdout, "Wrote %s. Upload it in Teams: Apps, Manage your apps, Upload an app.\n", out)
	return nil
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this finds nothing
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("chmod: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}
