package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/store"
)

// openStore builds and opens the SQLite store in the data dir and reports it
// on health.
func openStore(ctx context.Context, cfg Config, key []byte, log zerolog.Logger, health *Health) (storeDB, error) {
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
