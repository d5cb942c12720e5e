//go:build !pendingmerge

package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
)

// openStore is replaced by wire_deps.go once the store branch is merged.
func openStore(ctx context.Context, cfg Config, key []byte, log zerolog.Logger, health *Health) (storeDB, error) {
	return nil, errors.New("store not merged yet")
}
