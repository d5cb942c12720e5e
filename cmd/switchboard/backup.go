package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard/switchboard/store"
)

// backup runs "switchboard backup --out DIR": consistent copies of
// switchboard.db and keys.db, made with VACUUM INTO (live rows only, no
// erased remnants), safe while the bot runs. The operator then stores the
// two files apart, keys.db with short retention.
//
// It is SQLite's backup, and the one place besides openStore that names
// the SQLite store: it opens a *store.DB of its own, because copying files
// is not something every store can do (a database server has its own
// tools), so it is no method of appStore.
func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var out string
	cfg, err := load(args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "directory to write the backup into (created 0700; must not hold a backup yet)")
	})
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return nil
	}
	if err != nil {
		return &usageError{err}
	}
	if strings.TrimSpace(out) == "" {
		return &usageError{&FieldError{Field: "--out", Msg: "name the directory to write the backup into"}}
	}
	log, err := newLogger(stderr, cfg.LogLevel, resolveLogFormat(cfg.LogFormat, stderr))
	if err != nil {
		return &usageError{err}
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, store.MainFile)); err != nil {
		return fmt.Errorf("backup: no %s in the data dir %s: nothing to back up (backup copies the SQLite store)", store.MainFile, cfg.DataDir)
	}
	key, _, err := LoadMasterKey(cfg, log, rand.Reader)
	if err != nil {
		return err
	}
	db, err := store.New(store.Options{Dir: cfg.DataDir, MasterKey: key, Log: log})
	clear(key)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := db.Open(ctx); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	berr := db.Backup(ctx, out)
	if err := errors.Join(berr, db.Close()); err != nil {
		return err
	}
	log.Info().Str("dir", out).Msg("backup written: store keys.db apart from switchboard.db, and keep it 30 days at most")
	fmt.Fprintf(stdout, "%s\n%s\n", filepath.Join(out, store.MainFile), filepath.Join(out, store.KeysFile))
	return nil
}
